"""Every page on a manager's phone: it fits, says where you are, and passes axe-core.

A demo of its own plays a busy morning first (:mod:`tests.support.busy_day`),
so each page has its full set of rows: slots in every state, alerts, overrides.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from locker import events as ev
from locker.commands import CommandKind
from locker.states import SlotState
from tests.support.busy_day import ACCOUNTS, play_busy_morning
from tests.support.demo import PASSWORD, USER, Demo
from web.words import EVENT_WORDS, REASON_WORDS, VIEWED_WORDS

PHONES = {"360x740": (360, 740), "390x844": (390, 844)}
#: Pages every account sees, by their menu entry's test id.
COMMON = {
    "/": "nav-status",
    "/log": "nav-log",
    "/log/overrides": "nav-overrides",
    "/report": "nav-report",
    "/people": "nav-people",
    "/rota": "nav-rota",
    "/sim": "nav-sim",
}
#: Pages only a manager (or admin) sees.
MANAGING = {
    "/actions": "nav-actions",
    "/people/3/edit": "nav-people",
    "/people/3/enrol": "nav-people",
}
PAGES = {
    "manager": {**COMMON, **MANAGING},
    "viewer": COMMON,
    "admin": {"/accounts": "nav-accounts"},
}
LOGINS = {"manager": (USER, PASSWORD), **ACCOUNTS}
#: axe-core impacts a page may not have.
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def busy_demo(tmp_path_factory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("busy")
    running = Demo(data_dir)
    try:
        play_busy_morning(running.url, data_dir)
        yield running
    finally:
        running.stop()


def phone_page(browser: Browser, demo: Demo, size: str, role: str) -> Page:
    """A new phone-sized page logged in as ``role``."""
    width, height = PHONES[size]
    context = browser.new_context(
        base_url=demo.url,
        viewport={"width": width, "height": height},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    name, password = LOGINS[role]
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    return page


def cases() -> list[tuple[str, str, str, str]]:
    return [
        (size, role, path, nav)
        for size in PHONES
        for role, pages in PAGES.items()
        for path, nav in pages.items()
    ]


@pytest.mark.parametrize(("size", "role", "path", "nav"), cases())
def test_a_page_fits_a_phone_and_passes_axe(busy_demo, browser, size, role, path, nav):
    page = phone_page(browser, busy_demo, size, role)
    try:
        page.goto(path)
        width = PHONES[size][0]
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} is {scroll_width} px wide on a {width} px screen"
        active = page.get_by_test_id(nav)
        expect(active).to_have_attribute("aria-current", "page")
        expect(active).to_be_visible()
        box = active.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        results = Axe().run(page)
        bad = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
        assert not bad, results.generate_report()
    finally:
        page.context.close()


def test_a_wrong_password_on_release_all_moves_focus_to_a_visible_error(busy_demo, browser):
    page = phone_page(browser, busy_demo, "390x844", "manager")
    try:
        page.goto("/actions")
        page.get_by_test_id("release-all-reason").fill("fire alarm")
        page.get_by_test_id("release-all-confirm").check()
        page.get_by_test_id("release-all-password").fill("not my password")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("release-all-submit").click()
        page.wait_for_load_state()
        error = page.get_by_test_id("release-all-password-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("not your password")
        expect(error).to_be_in_viewport()
        focused = page.evaluate("document.activeElement.dataset.testid || ''")
        assert focused in ("release-all-password", "release-all-password-error", "form-errors")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", PHONES)
@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_the_bank_starts_on_the_first_screen_under_the_safety_alerts(
    busy_demo, browser, size, role
):
    page = phone_page(browser, busy_demo, size, role)
    try:
        page.goto("/")
        height = PHONES[size][1]
        safety = page.locator("#alert-list > li.severity-safety")
        expect(safety.first).to_be_visible()
        others = page.get_by_test_id("other-alerts-summary")
        expect(others).to_contain_text("other alerts")
        expect(others).to_contain_text("On shift, no device deposited (")
        # The operational alerts are folded into that line on a phone; a tap opens them.
        expect(page.get_by_test_id("group-no_deposit")).to_be_hidden()
        # The first row of the bank, its bottom edge included, is on the first screen,
        # below the safety alerts.
        cards = page.locator("#slot-grid > li")
        top = cards.first.bounding_box()["y"]
        row = [
            box
            for box in (cards.nth(i).bounding_box() for i in range(cards.count()))
            if abs(box["y"] - top) < 1
        ]
        assert len(row) >= 2, "a phone shows two slots a row"
        bottom = max(box["y"] + box["height"] for box in row)
        assert bottom <= height, f"the bank's first row ends at {bottom:.0f} px of {height}"
        last_safety = safety.last.bounding_box()
        assert last_safety["y"] + last_safety["height"] <= top
        others.click()
        expect(page.get_by_test_id("group-no_deposit")).to_be_visible()
    finally:
        page.context.close()


def internal_codes() -> set[str]:
    """Every code the product defines that a person should never have to read.

    Derived from the code itself: event kinds, alert kinds, slot states, grant
    reasons and command kinds. Codes that are plain words already (``held``,
    ``outing``) are no secret; the ones with a dot or an underscore are.
    """
    codes = {
        *ev.ALL_KINDS,
        *ev.ALERT_KINDS,
        *ev.GRANT_REASONS,
        *(state.value for state in SlotState),
        *(kind.value for kind in CommandKind),
        *REASON_WORDS,
        *VIEWED_WORDS,
    }
    return {code for code in codes if "." in code or "_" in code}


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_no_page_shows_an_internal_code(busy_demo, browser, role):
    codes = internal_codes()
    assert {"release.grant", "open_for_release", "approval.on_the_spot", "api_events"} <= codes
    page = phone_page(browser, busy_demo, "390x844", role)
    try:
        for path in PAGES[role]:
            page.goto(path)
            text = page.inner_text("body")
            shown = sorted(
                c for c in codes if re.search(rf"(?<![\w.]){re.escape(c)}(?![\w])", text)
            )
            assert not shown, f"{path} shows {shown}"
    finally:
        page.context.close()


def test_the_simulators_latest_events_are_in_words(busy_demo, browser):
    page = phone_page(browser, busy_demo, "390x844", "manager")
    try:
        page.goto("/sim")
        lines = page.locator("#sim-log > li")
        expect(lines.first).to_be_visible()
        texts = lines.all_inner_texts()
        assert len(texts) >= 10
        for text in texts:
            # "11:51:02 Badge refused — Emily Clarke, slot 1: …" after its time.
            what = re.sub(r"^\d\d:\d\d:\d\d (\(real time\) )?", "", text)
            assert what.startswith(tuple(EVENT_WORDS.values())), text
        logins = [t for t in texts if t.split(" ", 1)[1].startswith("(real time) ")]
        assert logins and all(EVENT_WORDS[ev.AUTH_LOGIN] in t for t in logins)
    finally:
        page.context.close()
