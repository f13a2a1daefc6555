"""Who sees what: every hub route walked as an area manager, a group admin and nobody."""

from __future__ import annotations

import gzip
import json

import pytest

from locker.decisions import LogEntry
from locker.log import append
from locker.shipping import next_batch
from tests.support.hub import PASSWORD, log_in


def routes(app) -> list[tuple[str, str]]:
    """Every (method, rule) of the hub, with ``<name>`` standing for a site."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return found


SITE_ROUTES = {"api.ingest_head", "api.ingest_events", "api.ingest_status"}
PUBLIC = {"/login", "/api/healthz"}


def fill(rule: str, site: str) -> str:
    return rule.replace("<name>", site).replace("<int:alert_id>", "1")


@pytest.fixture
def shipped(hub_app, sites, site_factory):
    """Both sites have shipped events and a snapshot whose alert names their site."""
    client = hub_app.test_client()
    for name in ("oak", "elm"):
        site = site_factory(name)
        # Not a personal field (a note would ship as a commitment only), so it shows.
        site.log(4, marker=f"secret-of-{name}")
        with site.db.read() as session:
            batch = next_batch(session, 0, 100)
        auth = {"Authorization": f"Bearer {sites[name]}", "Content-Encoding": "gzip"}
        assert (
            client.post(
                "/api/ingest/events", data=gzip.compress(json.dumps(batch).encode()), headers=auth
            ).status_code
            == 200
        )
        snapshot = {
            "alerts": [{"kind": "overdue", "message": f"secret-of-{name} overdue", "safety": True}]
        }
        client.post(
            "/api/ingest/status", data=gzip.compress(json.dumps(snapshot).encode()), headers=auth
        )


def test_the_route_table_is_what_this_test_knows(hub_app):
    rules = {rule for _method, rule in routes(hub_app)}
    assert rules == {
        "/login",
        "/logout",
        "/",
        "/alerts",
        "/overrides",
        "/sites/<name>",
        "/api/healthz",
        "/api/ingest/head",
        "/api/ingest/events",
        "/api/ingest/status",
        "/api/sites",
        "/api/sites/<name>/events",
        "/api/alerts",
        "/sites/<name>/report",
        "/reports/week",
        "/reports/week.csv",
        "/alerts/<int:alert_id>/acknowledge",
    }


def test_an_area_manager_never_sees_another_sites_data(hub_app, hub_accounts, shipped):
    client = hub_app.test_client()
    token = {"Authorization": f"Bearer {hub_accounts['arthur']}"}
    for method, rule in routes(hub_app):
        if method != "GET" or rule in PUBLIC or rule.startswith("/api/ingest"):
            continue
        for site in ("elm", "oak"):
            answer = client.open(fill(rule, site), method=method, headers=token)
            text = answer.get_data(as_text=True)
            assert "secret-of-elm" not in text, (rule, site)
            assert "elm" not in text or answer.status_code == 404, (rule, site)
            if "<name>" in rule and site == "elm":
                assert answer.status_code == 404, rule
    own = client.get("/sites/oak", headers=token)
    assert "secret-of-oak" in own.get_data(as_text=True)
    listing = client.get("/api/sites", headers=token).json
    assert [row["name"] for row in listing] == ["oak"]
    filtered = client.get("/overrides?site=elm", headers=token)
    assert filtered.status_code == 404


def test_a_group_admin_sees_every_site(hub_app, hub_accounts, shipped):
    client = hub_app.test_client()
    token = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    assert [r["name"] for r in client.get("/api/sites", headers=token).json] == ["elm", "oak"]
    alerts = client.get("/alerts", headers=token).get_data(as_text=True)
    assert "secret-of-elm overdue" in alerts and "secret-of-oak overdue" in alerts
    events = client.get("/api/sites/elm/events?after_id=2&limit=1", headers=token).json
    assert [e["id"] for e in events] == [3]
    bad = client.get("/api/sites/elm/events?limit=many", headers=token)
    assert bad.status_code == 400 and "limit must be a whole number" in bad.json["error"]


def test_nobody_and_sites_cannot_read_the_group_views(hub_app, sites, hub_accounts):
    client = hub_app.test_client()
    site_token = {"Authorization": f"Bearer {sites['oak']}"}
    for method, rule in routes(hub_app):
        if rule in PUBLIC or rule.startswith("/api/ingest"):
            continue
        path = fill(rule, "oak")
        anonymous = client.open(path, method=method)
        assert anonymous.status_code in (302, 401), (method, rule)
        as_site = client.open(path, method=method, headers=site_token)
        assert as_site.status_code in (302, 401), (method, rule)
    account = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    assert client.get("/api/ingest/head", headers=account).status_code == 401


def test_login_by_the_page_with_its_csrf_token(hub_app, hub_accounts):
    client = hub_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    wrong = client.post("/login", data={"name": "arthur", "password": "nope", "csrf_token": csrf})
    assert wrong.status_code == 401
    no_csrf = client.post("/login", data={"name": "arthur", "password": PASSWORD})
    assert no_csrf.status_code == 400
    right = client.post("/login", data={"name": "arthur", "password": PASSWORD, "csrf_token": csrf})
    assert right.status_code == 302
    sites_page = client.get("/").get_data(as_text=True)
    assert 'data-site="oak"' in sites_page and 'data-site="elm"' not in sites_page
    forged = client.post("/logout")
    assert forged.status_code == 400


def test_wrong_passwords_are_throttled_as_on_the_panel(hub_app, hub_accounts, clock):
    client = hub_app.test_client()
    for _ in range(5):
        assert log_in(client, "arthur", "wrong").status_code == 401
    waiting = log_in(client, "arthur", PASSWORD)
    assert waiting.status_code == 429
    assert "too many wrong passwords" in waiting.get_data(as_text=True)
    clock.advance(31)
    assert log_in(client, "arthur", PASSWORD).status_code == 302


def test_an_idle_session_ends(hub_app, hub_accounts, clock):
    client = hub_app.test_client()
    assert log_in(client, "gina", PASSWORD).status_code == 302
    clock.advance(29 * 60)
    assert client.get("/").status_code == 200
    clock.advance(29 * 60)
    assert client.get("/").status_code == 200  # each request restarts the idle timer
    clock.advance(31 * 60)
    assert client.get("/").status_code == 302


def test_the_overrides_page_filters_by_site_kind_and_day_and_pages_by_keyset(
    hub_app, hub_accounts, sites, site_factory, monkeypatch
):
    client = hub_app.test_client()
    for name in ("oak", "elm"):
        site = site_factory(name)
        site.log(2)
        with site.db.write() as session:
            # A marker, not a note: a note ships only as a commitment to it (issue 17).
            entry = LogEntry(
                "release.grant",
                "manager",
                slot=1,
                person_id=7,
                details={"marker": f"dentist-{name}"},
            )
            append(session, entry, site.clock.now())
            session.commit()
        with site.db.read() as session:
            batch = next_batch(session, 0, 100)
        auth = {"Authorization": f"Bearer {sites[name]}", "Content-Encoding": "gzip"}
        body = gzip.compress(json.dumps(batch).encode())
        assert client.post("/api/ingest/events", data=body, headers=auth).status_code == 200
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    both = client.get("/overrides", headers=admin).get_data(as_text=True)
    assert "dentist-oak" in both and "dentist-elm" in both
    one = client.get("/overrides?site=elm&kind=release.grant", headers=admin).get_data(as_text=True)
    assert "dentist-elm" in one and "dentist-oak" not in one
    none = client.get("/overrides?kind=grant.created", headers=admin).get_data(as_text=True)
    assert "dentist" not in none and "No overrides match." in none
    later = client.get("/overrides?since=2026-03-03", headers=admin).get_data(as_text=True)
    assert "dentist" not in later
    bad = client.get("/overrides?kind=door.opened", headers=admin)
    assert bad.status_code == 400 and "kind must be one of" in bad.get_data(as_text=True)
    bad_day = client.get("/overrides?since=Tuesday", headers=admin)
    assert bad_day.status_code == 400 and "since must be a date" in bad_day.get_data(as_text=True)
    monkeypatch.setattr("hub.pages.OVERRIDES_PAGE", 1)
    first = client.get("/overrides", headers=admin).get_data(as_text=True)
    assert first.count("dentist-") == 1 and "Older overrides" in first
    link = first.split('data-testid="older-overrides" href="')[1].split('"')[0]
    second = client.get(link.replace("&amp;", "&"), headers=admin).get_data(as_text=True)
    assert second.count("dentist-") == 1 and "Older overrides" not in second
    assert {first.split("dentist-")[1][:3], second.split("dentist-")[1][:3]} == {"oak", "elm"}
    bad_key = client.get("/overrides?before=yesterday", headers=admin)
    assert bad_key.status_code == 400 and "before must be" in bad_key.get_data(as_text=True)


def test_the_sites_list_pages_by_name_for_what_the_account_may_see(
    hub_app, hub_db, hub_accounts, clock, monkeypatch
):
    from hub.accounts import add_site

    with hub_db.session() as s:
        for i in range(5):
            add_site(s, f"ash{i}", clock.now())
    client = hub_app.test_client()
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    first = client.get("/api/sites?limit=3", headers=admin).json
    assert [r["name"] for r in first] == ["ash0", "ash1", "ash2"]
    rest = client.get("/api/sites?limit=3&after=ash2", headers=admin).json
    assert [r["name"] for r in rest] == ["ash3", "ash4", "elm"]
    area = {"Authorization": f"Bearer {hub_accounts['arthur']}"}
    assert [r["name"] for r in client.get("/api/sites?after=a", headers=area).json] == ["oak"]
    monkeypatch.setattr("hub.pages.SITES_PAGE", 4)
    page = client.get("/", headers=admin).get_data(as_text=True)
    assert "ash3" in page and "elm" not in page and "after=ash3" in page
    last = client.get("/?after=ash3", headers=admin).get_data(as_text=True)
    assert "ash4" in last and "oak" in last and "More sites" not in last


def test_deactivating_an_account_ends_its_browser_session(hub_app, hub_db, hub_accounts, clock):
    from hub.accounts import set_active

    client = hub_app.test_client()
    assert log_in(client, "gina", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    with hub_db.session() as s:
        set_active(s, "gina", False, clock.now())
    assert client.get("/").status_code == 302
    with hub_db.session() as s:
        set_active(s, "gina", True, clock.now())
    assert client.get("/").status_code == 302  # the ended session stays ended
    assert log_in(client, "gina", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
