"""Benchmark: the hub ingesting many sites' week-long backlogs, every hash verified.

Starts a throwaway PostgreSQL cluster (Debian's server, as the tests do, but
with fsync and synchronous commits on, as a real hub runs),
registers ``--sites`` sites, builds each one's week of chained events
(``--per-day`` a day, hashed with the site's own :func:`locker.log.event_hash`)
and feeds them through :func:`hub.ingest.take_batch` in batches of
``--batch``: the same parse, verification, storage and daily totals as the HTTP route,
without HTTP. As the baseline, in the same run, it times hashing the same
events alone (the least verification can cost). Then it times the busiest
page query, a site's newest log page, against the stored events.

Each site's week has overrides and alerts among its custody events, and a
rota of 20 people (sent first, as a status snapshot would): the totals kept
at ingest then cost what they cost on a real hub. The weekly group report is
timed from those totals against the old recount from events, site by site,
in the same run (and the two must agree).

    .venv/bin/python bench/hub_ingest.py [--sites N] [--per-day N] [--batch N]
        [--page-at 1400000,10000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func

from hub.accounts import add_site
from hub.cluster import ThrowawayCluster
from hub.db import HubDatabase
from hub.ingest import parse_batch, recomputed, take_batch
from hub.models import Site
from hub.overview import events_before
from hub.shifts import store_shifts
from hub.totals import after_snapshot
from hub.week_report import group_week, group_week_recounted, week_of
from locker.log import GENESIS_HASH, canonical_details, event_hash, format_ts

KINDS = ("badge.granted", "slot.unlocked", "door.opened", "deposit.confirmed", "slot.locked")
#: Every this many filler events one is an override (the overrides page reads them).
OVERRIDE_EVERY = 50
PAGE_SAMPLES = 40


#: Every this many events one alert is raised; it is acknowledged this many later.
ALERT_EVERY = 100
ALERT_ACK_AFTER = 7
PEOPLE = 20


def _kind_and_details(i: int) -> tuple[str, dict]:
    if i % OVERRIDE_EVERY == 0:
        return "release.manager", {"reason": ("family", "medical", "other")[i % 3]}
    if i % ALERT_EVERY == 1:
        return "alert.raised", {"alert": "overdue", "alert_id": i, "message": ""}
    if i % ALERT_EVERY == 1 + ALERT_ACK_AFTER:
        return "alert.acknowledged", {"alert": "overdue", "alert_id": i - ALERT_ACK_AFTER}
    return KINDS[i % len(KINDS)], {"reason": "shift"}


def week_of_events(count: int, start: datetime) -> list[dict]:
    """``count`` chained events, a few minutes apart, as a site ships them."""
    events, prev = [], GENESIS_HASH
    step = timedelta(days=7) / count
    for i in range(1, count + 1):
        kind, details = _kind_and_details(i)
        row = {
            "id": i,
            "ts": format_ts(start + step * i),
            "kind": kind,
            "actor": "daemon",
            "slot": 1 + i % 4,
            "person_id": 1 + i % PEOPLE,
            "details": canonical_details(details),
            "prev_hash": prev,
        }
        row["hash"] = prev = event_hash(**row)
        events.append(row)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--page-at", default="", help="stored-event totals to time pages at")
    parser.add_argument(
        "--no-recount",
        action="store_true",
        help="leave out the weekly report's comparison with the recount (minutes at 1,000 sites)",
    )
    args = parser.parse_args()
    # Durable: every commit reaches the disk, as on a real hub.
    cluster = ThrowawayCluster(durable=True).start()
    try:
        now = datetime.now(UTC)
        db, ids = group_of(cluster, args.sites, now)
        start = now - timedelta(days=7)
        week = week_of_events(args.per_day * 7, start)
        total = len(week) * args.sites
        rota = week_rota(start)
        send_rota(db, ids.values(), rota, now)
        load_before = os.getloadavg()[0]

        started = time.perf_counter()
        for event in week:
            recomputed(event)
        hash_only = (time.perf_counter() - started) * args.sites

        started = time.perf_counter()
        for site_id in ids.values():
            for low in range(0, len(week), args.batch):
                batch = parse_batch({"events": week[low : low + args.batch]})
                take_batch(db, site_id, batch, now)
        elapsed = time.perf_counter() - started

        # Each site's next snapshot counts the minutes of the days its batches touched.
        started = time.perf_counter()
        with db.session() as s:
            for site_id in ids.values():
                site = s.get(Site, site_id)
                after_snapshot(s, site, store_shifts(s, site_id, rota), now)
        snapshots = time.perf_counter() - started

        times = []
        with db.session() as s:
            for site_id in list(ids.values())[:: max(1, len(ids) // 200)]:
                t0 = time.perf_counter()
                events_before(s, site_id, None, 100)
                times.append(time.perf_counter() - t0)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        print(f"sites: {args.sites}, events per site: {len(week)}, stored: {total:,}")
        print(f"ingest with verification: {total / elapsed:,.0f} events/s ({elapsed:.1f} s)")
        print(
            f"hashing alone (baseline, same run): {total / hash_only:,.0f} events/s; "
            f"ingest costs {elapsed / hash_only:.1f}x hashing"
        )
        print(
            f"the snapshot after the backlog (minutes counted again): "
            f"{snapshots / len(ids) * 1000:.0f} ms a site"
        )
        print(f"a site's newest log page at {total:,} stored events: p95 {p95 * 1000:.2f} ms")
        print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
        if not args.no_recount:
            time_week_report(db, start, now)
        for target in (int(t) for t in args.page_at.split(",") if t):
            fill_to(db, ids, target, now)
            time_pages(db, ids, target)
        db.dispose()
    finally:
        cluster.stop()


def group_of(cluster: ThrowawayCluster, sites: int, now: datetime):
    """A migrated hub database on ``cluster`` with ``sites`` sites: it, and name -> id."""
    db = HubDatabase(cluster.create_database("bench"))
    db.migrate()
    with db.session() as s:
        for n in range(sites):
            add_site(s, f"site-{n:04d}", now)
    with db.session() as s:
        return db, dict(s.query(Site.name, Site.id).order_by(Site.id).all())


def send_rota(db: HubDatabase, site_ids, rota: dict, now: datetime) -> None:
    """Each site's first snapshot, as the hub takes it: its zone and ``rota``."""
    with db.session() as s:
        for site_id in site_ids:
            site = s.get(Site, site_id)
            site.snapshot, site.snapshot_at = {"timezone": "Europe/London"}, now
            after_snapshot(s, site, store_shifts(s, site_id, rota), now)


