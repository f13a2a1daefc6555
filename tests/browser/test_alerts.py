"""Alerts in the browser: operational alerts of one kind as one line that opens to the
list (folded on a phone into the line of other alerts), Acknowledge all of this kind,
and the bank on a phone's first screen.

Its own demo: moving the clock on would change what the other browser tests see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.demo import Demo, log_in


@pytest.fixture(scope="module")
def alerts_demo(tmp_path_factory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("alerts-demo"))
    yield running
    running.stop()


@pytest.fixture
def phone(browser: Browser, alerts_demo: Demo) -> Iterator[Page]:
    context = browser.new_context(base_url=alerts_demo.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()


def test_no_deposit_alerts_are_one_line_and_acknowledged_together(phone: Page):
    log_in(phone)
    phone.goto("/sim")
    phone.get_by_test_id("sim-advance-3600").click()  # 08:50: the shifts began, nobody deposited
    expect(phone.locator("#sim")).to_have_attribute("aria-busy", "false")
    phone.goto("/")
    # On a phone the operational alerts fold into one line under the safety alerts.
    folded = phone.get_by_test_id("other-alerts-summary")
    expect(folded).to_contain_text("other alerts")
    group = phone.get_by_test_id("group-no_deposit")
    expect(group).to_be_hidden()
    # The bank starts on the first screen of a phone, alerts or not (test_phone.py checks
    # the bottom of its first row on a busy morning).
    assert phone.get_by_test_id("slot-grid").bounding_box()["y"] < 844 - 80
    folded.click()
    expect(group).to_be_visible()
    summary = phone.get_by_test_id("group-no_deposit-summary")
    expect(summary).to_contain_text("people on shift without a device: ")
    items = group.locator("li.alert")
    count = items.count()
    assert count >= 2
    expect(items.first).to_be_hidden()  # closed until opened
    summary.click()
    expect(items.first).to_be_visible()
    phone.get_by_test_id("ack-all-no_deposit").click()
    expect(phone.get_by_test_id("flash-success")).to_contain_text(f"{count} alerts acknowledged")
    expect(phone.get_by_test_id("group-no_deposit")).to_have_count(0)
