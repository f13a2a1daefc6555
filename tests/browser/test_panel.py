"""The manager's panel in a real browser, on a running simulated nursery."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in


def test_login_shows_the_locker_bank(page: Page):
    page.goto("/")
    assert "/login" in page.url  # the panel needs a login
    log_in(page)
    expect(page.get_by_role("heading", name="Locker bank")).to_be_visible()
    expect(page.locator("#slot-grid > li")).to_have_count(20)
    expect(page.get_by_test_id("slot-19-state")).to_contain_text("locked in")


def test_wrong_password_is_refused(page: Page):
    page.goto("/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.get_by_text("wrong user name or password", exact=False)).to_be_visible()
