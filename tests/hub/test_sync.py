"""The sync worker against a real hub on loopback: store-and-forward, nothing lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from hub.models import HubAlert, SiteEvent
from locker.models import Event
from locker_app.hub_sync import HubLink, HubUnreachable
from tests.support.hub import serving


def worker_for(site, url, token, clock):
    return site.worker(url, token)


def hub_copy(hub_db, site_token_name=None) -> list[tuple[int, str]]:
    with hub_db.session() as s:
        return [
            tuple(r)
            for r in s.execute(select(SiteEvent.seq, SiteEvent.hash).order_by(SiteEvent.seq))
        ]


def site_copy(site) -> list[tuple[int, str]]:
    with site.db.read() as session:
        return [tuple(r) for r in session.execute(select(Event.id, Event.hash).order_by(Event.id))]


def test_a_site_cut_off_for_a_week_catches_up_with_every_event_once(
    hub_db, sites, site_factory, clock
):
    site = site_factory("oak")
    with serving(hub_db, clock) as hub:
        worker = worker_for(site, hub.url, sites["oak"], clock)
        site.log(30)
        assert worker.run_once().shipped == 30
        url = hub.url
    # The link is down for a week: ~200 events a day pile up, every attempt fails.
    waits = []
    offline = worker_for(site, url, sites["oak"], clock)
    for _day in range(7):
        site.log(200, every=timedelta(minutes=7))
        waits.append(offline.step())
    assert waits == sorted(waits) and waits[-1] > waits[0]  # backing off
    with serving(hub_db, clock) as hub:
        report = worker_for(site, hub.url, sites["oak"], clock).run_once()
    assert report.shipped == 1400
    assert report.batches == 1  # 2,000 events a batch
    assert hub_copy(hub_db) == site_copy(site)


def test_a_hub_down_for_an_hour_loses_nothing(hub_db, sites, site_factory, clock):
    site = site_factory("elm")
    with serving(hub_db, clock) as hub:
        worker = worker_for(site, hub.url, sites["elm"], clock)
        site.log(10)
        worker.run_once()
        hub.stop()
        waited = 0.0
        while waited < 3600:
            site.log(1, every=timedelta(seconds=0))
            with pytest.raises(HubUnreachable):
                worker.run_once()
            wait = worker.step()
            clock.advance(wait)
            waited += wait
        assert worker.backoff_s == site.config.hub.max_backoff_s
        hub.start()  # the same port: the hub is back
        assert worker.step() == 10.0
        assert worker.backoff_s == 0
    assert hub_copy(hub_db) == site_copy(site)
    with hub_db.session() as s:
        assert s.scalar(select(func.count()).select_from(SiteEvent)) == len(site_copy(site))


def test_a_snapshot_goes_every_minute(hub_db, sites, site_factory, clock, hub_accounts):
    site = site_factory("oak")
    with serving(hub_db, clock) as hub:
        worker = worker_for(site, hub.url, sites["oak"], clock)
        assert worker.run_once().snapshot_sent
        clock.advance(30)
        assert not worker.run_once().snapshot_sent
        clock.advance(30)
        assert worker.run_once().snapshot_sent
        answer = HubLink(hub.url, hub_accounts["gina"]).call("GET", "/api/sites")
    oak = next(row for row in answer if row["name"] == "oak")
    assert oak["online"] is True
    assert oak["chain_ok"] is True
    elm = next(row for row in answer if row["name"] == "elm")
    assert (elm["online"], elm["last_seen"], elm["events"]) == (False, None, 0)


def test_a_log_cut_back_below_what_was_shipped_is_alerted(hub_db, sites, site_factory, clock):
    site = site_factory("oak")
    site.log(10)
    with serving(hub_db, clock) as hub:
        worker = worker_for(site, hub.url, sites["oak"], clock)
        worker.run_once()
        # An old backup put back: the newest four events are gone.
        with site.db.write() as session:
            session.execute(delete(Event).where(Event.id > 6))
            session.commit()
        clock.advance(60)
        worker.run_once()
    with hub_db.session() as s:
        messages = s.scalars(select(HubAlert.message)).all()
    assert messages == [
        "site's log does not continue its history: "
        "the site's newest event is 6, but it had shipped up to 10"
    ]