def week_rota(start: datetime) -> dict:
    """A status snapshot's rota: :data:`PEOPLE` people, 08:00-17:00 with a break, 8 days."""
    first = start.date()
    shifts = []
    for offset in range(8):
        day = first + timedelta(days=offset)
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for person in range(1, PEOPLE + 1):
            shifts.append(
                {
                    "day": day.isoformat(),
                    "id": person,
                    "name": f"Person {person}",
                    "start": (at + timedelta(hours=8)).isoformat(),
                    "end": (at + timedelta(hours=17)).isoformat(),
                    "breaks": [
                        [
                            (at + timedelta(hours=12)).isoformat(),
                            (at + timedelta(hours=12, minutes=30)).isoformat(),
                        ]
                    ],
                }
            )
    last = first + timedelta(days=7)
    return {"shift_days": [first.isoformat(), last.isoformat()], "shifts": shifts}


def time_week_report(db: HubDatabase, start: datetime, now: datetime) -> None:
    """The weekly group report from the daily totals against the recount from events."""
    monday = week_of(start.date() + timedelta(days=3))
    load = os.getloadavg()[0]
    kept_times = []
    for _ in range(3):
        with db.session() as s:
            t0 = time.perf_counter()
            kept = group_week(s, None, monday, now)
            kept_times.append(time.perf_counter() - t0)
    with db.session() as s:
        t0 = time.perf_counter()
        recounted = group_week_recounted(s, None, monday, now)
        recount = time.perf_counter() - t0
    same = "the same" if kept == recounted else "DIFFERENT"
    kept_s = statistics.median(kept_times)
    print(
        f"weekly group report, {len(kept)} sites, week of {monday} (load {load:.2f}): "
        f"from daily totals {kept_s:.2f} s (median of 3), "
        f"recounted from events (baseline, same run) {recount:.2f} s: "
        f"{recount / kept_s:.0f}x faster; reports {same}"
    )


