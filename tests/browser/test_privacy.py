"""Forgetting a leaver in the panel: confirmation, the password again, on a desktop and a phone.

A demo of its own, since forgetting somebody cannot be undone and the other
browser tests use the demo's people.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.demo import PASSWORD, Demo, log_in
from web.words import PRIVACY_WORDS

#: (person, their badge, viewport): one leaver forgotten at each size.
LEAVERS = [
    ("Aisha Khan", "A4B5C6D7", {"width": 1280, "height": 900}),
    ("Megan Hall", "C6D7E8F9", {"width": 390, "height": 844}),
]


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("privacy"))
    yield running
    running.stop()


def _page(browser: Browser, demo: Demo, viewport: dict) -> Page:
    context = browser.new_context(base_url=demo.url, viewport=viewport)
    context.set_default_timeout(10_000)
    return context.new_page()


def _fits(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    scroll, width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= width


@pytest.mark.parametrize(("name", "uid", "viewport"), LEAVERS, ids=["desktop", "phone"])
def test_forget_a_leaver_with_confirmation_and_the_password_again(
    browser: Browser, own_demo: Demo, name: str, uid: str, viewport: dict
):
    page = _page(browser, own_demo, viewport)
    try:
        log_in(page)
        page.goto("/people")
        page.locator(f"tr:has-text('{name}') [data-testid^=privacy-]").click()
        expect(page.get_by_test_id("privacy-name")).to_have_text(name)
        expect(page.get_by_test_id("privacy-export")).to_have_text(PRIVACY_WORDS["export"])
        _fits(page)
        page.get_by_test_id("privacy-forget").click()
        expect(page.locator("h1")).to_have_text(f"Forget {name}?")
        _fits(page)

        # Not ticked: refused, nothing erased.
        page.get_by_test_id("forget-password").fill(PASSWORD)
        page.get_by_test_id("forget-submit").click()
        expect(page.get_by_test_id("forget-error")).to_have_text(PRIVACY_WORDS["tick_to_confirm"])

        # Ticked, but a wrong password: refused.
        page.get_by_test_id("forget-confirm-box").check()
        page.get_by_test_id("forget-password").fill("not-the-password")
        page.get_by_test_id("forget-submit").click()
        expect(page.get_by_test_id("forget-error")).to_have_text(PRIVACY_WORDS["password_wrong"])
        _fits(page)

        # Ticked and the password typed again: forgotten.
        page.get_by_test_id("forget-confirm-box").check()
        page.get_by_test_id("forget-password").fill(PASSWORD)
        page.get_by_test_id("forget-submit").click()
        page.wait_for_url("**/people")
        expect(page.get_by_test_id("flash-success")).to_contain_text(f"{name} is forgotten")
        table = page.get_by_test_id("people-table")
        expect(table).not_to_contain_text(name)
        expect(table).not_to_contain_text(uid)
        expect(table).to_contain_text("Former staff #")

        page.goto("/log")
        expect(page.locator("main")).not_to_contain_text(name)
        expect(page.locator("main")).not_to_contain_text(uid)
    finally:
        page.context.close()
