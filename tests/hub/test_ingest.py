"""Ingest: verified on arrival, stored once, a rewritten log refused and alerted."""

from __future__ import annotations

import gzip
import json

from sqlalchemy import func, select, update

from hub.models import HubAlert, SiteEvent
from locker.log import event_hash, hash_of
from locker.models import Event
from locker.shipping import next_batch


def post(client, token, batch, *, compress=True):
    body = json.dumps(batch).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post("/api/ingest/events", data=body, headers=headers)


def batch_of(site, after=0, limit=10_000):
    with site.db.read() as session:
        return next_batch(session, after, limit)


def stored(hub_db, name=None):
    with hub_db.session() as s:
        return s.scalar(select(func.count()).select_from(SiteEvent))


def open_alerts(hub_db, kind):
    with hub_db.session() as s:
        return s.scalars(
            select(HubAlert.message).where(HubAlert.kind == kind, HubAlert.resolved_at.is_(None))
        ).all()


def test_a_batch_is_stored_and_the_same_batch_twice_stores_nothing_twice(
    hub_app, hub_db, sites, site_factory
):
    site = site_factory("oak")
    site.log(50)
    client = hub_app.test_client()
    first = post(client, sites["oak"], batch_of(site))
    assert first.status_code == 200, first.json
    assert first.json["stored"] == 50
    assert first.json["head"] == {"id": 50, "hash": site.head()[1]}
    again = post(client, sites["oak"], batch_of(site))
    assert again.status_code == 200
    assert again.json == {**first.json, "stored": 0, "duplicates": 50}
    assert stored(hub_db) == 50
    # An overlapping batch stores only what is new.
    site.log(5)
    overlap = post(client, sites["oak"], batch_of(site, after=45))
    assert (overlap.json["stored"], overlap.json["duplicates"]) == (5, 5)
    assert stored(hub_db) == 55


def test_a_rewritten_rehashed_log_is_refused_and_alerted(hub_app, hub_db, sites, site_factory):
    site = site_factory("oak")
    site.log(20)
    client = hub_app.test_client()
    assert post(client, sites["oak"], batch_of(site)).status_code == 200
    # Someone with the SD card edits event 5 and rehashes the whole chain after it,
    # so that `locker log verify` on the Pi finds nothing wrong.
    with site.db.write() as session:
        rows = session.scalars(select(Event).order_by(Event.id)).all()
        rows[4].details = json.dumps({"note": "nothing happened"})
        for before, event in zip(rows[3:], rows[4:], strict=False):
            event.prev_hash = before.hash
            event.hash = hash_of(event)
        session.commit()
    site.log(3)
    refused = post(client, sites["oak"], batch_of(site, after=20))
    assert refused.status_code == 409
    assert "site's log does not continue its history" in refused.json["error"]
    assert "event 21 does not follow the hub's event 20" in refused.json["error"]
    resent = post(client, sites["oak"], batch_of(site, after=0))
    assert resent.status_code == 409
    assert "event 5 differs from the copy the hub stored" in resent.json["error"]
    assert stored(hub_db) == 20
    assert len(open_alerts(hub_db, "chain")) == 1
    token = client.get("/api/sites", headers={"Authorization": "Bearer nobody"})
    assert token.status_code == 401


def test_a_hash_that_does_not_recompute_is_refused(hub_app, hub_db, sites, site_factory):
    site = site_factory("oak")
    site.log(5)
    batch = batch_of(site)
    batch["events"][2]["actor"] = "someone else"
    answer = post(hub_app.test_client(), sites["oak"], batch)
    assert answer.status_code == 409
    assert "event 3's hash does not recompute" in answer.json["error"]
    assert stored(hub_db) == 0
    assert open_alerts(hub_db, "chain")


def test_a_card_number_never_leaves_the_site(hub_app, hub_db, sites, site_factory):
    site = site_factory("oak")
    site.log(2)
    site.log(1, uid="04a1b2c3d4")
    batch = batch_of(site)
    assert "04a1b2c3d4" not in json.dumps(batch)
    assert batch["events"][2] == {**batch["events"][2], "details": None, "sealed": True}
    assert post(hub_app.test_client(), sites["oak"], batch).status_code == 200
    with hub_db.session() as s:
        assert s.scalar(select(SiteEvent.details).where(SiteEvent.seq == 3)) is None