def fill_to(db: HubDatabase, ids: dict[str, int], target: int, now: datetime) -> None:
    """Add filler events, spread over every site, until ``target`` are stored."""
    with db.session() as s:
        heads = dict(s.query(Site.id, Site.head_seq).all())
        stored = sum(heads.values())
        per_site = max(0, (target - stored) // len(ids))
        if per_site == 0:
            return
        cursor = s.connection().connection.driver_connection.cursor()
        copy_sql = (
            "COPY site_events (site_id, seq, ts, kind, actor, slot, person_id, details,"
            " prev_hash, hash) FROM STDIN"
        )
        with cursor.copy(copy_sql) as copy:
            for site_id, head in heads.items():
                for seq in range(head + 1, head + per_site + 1):
                    kind = "release.grant" if seq % OVERRIDE_EVERY == 0 else KINDS[seq % 5]
                    ts = format_ts(now + timedelta(seconds=seq))
                    digest = f"{site_id:032x}{seq:032x}"
                    copy.write_row(
                        (
                            site_id,
                            seq,
                            ts,
                            kind,
                            "daemon",
                            1,
                            1,
                            '{"reason":"shift"}',
                            digest,
                            digest,
                        )
                    )
        s.execute(
            Site.__table__.update().values(
                head_seq=Site.head_seq + per_site, events=Site.events + per_site
            )
        )
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE site_events")


def time_pages(db: HubDatabase, ids: dict[str, int], target: int) -> None:
    """p95 of each page and API read, as a group admin, at ``target`` stored events."""
    from hub.accounts import add_account, create_token
    from hub.app import create_app
    from locker.config import parse_config

    now = datetime.now(UTC)
    name = f"bench{target}"
    with db.session() as s:
        add_account(s, name, "group_admin", "bench-password", [], now)
    with db.session() as s:
        token = create_token(s, name, now)
    config = parse_config({"hub_server": {"database_url": str(db.engine.url)}})
    client = create_app(config, db, secret_key="bench " * 6).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    sites = sorted(ids)[:: max(1, len(ids) // PAGE_SAMPLES)][:PAGE_SAMPLES]
    pages = {
        "all sites (/)": lambda _site: "/",
        "sites list turned (/?after=NAME)": lambda site: f"/?after={site}",
        "a site's day report (/sites/NAME/report)": lambda site: (
            f"/sites/{site}/report?day={(now - timedelta(days=3)).date()}"
        ),
        "an older log page (/sites/NAME?before=ID)": lambda site: f"/sites/{site}?before=900",
        "one site (/sites/NAME)": lambda site: f"/sites/{site}",
        # One site's overrides fill a page only once it holds 200 (at 10M, not at
        # 1.4M): the page across all sites is full at both, so it compares like for like.
        "overrides, one site (/overrides?site=NAME)": lambda site: f"/overrides?site={site}",
        "overrides, all sites (/overrides)": lambda _site: "/overrides",
        "API events page": lambda site: f"/api/sites/{site}/events?after_id=700&limit=100",
        "open alerts (/alerts?after=NAME)": lambda site: f"/alerts?after={site}",
        "API open alerts": lambda site: f"/api/alerts?after={site}&limit=100",
    }
    with db.session() as s:
        stored = s.query(func.sum(Site.events)).scalar()
    print(f"pages at {stored:,} stored events (load {os.getloadavg()[0]:.2f}):")
    for label, path in pages.items():
        times, sizes = [], []
        for site in sites:
            t0 = time.perf_counter()
            answer = client.get(path(site), headers=auth)
            times.append(time.perf_counter() - t0)
            assert answer.status_code == 200, answer.status_code
            sizes.append(len(answer.data))
        p95 = statistics.quantiles(times, n=20)[-1]
        print(
            f"  {label}: p95 {p95 * 1000:.1f} ms, median {statistics.median(times) * 1000:.1f} ms,"
            f" {statistics.median(sizes) / 1024:.0f} KiB"
        )
    # The weekly report reads the group's daily totals: it grows with the number of
    # sites, not with the events stored (a group admin sees them all). Last week is
    # all counted; this week's today is counted again by the report for a site whose
    # last snapshot is over 5 minutes old (here every site: none sends one).
    for label, day in (("last week", now - timedelta(days=7)), ("this week", now)):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            answer = client.get(f"/reports/week?week={day.date()}", headers=auth)
            assert answer.status_code == 200, answer.status_code
            times.append(time.perf_counter() - t0)
        print(
            f"  weekly group report ({label}), all {len(ids)} sites: "
            f"median {statistics.median(times):.2f} s"
        )


if __name__ == "__main__":
    main()
