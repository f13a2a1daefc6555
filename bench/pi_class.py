"""Benchmark: badge -> lock as a Raspberry Pi would run it, under a CPU quota, at 1M events.

A Pi's core is several times slower than this machine's, so the figures of
``bench/badge_to_lock.py`` on a development machine say little about a Pi.
This script runs that same benchmark as a child process inside a cgroup whose
CPU quota is a fraction of one core (``--quota``, percent; by default 15 and
8), on a database whose log already holds ``--events`` chained events (one
million by default, about seven years of a busy bank), and the same child
without a quota in the same run as the baseline. The runs alternate
(free, each quota, free again) so that a change in the machine's load shows
as a difference between the two free runs rather than as a false ratio.

Why these quotas: a Raspberry Pi Zero 2 W has four Cortex-A53 cores at 1 GHz,
in-order cores that run CPython several times slower than one core of a
current x86 server. 15 % of one core is the issue's figure for "a Zero 2 W's
core against this machine's"; 8 % is a pessimistic bound for the same board.
The quota is a ceiling on the child's CPU time per 100 ms period (CFS
bandwidth control), so a step that needs 2 ms of CPU at full speed needs
about 13 ms of wall time at 15 %, and more when it straddles a period it has
already used up: that throttling is what a slow core looks like to the
latency of one badge. (A Pi has no other tenant; this machine does: the load
average is printed, and the free runs carry the same load as the quota runs.)

Each child prints its own figures as it goes; this script prints one table:
badge -> lock pin (processing, the daemon's ``emit`` + ``step`` in-process),
and card -> lock pin (the reader thread polling the emulated MFRC522 through
the real driver, and the daemon loop on real time), min/median/p99/max, each
against the free runs.

Needs root (or a delegated cgroup) on Linux with the cgroup ``cpu``
controller (v1 ``/sys/fs/cgroup/cpu`` or v2 ``cpu.max``).

    sudo .venv/bin/python bench/pi_class.py [--events N] [--quota PCT ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from kit import MONDAY, loadavg, machine, write_bank_config, write_json
from panel_at_scale import PER_WEEKDAY, History, chained, described, insert_personal
from sqlalchemy import insert

from locker.config import load_config
from locker.db import Database, migrate
from locker.models import Checkpoint

HERE = Path(__file__).resolve().parent
#: CFS bandwidth period. Short, so that a slow core is modelled as every step
#: taking longer rather than as bursts that run at full speed and then wait out
#: the rest of a long period (the kernel's default of 100 ms would turn a 3 ms
#: step into a 3 ms or a 90 ms one at random). The kernel's smallest quota is
#: 1 ms, so 20 ms allows quotas down to 5 % of a core.
PERIOD_US = 20_000


class CpuQuota:
    """A cgroup whose processes get at most a share of one core.

    Works with the cgroup v1 ``cpu`` hierarchy (``cpu.cfs_quota_us``) and with
    cgroup v2 (``cpu.max``). Processes join it from :meth:`join` (a
    ``preexec_fn``), so a child is limited from its first instruction.
    """

    def __init__(self, name: str):
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "cpu.cfs_quota_us").exists():
            self.v2, self.dir = False, v1 / name
        elif (v2 / "cgroup.controllers").exists():
            self.v2, self.dir = True, v2 / name
            controls = (v2 / "cgroup.subtree_control").read_text().split()
            if "cpu" not in controls:
                (v2 / "cgroup.subtree_control").write_text("+cpu")
        else:
            raise SystemExit("no cgroup cpu controller here: a Linux with cgroups is needed")
        try:
            self.dir.mkdir(exist_ok=True)
        except PermissionError as exc:
            raise SystemExit(f"cannot make the cgroup {self.dir}: run as root ({exc})") from exc

    def set(self, percent: float | None) -> None:
        """Limit to ``percent`` of one core; ``None`` lifts the limit."""
        quota = None if percent is None else int(PERIOD_US * percent / 100)
        if self.v2:
            (self.dir / "cpu.max").write_text(f"{quota or 'max'} {PERIOD_US}")
        else:
            # Lift the quota before changing the period: the kernel refuses a
            # period that, with the quota in place, would exceed its limits.
            (self.dir / "cpu.cfs_quota_us").write_text("-1")
            (self.dir / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            if quota is not None:
                (self.dir / "cpu.cfs_quota_us").write_text(str(quota))

    def throttled_s(self) -> float:
        """Seconds the group's processes have waited, throttled, since it was made."""
        for line in (self.dir / "cpu.stat").read_text().splitlines():
            key, value = line.split()
            if key == "throttled_time":  # v1, nanoseconds
                return int(value) / 1e9
            if key == "throttled_usec":  # v2
                return int(value) / 1e6
        return 0.0

    def join(self) -> None:
        """Move the calling process into the group (used as a ``preexec_fn``)."""
        (self.dir / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> None:
        """Remove the group (its processes have ended by now)."""
        try:
            self.dir.rmdir()
        except OSError as exc:
            print(f"note: could not remove {self.dir}: {exc}")


def make_history(tmp: Path, count: int, seed: int) -> tuple[Path, float]:
    """A migrated database whose log holds ``count`` chained events ending before MONDAY.

    The events and their daily checkpoints are filled (no people, slots or
    rota): the children seed their own bank on a copy of it, and their appends
    continue this chain.
    """
    started = time.perf_counter()
    config = load_config(write_bank_config(tmp))
    db = Database(config.db_url)
    migrate(db.engine)
    db.dispose()
    weekdays = max(count // PER_WEEKDAY, 1)
    days = weekdays * 7 // 5 + 1
    first_day = MONDAY - timedelta(days=days + 2)
    path = Path(config.db_url.removeprefix("sqlite:///"))
    history = History()
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO events (id, ts, kind, actor, slot, person_id, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chained(described(count, first_day, days, random.Random(seed), history), history),
        )
        insert_personal(conn, history)
    conn.close()
    db = Database(config.db_url)
    with db.write() as session:
        session.execute(
            insert(Checkpoint),
            [
                {"kind": "daily", "created_at": c.pop("at"), **c}
                for c in history.checkpoints
                if "event_id" in c
            ],
        )
        session.commit()
    db.dispose()
    return path, time.perf_counter() - started


def run_child(
    label: str, quota: CpuQuota, percent: float | None, args: argparse.Namespace, history: Path
) -> dict[str, Any]:
    """``badge_to_lock.py`` on a copy of ``history``, limited to ``percent`` of a core."""
    quota.set(percent)
    out = Path(tempfile.mkstemp(prefix="bench-pi-", suffix=".json")[1])
    command = [
        sys.executable,
        str(HERE / "badge_to_lock.py"),
        "--cycles",
        str(args.cycles),
        "--card-cycles",
        str(args.card_cycles),
        "--history",
        str(history),
        "--json",
        str(out),
    ]
    print(f"\n=== {label}: load {loadavg()}", flush=True)
    throttled = quota.throttled_s()
    started = time.perf_counter()
    done = subprocess.run(command, preexec_fn=quota.join)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label}: badge_to_lock.py failed (exit {done.returncode})")
    figures = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    figures["wall_s"] = wall
    figures["throttled_s"] = quota.throttled_s() - throttled
    figures["load_after"] = loadavg()
    return figures


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``1.23x``."""
    return f"{value / base:.2f}x" if base else "n/a"


def summary(runs: list[tuple[str, float | None, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per run, with ratios against the mean of the free runs."""
    free = [f for _, percent, f in runs if percent is None]
    base = {
        part: {key: sum(f[part][key] for f in free) / len(free) for key in ("median", "p99", "max")}
        for part in ("processing", "card_to_lock")
    }
    rows = []
    for label, percent, f in runs:
        p, c = f["processing"], f["card_to_lock"]
        rows.append(
            {
                "run": label,
                "quota_percent": percent,
                "processing": p,
                "card_to_lock": c,
                "processing_p99_ratio": p["p99"] / base["processing"]["p99"],
                "processing_median_ratio": p["median"] / base["processing"]["median"],
                "card_p99_ratio": c["p99"] / base["card_to_lock"]["p99"],
                "throttled_s": f["throttled_s"],
                "wall_s": f["wall_s"],
                "missed": f["missed"],
                "log_check_s": f["log_check_s"],
                "load_after": f["load_after"],
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]], events: int) -> None:
    """The figures, one line per run and part."""
    print(f"\nbadge -> lock at {events:,} events in the log (ms; ratios against the free runs)")
    print(f"{'run':<14} {'part':<11} {'min':>7} {'median':>7} {'p99':>7} {'max':>7}  vs free")
    for row in rows:
        for part, key, ratio_key in (
            ("processing", "processing", "processing_p99_ratio"),
            ("card->lock", "card_to_lock", "card_p99_ratio"),
        ):
            s = row[key]
            print(
                f"{row['run']:<14} {part:<11} {s['min']:7.2f} {s['median']:7.2f}"
                f" {s['p99']:7.2f} {s['max']:7.2f}  p99 {row[ratio_key]:.2f}x"
            )
        print(
            f"{'':<14} throttled {row['throttled_s']:.1f} s of {row['wall_s']:.0f} s wall;"
            f" start-up log check {row['log_check_s']:.1f} s; missed {row['missed']};"
            f" load after {row['load_after']}"
        )