def test_a_purge_of_unshipped_events_is_a_gap_not_a_broken_chain(
    hub_app, hub_db, sites, site_factory, clock
):
    from locker.log import purge_before, write_checkpoint

    site = site_factory("oak")
    site.log(10)
    client = hub_app.test_client()
    assert post(client, sites["oak"], batch_of(site, limit=4)).status_code == 200
    with site.db.write() as session:
        write_checkpoint(session, clock.now())
        session.commit()
    site.log(3)
    with site.db.write() as session:
        # Up to the daily checkpoint's head (event 10), not its own log.checkpoint event.
        assert purge_before(session, clock.now(), clock.now(), "test") == 10
        session.commit()
    batch = batch_of(site, after=4)
    assert batch["purged_through"]["id"] == 10
    without_anchor = {"events": batch["events"]}
    assert post(client, sites["oak"], without_anchor).status_code == 409
    answer = post(client, sites["oak"], batch)
    assert answer.status_code == 200, answer.json
    assert open_alerts(hub_db, "gap") == [
        "6 events were purged at the site before they reached the hub (ids 5 to 10)"
    ]


def test_bad_batches_get_a_clear_error(hub_app, sites):
    client = hub_app.test_client()
    auth = {"Authorization": f"Bearer {sites['oak']}", "Content-Encoding": "gzip"}
    not_gzip = client.post("/api/ingest/events", data=b"{}", headers=auth)
    assert not_gzip.status_code == 400
    assert "not gzip" in not_gzip.json["error"]
    not_json = client.post("/api/ingest/events", data=gzip.compress(b"{nope"), headers=auth)
    assert "not JSON" in not_json.json["error"]
    shapes = [
        ({}, 'a JSON object with an "events" list'),
        ({"events": [{"id": "1"}]}, "events[0]"),
        ({"events": [{"id": 1, "ts": "yesterday"}]}, "events[0]"),
    ]
    for batch, words in shapes:
        answer = post(client, sites["oak"], batch)
        assert answer.status_code == 400
        assert words in answer.json["error"]
    nobody = client.post("/api/ingest/events", data=b"{}")
    assert nobody.status_code == 401


def test_a_site_token_cannot_write_as_another_site(hub_app, hub_db, sites, site_factory):
    oak = site_factory("oak")
    oak.log(3)
    client = hub_app.test_client()
    assert post(client, sites["elm"], batch_of(oak)).status_code == 200
    with hub_db.session() as s:
        s.execute(update(SiteEvent).values(actor="x").where(SiteEvent.seq == 0))
    head = client.get("/api/ingest/head", headers={"Authorization": f"Bearer {sites['oak']}"})
    assert head.json["id"] == 0  # oak's own chain is untouched: elm's token wrote to elm


def test_checkpoints_and_purges_must_name_the_chains_own_events(
    hub_app, hub_db, sites, site_factory, clock
):
    from locker.log import write_checkpoint

    site = site_factory("oak")
    site.log(6)
    client = hub_app.test_client()
    assert post(client, sites["oak"], batch_of(site)).status_code == 200
    with site.db.write() as session:
        write_checkpoint(session, clock.now())
        session.commit()
    honest = batch_of(site, after=6)
    assert json.loads(honest["events"][0]["details"])["event_id"] == 6
    # A checkpoint naming event 6 with another hash, rehashed so that it recomputes.
    forged = json.loads(json.dumps(honest))
    event = forged["events"][0]
    event["details"] = json.dumps({"event_id": 6, "hash": "a" * 64}, separators=(",", ":"))
    event["hash"] = event_hash(**{k: event[k] for k in event if k != "hash"})
    refused = post(client, sites["oak"], forged)
    assert refused.status_code == 409
    assert "event 7 names event 6 with another hash than the chain's" in refused.json["error"]
    assert post(client, sites["oak"], honest).status_code == 200
