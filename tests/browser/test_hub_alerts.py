"""The hub's open alerts, paged by site, in Debian's chromium: a group of 60 sites,
every one silent (an offline alert each), on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Page

from hub.accounts import add_account, add_site
from hub.alerts import sweep_offline
from hub.db import HubDatabase
from hub.pages import ALERT_SITES_PAGE
from locker.clock import SimulatedClock
from tests.support.hub import PASSWORD, log_in_browser, serving, start_cluster, utc

SITES = [f"site-{n:02d}" for n in range(1, ALERT_SITES_PAGE + 11)]
#: The area manager's sites: fewer than a page.
HERS = SITES[3:8]


@pytest.fixture(scope="module")
def hub_url() -> Iterator[str]:
    cluster = start_cluster()
    db = HubDatabase(cluster.create_database("hub_alerts"))
    db.migrate()
    clock = SimulatedClock(utc("2026-03-02T07:00"))
    hasher = pytest.MonkeyPatch()
    hasher.setattr("locker.accounts._hasher", PasswordHasher(1, 8, 1))  # cheap, still argon2id
    try:
        with db.session() as s:
            for name in SITES:
                add_site(s, name, clock.now())
            add_account(s, "gina", "group_admin", PASSWORD, [], clock.now())
            add_account(s, "arthur", "area_manager", PASSWORD, HERS, clock.now())
        clock.advance(3 * 3600)  # every site silent for three hours
        with db.session() as s:
            assert sweep_offline(s, clock.now(), timedelta(minutes=10)) == len(SITES)
        with serving(db, clock) as server:
            yield server.url
    finally:
        hasher.undo()
        db.dispose()
        cluster.stop()


def sites_listed(page: Page) -> list[str]:
    return [
        row.locator("td").first.inner_text()
        for row in page.locator("[data-testid=alerts] tbody tr").all()
    ]


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=str
)
def test_a_group_admin_pages_through_every_sites_alerts(browser, hub_url, viewport):
    page = log_in_browser(browser, hub_url, "gina", PASSWORD, viewport)
    try:
        page.goto("/alerts")
        assert sites_listed(page) == SITES[:ALERT_SITES_PAGE]
        assert page.locator("text=First sites").count() == 0
        more = page.get_by_test_id("more-alerts")
        more.scroll_into_view_if_needed()
        more.click()
        page.wait_for_url(f"{hub_url}/alerts?after={SITES[ALERT_SITES_PAGE - 1]}")
        assert sites_listed(page) == SITES[ALERT_SITES_PAGE:]
        assert page.get_by_test_id("more-alerts").count() == 0
        page.click("text=First sites")
        page.wait_for_url(f"{hub_url}/alerts")
        assert sites_listed(page)[0] == SITES[0]
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page is {width} px wide"
    finally:
        page.context.close()


def test_an_area_manager_sees_only_her_sites_alerts_on_one_page(browser, hub_url):
    page = log_in_browser(browser, hub_url, "arthur", PASSWORD, {"width": 390, "height": 844})
    try:
        page.goto("/alerts")
        assert sites_listed(page) == HERS
        assert page.get_by_test_id("more-alerts").count() == 0
    finally:
        page.context.close()