def main(argv: list[str] | None = None) -> int:
    """Build the history, run the children in turn and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log")
    parser.add_argument(
        "--quota",
        type=float,
        action="append",
        help="percent of one core (repeatable; default 15 and 8)",
    )
    parser.add_argument("--cycles", type=int, default=200, help="badges per run, processing")
    parser.add_argument("--card-cycles", type=int, default=60, help="cards per run, card->lock")
    parser.add_argument("--seed", type=int, default=3, help="random seed of the history")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    quotas = args.quota or [15.0, 8.0]
    if any(not 5 <= q <= 100 for q in quotas):
        parser.error("--quota is a percent of one core, between 5 and 100")
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")
    quota = CpuQuota(f"nursery-locker-bench-{os.getpid()}")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pi-") as tmp:
            history, built_s = make_history(Path(tmp), args.events, args.seed)
            size_mb = history.stat().st_size / 2**20
            print(f"history: {args.events:,} events, {size_mb:,.0f} MB, built in {built_s:.0f} s")
            plan = [("free", None), *((f"{q:g}% of a core", q) for q in quotas)]
            plan.append(("free again", None))
            runs = [
                (label, percent, run_child(label, quota, percent, args, history))
                for label, percent in plan
            ]
    finally:
        quota.close()
    rows = summary(runs)
    print_table(rows, args.events)
    write_json(args.json, {"events": args.events, "runs": rows, "machine": info})
    return 0


if __name__ == "__main__":
    sys.exit(main())
