"""Hub alerts: a silent site goes offline, a broken chain shows across sites."""

from __future__ import annotations

from datetime import timedelta

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
