"""The daily totals kept at ingest equal a recount from the stored events, and the
weekly report built from them equals the report recounted site by site."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.models import Site, SiteAlertSpan, SiteDayCount, SiteDayMinutes
from hub.totals import recount_site
from hub.week_report import group_week, group_week_recounted
from locker.log import purge_before, write_checkpoint
from locker.shipping import next_batch
from tests.support.hub import send, utc

MONDAY = utc("2026-03-02T00:00")  # Europe/London is on UTC then
DAYS = [(MONDAY + timedelta(days=d)).date().isoformat() for d in range(7)]


def a_busy_day(site, day: int) -> None:
    """Deposits, releases, overrides by two reasons, an alert acknowledged on even days
    (on odd days it stays open until the next day's resolution), a forced door, and
    every device taken home at the end of the shift."""
    t = MONDAY + timedelta(days=day)

    def at(hours, kind, person=None, slot=None, **details):
        site.log_at(t + timedelta(hours=hours), kind, person, slot, **details)

    at(8, "deposit.confirmed", 1, 1)
    at(8.5, "deposit.confirmed", 2, 2)
    at(10, "release.manager", 1, 1, reason="family")
    at(10.1, "slot.unlocked", 1, 1, reason="manager")
    at(10.2, "device.removed", 1, 1)
    at(10.5, "grant.created", 2, None, reason="medical", grant_id=day + 1, open_now=True)
    at(10.6, "release.grant", 2, 2, reason="medical", grant_id=day + 1)
    at(11, "alert.raised", 2, 2, alert="overdue", alert_id=10 * day + 1, message="late")
    if day % 2 == 0:
        at(11.4, "alert.acknowledged", 2, 2, alert="overdue", alert_id=10 * day + 1)
    else:
        at(26, "alert.resolved", 2, 2, alert="overdue", alert_id=10 * day + 1, why="back")
    at(13, "alert.raised", None, 3, alert="door_forced", alert_id=10 * day + 2, message="")
    # Every device goes home at the end of the day (the day report and the week
    # agree only when a device's day begins from the day before: see hub.totals).
    at(17, "release.shift_end", 2, 2)
    at(17.01, "slot.unlocked", 2, 2, reason="shift_end")
    at(17.02, "device.removed", 2, 2)


def week_snapshot() -> dict:
    shifts = [
        {
            "day": day,
            "id": person,
            "name": name,
            "start": utc(f"{day}T08:00").isoformat(),
            "end": utc(f"{day}T17:00").isoformat(),
            "breaks": [[utc(f"{day}T12:00").isoformat(), utc(f"{day}T12:30").isoformat()]],
        }
        for day in DAYS
        for person, name in ((1, "Ann"), (2, "Ben"))
    ]
    return {"timezone": "Europe/London", "shift_days": [DAYS[0], DAYS[-1]], "shifts": shifts}


def totals(hub_db) -> dict[str, list[tuple]]:
    """Every total the hub keeps, as plain rows (the time minutes were counted left out)."""
    with hub_db.session() as s:
        return {
            "counts": sorted(
                s.execute(
                    select(
                        SiteDayCount.site_id, SiteDayCount.day, SiteDayCount.measure
                    ).add_columns(SiteDayCount.key, SiteDayCount.n)
                ).all()
            ),
            "spans": sorted(
                (a.site_id, a.seq, a.alert_id, a.kind, a.day, a.raised_at, a.ended_at)
                for a in s.scalars(select(SiteAlertSpan))
            ),
            "minutes": sorted(
                (m.site_id, m.day, m.on_shift, m.without_device)
                for m in s.scalars(select(SiteDayMinutes))
            ),
        }


def recounted(hub_db, now) -> dict[str, list[tuple]]:
    """The totals counted again from the stored events."""
    with hub_db.sessions() as s:
        for site in s.scalars(select(Site)):
            recount_site(s, site, now)
        s.commit()
    return totals(hub_db)


def ship(client, token, site, after=0, limit=10_000, *, snapshot=True):
    """Ship a batch, then (as the sync worker does) a snapshot, which counts the minutes
    of the days the batch touched."""
    with site.db.read() as session:
        batch = next_batch(session, after, limit)
    answer = send(client, token, "/api/ingest/events", batch)
    assert answer.status_code == 200, answer.json
    if snapshot:
        assert send(client, token, "/api/ingest/status", week_snapshot()).status_code == 204
    return batch


def busy_oak(hub_app, sites, site_factory, clock, *, days: int, ship_on_day: int):
    """oak with its rota at the hub and ``days`` busy days logged (not shipped yet), the
    clock moved on to ``ship_on_day`` days after the clock fixture's Monday; and a client."""
    oak = site_factory("oak")
    client = hub_app.test_client()
    assert send(client, sites["oak"], "/api/ingest/status", week_snapshot()).status_code == 204
    for day in range(days):
        a_busy_day(oak, day)
    clock.advance(ship_on_day * 24 * 3600)
    return oak, client


def test_totals_equal_a_recount_after_ingest_a_resent_batch_and_a_purge(
    hub_app, hub_db, sites, site_factory, clock
):
    # The week is over when it is shipped.
    oak, client = busy_oak(hub_app, sites, site_factory, clock, days=4, ship_on_day=8)
    first = ship(client, sites["oak"], oak, limit=20)
    shipped_head = oak.head()[0]
    ship(client, sites["oak"], oak, after=20)
    kept = totals(hub_db)
    assert len(kept["spans"]) == 8 and len(kept["minutes"]) == 7
    by_reason = {(r[2], r[3]): 0 for r in kept["counts"]}
    for row in kept["counts"]:
        by_reason[row[2], row[3]] += row[4]
    assert by_reason["override", "family"] == 4 and by_reason["release", "release.manager"] == 4
    assert by_reason["deposit", ""] == 8
    assert kept == recounted(hub_db, clock.now())

    # The same batch again: stored once, counted once.
    assert send(client, sites["oak"], "/api/ingest/events", first).json["stored"] == 0
    assert totals(hub_db) == kept

    # The site purges events it never shipped: the hub counts what it got.
    for day in range(4, 6):
        a_busy_day(oak, day)
    head = oak.head()[0]
    with oak.db.write() as session:
        write_checkpoint(session, clock.now())
        session.commit()
    a_busy_day(oak, 6)
    with oak.db.write() as session:
        assert purge_before(session, clock.now(), clock.now(), "test") == head
        session.commit()
    batch = ship(client, sites["oak"], oak, after=shipped_head)
    assert "purged_through" in batch
    after_purge = totals(hub_db)
    assert after_purge != kept
    assert after_purge == recounted(hub_db, clock.now())


def test_the_weekly_report_from_totals_equals_the_report_recounted(
    hub_app, hub_db, sites, site_factory, clock
):
    oak, elm = site_factory("oak"), site_factory("elm")
    client = hub_app.test_client()
    for day in range(7):
        a_busy_day(oak, day)
        if day % 3 == 0:
            a_busy_day(elm, day)
    # oak ships during the week (its minutes are counted on Thursday, then marked by
    # its last batch), elm only once the week is over; elm's zone comes after its events.
    clock.advance(3 * 24 * 3600)
    assert send(client, sites["oak"], "/api/ingest/status", week_snapshot()).status_code == 204
    ship(client, sites["oak"], oak, limit=30)
    clock.advance(5 * 24 * 3600)
    # No snapshot after oak's last batch: the report counts its marked days itself.
    ship(client, sites["oak"], oak, after=30, snapshot=False)
    ship(client, sites["elm"], elm, snapshot=False)
    assert send(client, sites["elm"], "/api/ingest/status", week_snapshot()).status_code == 204
    monday = MONDAY.date()
    with hub_db.session() as s:
        kept = group_week(s, None, monday, clock.now())
        assert kept == group_week_recounted(s, None, monday, clock.now())
    assert [(w.site, w.overrides, sum(a.count for a in w.alerts)) for w in kept] == [
        ("elm", 9, 6),
        ("oak", 21, 14),
    ]
    assert kept[1].minutes_without_device > 0 and kept[1].empty_days == []


def test_migration_h0003_counts_the_totals_of_a_hub_that_held_events(
    hub_app, hub_db, sites, site_factory, clock
):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from hub.db import MIGRATIONS

    oak, client = busy_oak(hub_app, sites, site_factory, clock, days=3, ship_on_day=4)
    ship(client, sites["oak"], oak)
    kept = totals(hub_db)
    assert kept["counts"] and kept["spans"] and kept["minutes"]
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    alembic.attributes["engine"] = hub_db.engine
    command.downgrade(alembic, "h0002")  # the hub as it was: events and shifts, no totals
    hub_db.migrate()
    assert totals(hub_db) == kept


def test_a_rota_changed_afterwards_counts_that_days_minutes_again(
    hub_app, hub_db, sites, site_factory, clock
):
    oak, client = busy_oak(hub_app, sites, site_factory, clock, days=3, ship_on_day=5)
    ship(client, sites["oak"], oak)
    kept = totals(hub_db)
    # The manager corrects Tuesday's rota days later: Ben left at noon.
    snapshot = week_snapshot()
    ben = next(s for s in snapshot["shifts"] if s["day"] == DAYS[1] and s["id"] == 2)
    ben["end"], ben["breaks"] = utc(f"{DAYS[1]}T12:00").isoformat(), []
    assert send(client, sites["oak"], "/api/ingest/status", snapshot).status_code == 204
    corrected = totals(hub_db)
    changed = [m for m in corrected["minutes"] if m not in kept["minutes"]]
    assert [m[1].isoformat() for m in changed] == [DAYS[1]]
    assert corrected == recounted(hub_db, clock.now())
