"""The setting's own tablet goes back into its slot from the panel (issue 14's stock button).

A tablet goes away for repair: the manager releases its slot and it is taken
out, so the setting slot is free. When it comes back she presses "Open to put
the setting's tablet in" on the status page, types her password again as the
panel asks, and the slot opens; the tablet goes in, the door shuts and the
slot holds it. On a desktop and on a phone, on a demo of its own (the other
browser tests count on the demo's setting slots being stocked).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.demo import PASSWORD, Demo, log_in
from web.words import STOCK_WORDS

#: The demo's two setting slots ("Tablet 1" and "Tablet 2"), and the screen each is played on.
SCREENS = {19: {"width": 1280, "height": 900}, 20: {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def stock_demo(tmp_path_factory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("stock-demo"))
    yield running
    running.stop()


@pytest.fixture(params=sorted(SCREENS), ids=["desktop", "phone"])
def screen(request, browser: Browser, stock_demo: Demo) -> Iterator[tuple[Page, int]]:
    number = request.param
    context = browser.new_context(base_url=stock_demo.url, viewport=SCREENS[number])
    context.set_default_timeout(20_000)
    opened = context.new_page()
    log_in(opened)
    yield opened, number
    context.close()


def sim_move(page: Page, testid: str) -> None:
    """Press a simulator button and wait for its answer."""
    page.get_by_test_id(testid).click()
    expect(page.locator("#sim")).to_have_attribute("aria-busy", "false")


def send_for_repair(page: Page, number: int) -> None:
    """Release the setting slot and take its tablet out: the slot is free."""
    page.goto("/")
    page.get_by_test_id(f"slot-{number}-release").click()
    page.get_by_test_id("release-slot-reason").fill("tablet going for repair")
    page.get_by_test_id("release-slot-password").fill(PASSWORD)
    page.get_by_test_id("release-slot-submit").click()
    expect(page.get_by_test_id("flash-success")).to_contain_text(f"Slot {number} is open")
    page.goto("/sim")
    sim_move(page, f"sim-device-out-{number}")
    sim_move(page, f"sim-door-close-{number}")
    expect(page.get_by_test_id(f"sim-state-{number}")).to_have_text("Free")


def test_the_stock_button_opens_a_free_setting_slot_for_its_tablet(screen):
    page, number = screen
    send_for_repair(page, number)

    page.goto("/")
    button = page.get_by_test_id(f"slot-{number}-stock")
    expect(button).to_have_text(STOCK_WORDS)
    expect(page.locator("#slot-grid")).not_to_contain_text("setting_")
    button.click()
    expect(page.get_by_test_id("stock-slot")).to_have_value(str(number))
    # The panel asks for the password again; a wrong one opens nothing and says so there.
    page.get_by_test_id("stock-password").fill("not my password")
    page.get_by_test_id("stock-submit").click()
    error = page.get_by_test_id("stock-password-error")
    expect(error).to_contain_text("not your password")
    expect(error).to_be_in_viewport()
    page.get_by_test_id("stock-password").fill(PASSWORD)
    page.get_by_test_id("stock-submit").click()
    expect(page.get_by_test_id("flash-success")).to_have_text(
        f"Slot {number} is open: put the setting's device in and close the door."
    )
    expect(page.get_by_test_id(f"slot-{number}-state")).to_have_text(
        "Open for a device to go in · stocking"
    )

    # The sprung door popped open: the tablet goes in and the door shuts.
    page.goto("/sim")
    expect(page.get_by_test_id(f"sim-door-{number}")).to_have_text("open")
    sim_move(page, f"sim-device-in-{number}")
    sim_move(page, f"sim-door-close-{number}")
    message = page.get_by_test_id("sim-message")
    expect(message).to_contain_text(
        f"Slot {number}: door closed. The device is in slot {number}: the slot locked."
    )
    # Said where the eye is: the button pressed is far down the bank.
    expect(message).to_be_in_viewport()
    page.goto("/")
    expect(page.get_by_test_id(f"slot-{number}-state")).to_have_text("Device locked in")
    expect(page.get_by_test_id(f"slot-{number}-stock")).to_have_count(0)
