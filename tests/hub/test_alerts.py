"""Hub alerts: a silent site goes offline, a broken chain shows across sites."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.alerts import sweep_offline
from tests.support.hub import send


def test_a_silent_site_goes_offline_and_comes_back(hub_app, hub_db, sites, hub_accounts, clock):
    client = hub_app.test_client()
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    assert send(client, sites["oak"], "/api/ingest/status", {"alerts": []}).status_code == 204
    clock.advance(599)
    with hub_db.session() as s:
        assert sweep_offline(s, clock.now(), timedelta(seconds=600)) == 0
    oak = next(r for r in client.get("/api/sites", headers=admin).json if r["name"] == "oak")
    assert oak["online"] is True
    clock.advance(2)
    with hub_db.session() as s:
        assert sweep_offline(s, clock.now(), timedelta(seconds=600)) == 2
        sweep_offline(s, clock.now(), timedelta(seconds=600))  # the same alert, not a second
    oak = next(r for r in client.get("/api/sites", headers=admin).json if r["name"] == "oak")
    assert oak["online"] is False
    page = client.get("/alerts", headers=admin).get_data(as_text=True)
    assert page.count("oak has not been heard from since 2026-03-02 07:00 UTC") == 1
    assert send(client, sites["oak"], "/api/ingest/status", {"alerts": []}).status_code == 204
    page = client.get("/alerts", headers=admin).get_data(as_text=True)
    assert "oak has not been heard from" not in page
    assert "elm has not been heard from" in page


def test_a_refused_batch_shows_on_the_alerts_and_sites_pages(
    hub_app, sites, hub_accounts, site_factory
):
    from locker.shipping import next_batch

    site = site_factory("oak")
    site.log(3)
    with site.db.read() as session:
        batch = next_batch(session, 0, 10)
    batch["events"][0]["prev_hash"] = "f" * 64
    client = hub_app.test_client()
    assert send(client, sites["oak"], "/api/ingest/events", batch).status_code == 409
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    alerts = client.get("/alerts", headers=admin).get_data(as_text=True)
    assert "site&#39;s log does not continue its history" in alerts
    listing = {r["name"]: r["chain_ok"] for r in client.get("/api/sites", headers=admin).json}
    assert listing == {"elm": True, "oak": False}
    page = client.get("/", headers=admin).get_data(as_text=True)
    assert "does not continue its history" in page


def test_a_status_snapshot_must_be_an_object(hub_app, sites):
    answer = send(hub_app.test_client(), sites["oak"], "/api/ingest/status", [1, 2])
    assert answer.status_code == 400
    assert answer.json == {"error": "a status snapshot is a JSON object"}


def test_open_alerts_page_by_site_name_for_what_the_account_may_see(
    hub_app, hub_db, hub_accounts, sites, clock, monkeypatch
):
    from hub.accounts import add_site
    from hub.alerts import open_alert
    from hub.models import Site

    with hub_db.session() as s:
        tokens = {f"ash{i}": add_site(s, f"ash{i}", clock.now()) for i in range(5)}
        ash4 = s.scalar(select(Site.id).where(Site.name == "ash4"))
        open_alert(s, ash4, "chain", "ash4's log does not continue", clock.now())
    client = hub_app.test_client()
    reported = {"alerts": [{"kind": "overdue", "message": "late", "safety": True}]}
    for name in ("ash1", "ash2", "ash3", "oak"):
        token = tokens.get(name) or sites[name]
        assert send(client, token, "/api/ingest/status", reported).status_code == 204
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    first = client.get("/api/alerts?limit=2", headers=admin).json
    # ash0 has nothing open: the page is ash1 and ash2, and the next one starts after ash2.
    assert [a["site"] for a in first["alerts"]] == ["ash1", "ash2"] and first["next"] == "ash2"
    rest = client.get("/api/alerts?limit=2&after=ash2", headers=admin).json
    assert [(a["site"], a["kind"]) for a in rest["alerts"]] == [
        ("ash3", "overdue"),
        ("ash4", "log does not continue"),
    ]
    last = client.get("/api/alerts?limit=2&after=ash4", headers=admin).json
    assert [a["site"] for a in last["alerts"]] == ["oak"] and last["next"] is None
    area = {"Authorization": f"Bearer {hub_accounts['arthur']}"}
    assert [a["site"] for a in client.get("/api/alerts", headers=area).json["alerts"]] == ["oak"]
    bad = client.get("/api/alerts?limit=0", headers=admin)
    assert bad.status_code == 400 and "limit must be from 1" in bad.json["error"]
    monkeypatch.setattr("hub.pages.ALERT_SITES_PAGE", 3)
    page = client.get("/alerts", headers=admin).get_data(as_text=True)
    assert "ash3" in page and "ash4" not in page and "after=ash3" in page
    turned = client.get("/alerts?after=ash3", headers=admin).get_data(as_text=True)
    assert "ash4" in turned and "oak" in turned and "More sites" not in turned
