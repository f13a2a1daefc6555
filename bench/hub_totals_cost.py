"""Benchmark: what the daily totals (and the names' checks) cost the hub's ingest.

Half the sites ingest their week's backlog through :func:`hub.ingest.take_batch`
as the hub does; the other half with the totals, the names' checks and the
erasures switched off (the ingest as it was before migration h0003). Sites
alternate, one of each in turn, so both halves see the same load on a shared
machine; the ratio of the two rates is the figure.

    .venv/bin/python bench/hub_totals_cost.py [--sites N] [--per-day N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hub_ingest import group_of, send_rota, week_of_events, week_rota  # noqa: E402

import hub.ingest  # noqa: E402
from hub.cluster import ThrowawayCluster  # noqa: E402
from hub.ingest import parse_batch, take_batch  # noqa: E402

#: What the ingest calls since h0003, and what stands in for each when switched off.
ADDED = {
    "count_in": lambda *args, **kwargs: None,
    "check_values": lambda values, events, new: [],
    "store_values": lambda *args: None,
    "forget_in": lambda *args: None,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--per-day", type=int, default=200)
    args = parser.parse_args()
    cluster = ThrowawayCluster(durable=True).start()
    try:
        now = datetime.now(UTC)
        start = now - timedelta(days=7)
        db, by_name = group_of(cluster, args.sites, now)
        ids = list(by_name.values())
        send_rota(db, ids, week_rota(start), now)
        week = week_of_events(args.per_day * 7, start)
        kept = {name: getattr(hub.ingest, name) for name in ADDED}
        spent = {"with totals": 0.0, "without": 0.0}
        load_before = os.getloadavg()[0]
        for i, site_id in enumerate(ids):
            with_totals = i % 2 == 0
            for name, stand_in in ADDED.items():
                setattr(hub.ingest, name, kept[name] if with_totals else stand_in)
            t0 = time.perf_counter()
            take_batch(db, site_id, parse_batch({"events": week}), now)
            spent["with totals" if with_totals else "without"] += time.perf_counter() - t0
        for name in ADDED:
            setattr(hub.ingest, name, kept[name])
        events = len(week) * (len(ids) // 2)
        rates = {label: events / seconds for label, seconds in spent.items()}
        print(
            f"{len(ids)} sites, {len(week)} events each, alternating (load before/after "
            f"{load_before:.2f} / {os.getloadavg()[0]:.2f}):"
        )
        for label, rate in rates.items():
            print(f"  ingest {label}: {rate:,.0f} events/s")
        print(f"  the totals and names cost {rates['without'] / rates['with totals']:.2f}x")
        db.dispose()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
