"""Benchmark: the report and the override log at 10k, 1M and 10M events, in one run.

Issue 20 asks for ``/report`` and ``/log/overrides`` to stay flat as the log
grows: p95 at 10M events within 1.2x of 10k. Separate runs of
``bench/panel_at_scale.py`` cannot show that on a shared machine (their loads
differ), so this script builds one database per ``--scales`` entry with that
script's history (the same bank, people and kinds of day, over as many days as
the events fill), then fetches the pages round-robin across the scales, one
fetch of each scale in turn, so a change in the machine's load falls on every
scale alike. Each page's figures are printed per scale with their ratio to the
smallest scale, and the load average before and after.

The pages, through Flask's test client logged in as a manager: the daily
report of the last full weekday, the override log's first page and a deep
page (``before_id=1000``), and the log's first page. The databases live in a
temporary directory, or in ``--dir``, where they are kept and reused by the
next run (10M events take about 3 GB and, on this 2-core machine under load,
the better part of half an hour to build).

    .venv/bin/python bench/panel_scales.py [--scales 10000,1000000,10000000] [--repeat N]
                                           [--dir DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from kit import loadavg, machine, stats_ms, write_json
from panel_at_scale import Built, build, logged_in_client

from locker.config import load_config
from locker.db import Database, migrate


def built_at(folder: Path, count: int, seed: int) -> Built:
    """The database of ``count`` events in ``folder``: the one built there before, or a new one.

    A rebuilt 10M database costs the better part of half an hour, so a kept
    one (``--dir``) is reused: its :class:`Built` is saved beside it.
    """
    saved = folder / "built.json"
    if saved.exists():
        raw = json.loads(saved.read_text(encoding="utf-8"))
        db = Database(load_config(Path(raw["config_file"])).db_url)
        migrate(db.engine)  # built by an older schema: brought up to date, as `locker init` does
        db.dispose()
        return Built(
            Path(raw["config_file"]),
            raw["events"],
            *(date.fromisoformat(raw[k]) for k in ("first_day", "last_day", "report_day")),
            raw["token"],
            raw["seconds"],
        )
    built = build(folder, count, seed)
    saved.write_text(json.dumps(dataclasses.asdict(built), default=str), encoding="utf-8")
    return built


def pages_of(built) -> list[tuple[str, str]]:
    """``(label, path)`` of the pages timed on one database."""
    return [
        ("/report?day=", f"/report?day={built.report_day.isoformat()}"),
        ("/log/overrides", "/log/overrides"),
        ("/log/overrides?before_id=1000", "/log/overrides?before_id=1000"),
        ("/log", "/log"),
    ]


def fetch_s(client, path: str) -> tuple[float, int]:
    """Seconds to GET ``path`` and read its body; the body's size."""
    began = time.perf_counter()
    response = client.get(path)
    body = response.get_data()
    spent = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {body[:200]!r}")
    return spent, len(body)


#: Migration 0008's indexes, ``(name, table, column)``: ``--before-after`` times the
#: pages without them (as before the migration) and with them, in the same run.
INDEXES = (
    ("ix_custody_ended_at", "custody", "ended_at"),
    ("ix_checkpoints_kind_created_at", "checkpoints", "kind, created_at"),
    ("ix_checkpoints_event_id", "checkpoints", "event_id"),
    ("ix_alerts_raised_at", "alerts", "raised_at"),
    ("ix_alerts_acknowledged_at", "alerts", "acknowledged_at"),
    ("ix_alerts_resolved_at", "alerts", "resolved_at"),
)


def set_indexes(built: Built, present: bool) -> None:
    """Create or drop migration 0008's indexes on ``built``'s database."""
    path = load_config(built.config_file).db_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for name, table, column in INDEXES:
            if present:
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")
            else:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
        for stale in ("ix_checkpoints_kind", "ix_checkpoints_created_at"):
            conn.execute(f"DROP INDEX IF EXISTS {stale}")  # an earlier draft of 0008


def timed_round(
    scales: list[int], builts: dict[int, Built], repeat: int
) -> tuple[dict[str, dict[int, list[float]]], dict[str, dict[int, int]]]:
    """Each page of each scale fetched ``repeat`` times, round-robin, after a warm-up;
    clients logged in now (a session left idle while a big database builds expires)."""
    clients = {count: logged_in_client(builts[count].config_file) for count in scales}
    times: dict[str, dict[int, list[float]]] = {}
    sizes: dict[str, dict[int, int]] = {}
    for count in scales:
        for _label, path in pages_of(builts[count]):
            fetch_s(clients[count], path)
    for _ in range(repeat):
        for count in scales:
            for label, path in pages_of(builts[count]):
                spent, size = fetch_s(clients[count], path)
                times.setdefault(label, {}).setdefault(count, []).append(spent)
                sizes.setdefault(label, {})[count] = size
    return times, sizes


def print_round(
    title: str, scales: list[int], times: dict[str, dict[int, list[float]]], sizes
) -> dict[str, Any]:
    """Print one round's figures per page and scale, each against the smallest scale."""
    base = scales[0]
    print(f"\n{title}")
    results: dict[str, Any] = {}
    for label, by_scale in times.items():
        first = stats_ms(by_scale[base])
        print(f"  {label}")
        for count, values in by_scale.items():
            mine = stats_ms(values)
            results.setdefault(label, {})[count] = {**mine, "bytes": sizes[label][count]}
            print(
                f"    {count:>11,} events: min {mine['min']:7.2f}  median {mine['median']:7.2f}"
                f"  p95 {mine['p95']:7.2f}  max {mine['max']:8.2f} ms"
                f"  {sizes[label][count] / 1024:5.0f} KiB;"
                f" p95 {mine['p95'] / first['p95']:.2f}x, median"
                f" {mine['median'] / first['median']:.2f}x the {base:,}"
            )
    return results


def main(argv: list[str] | None = None) -> int:
    """Build every scale, time the pages round-robin, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scales",
        default="10000,1000000,10000000",
        help="events in each database, comma-separated (the first is the baseline)",
    )
    parser.add_argument("--repeat", type=int, default=60, help="fetches of each page per scale")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the histories")
    parser.add_argument("--dir", type=Path, help="build the databases here (kept)")
    parser.add_argument(
        "--before-after",
        action="store_true",
        help="first time the pages without migration 0008's indexes, then with them",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")
    rounds: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if args.dir is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scales-")))
        else:
            folder = args.dir
        builts = {}
        for count in scales:
            built = built_at(folder / f"{count}-{args.seed}", count, args.seed)
            builts[count] = built
            print(
                f"built {built.events:,} events ({built.first_day} to {built.last_day})"
                f" in {built.seconds:.0f} s; load {loadavg()}",
                flush=True,
            )
        passes = [("without 0008's indexes", False)] if args.before_after else []
        for name, present in [*passes, ("as migrated", True)]:
            for count in scales:
                set_indexes(builts[count], present)
            load_before = loadavg()
            times, sizes = timed_round(scales, builts, args.repeat)
            title = (
                f"pages {name}, {args.repeat} fetches per scale, round-robin across the"
                f" scales; load {load_before} before, {loadavg()} after:"
            )
            rounds[name] = print_round(title, scales, times, sizes)
            rounds[name]["load"] = [load_before, loadavg()]
    write_json(
        args.json,
        {
            "scales": scales,
            "build_s": {count: builts[count].seconds for count in scales},
            "rounds": rounds,
            "machine": info,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
