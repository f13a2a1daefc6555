"""Benchmark: verify a log of N events, against a naive walk over ORM objects.

Builds a SQLite database of ``--events`` chained events (hashed with the
reference :func:`locker.log.event_hash` and inserted straight through
``sqlite3`` in one transaction, the last one a daily checkpoint), times
:func:`locker.log.verify` over all of them, then as a baseline times loading
up to ``--baseline`` of the same events as ORM objects and checking each with
:func:`locker.log.hash_of` and :func:`locker.log.parse_ts`.

The nightly check as the daemon runs it is timed in its own process twice: a
whole walk (``locker log verify --json``), then, once that walk is recorded as
a ``log.verified`` event and ``--day`` more events (a busy day) are appended,
the check from that checkpoint (``--incremental``), with its ratio to the whole
walk in the same run.

    .venv/bin/python bench/verify_log.py [--events N] [--baseline N] [--day N] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w
from sqlalchemy import select

from locker import events
from locker.config import default_config_text
from locker.db import Database, migrate
from locker.log import (
    GENESIS_HASH,
    LogEntry,
    VerifyReport,
    append,
    canonical_details,
    event_hash,
    format_ts,
    hash_of,
    parse_ts,
    verified_entry,
    verify,
    verify_since_checkpoint,
)
from locker.models import Checkpoint, Event

START = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)

# A nursery's day, roughly: badges, doors, locks, deposits and releases.
SAMPLES = [
    (events.BADGE_GRANTED, "reader", 3, 12, {"uid": "04A1B2C3D4E5F6"}),
    (events.SLOT_UNLOCKED, "controller", 3, 12, {"reason": "deposit"}),
    (events.DOOR_OPENED, "controller", 3, None, {}),
    (events.DEVICE_DETECTED, "controller", 3, None, {}),
    (events.DOOR_CLOSED, "controller", 3, None, {}),
    (events.DEPOSIT_CONFIRMED, "controller", 3, 12, {"custody_id": 4411}),
    (events.BADGE_REFUSED, "reader", 3, 12, {"reason": "outside break", "uid": "04A1B2C3"}),
    (events.RELEASE_BREAK, "controller", 3, 12, {"break": "12:00-12:30", "grace_s": 120}),
    (events.GRANT_CREATED, "manager", None, 12, {"note": "Zoë's outing", "reason": "outing"}),
]


def chained_rows(count: int) -> Iterator[tuple]:
    """``count`` events chained from the genesis; the last records a daily checkpoint."""
    prev = GENESIS_HASH
    for event_id in range(1, count + 1):
        if event_id == count:
            kind, actor, slot, person_id = events.LOG_CHECKPOINT, "system", None, None
            details = canonical_details({"event_id": event_id - 1, "hash": prev})
        else:
            kind, actor, slot, person_id, raw = SAMPLES[event_id % len(SAMPLES)]
            details = canonical_details(raw)
        ts = format_ts(START + timedelta(seconds=7 * event_id))
        digest = event_hash(
            prev_hash=prev,
            id=event_id,
            ts=ts,
            kind=kind,
            actor=actor,
            slot=slot,
            person_id=person_id,
            details=details,
        )
        yield event_id, ts, kind, actor, slot, person_id, details, prev, digest
        prev = digest


def build(path: Path, count: int) -> None:
    """A migrated database at ``path`` holding ``count`` chained events."""
    db = Database(f"sqlite:///{path}")
    migrate(db.engine)
    db.dispose()
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO events (id, ts, kind, actor, slot, person_id, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chained_rows(count),
        )
    conn.close()
    db = Database(f"sqlite:///{path}")
    with db.write() as session:
        checkpointed = session.get(Event, count - 1)
        assert checkpointed is not None
        session.add(
            Checkpoint(
                kind="daily",
                event_id=checkpointed.id,
                hash=checkpointed.hash,
                created_at=parse_ts(checkpointed.ts),
            )
        )
        session.commit()
    db.dispose()


def naive_walk(db: Database, limit: int) -> int:
    """Check up to ``limit`` events the obvious way: ORM objects, one by one."""
    checked = 0
    prev = GENESIS_HASH
    with db.read() as session:
        for event in session.scalars(select(Event).order_by(Event.id).limit(limit)):
            if event.prev_hash != prev or hash_of(event) != event.hash:
                raise SystemExit(f"naive walk: event {event.id} does not verify")
            parse_ts(event.ts)
            prev = event.hash
            checked += 1
    return checked


def nightly_check(tmp: Path, db_path: Path, *options: str) -> tuple[float, float, VerifyReport]:
    """CPU and wall seconds of ``locker log verify --json [options]`` over ``db_path``,
    as a child, and what it found."""
    config = tmp / "config.toml"
    raw = tomllib.loads(default_config_text(data_dir=str(tmp)))
    raw["database_url"] = f"sqlite:///{db_path}"
    raw["hardware"]["backend"] = "simulated"
    config.write_text(tomli_w.dumps(raw))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "locker_app", "--config", str(config)]
        + ["log", "verify", "--json", *options],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = json.loads(done.stdout) if done.stdout.strip() else {}
    if done.returncode != 0 or not found.get("ok"):
        raise RuntimeError(f"the nightly check failed: {done.stdout} {done.stderr}")
    found.pop("integrity")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, VerifyReport(**found)


def record_and_go_on(db: Database, report: VerifyReport, day: int) -> None:
    """Record ``report`` as the daemon does (``log.verified``), then append ``day`` events."""
    with db.write() as session:
        ts = session.scalar(select(Event.ts).order_by(Event.id.desc()).limit(1))
        at = parse_ts(ts) + timedelta(seconds=7)
        append(session, verified_entry(report, at), at)
        for n in range(day):
            kind, actor, slot, person_id, details = SAMPLES[n % len(SAMPLES)]
            entry = LogEntry(kind, actor, slot, person_id, details)
            append(session, entry, at + timedelta(seconds=7 * (n + 1)))
        session.commit()


def main(argv: list[str] | None = None) -> int:
    """Build, time verify() and the naive baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log")
    parser.add_argument(
        "--baseline", type=int, default=100_000, help="at most this many for the naive walk"
    )
    parser.add_argument(
        "--day", type=int, default=400, help="events appended before the incremental check"
    )
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.events < 2:
        parser.error("--events must be at least 2")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        if path.exists():
            parser.error(f"{path} exists; give a new file")
        started = time.perf_counter()
        build(path, args.events)
        print(f"built {args.events:,} events in {time.perf_counter() - started:.1f} s")

        db = Database(f"sqlite:///{path}")
        with db.read() as session:
            started = time.perf_counter()
            report = verify(session)
            verify_s = time.perf_counter() - started
        if not report.ok or report.checked != args.events:
            print(f"verify failed: {report}", file=sys.stderr)
            return 1
        verify_rate = report.checked / verify_s
        print(
            f"verify(): {report.checked:,} events in {verify_s:.2f} s = {verify_rate:,.0f} events/s"
        )
        cpu_s, wall_s, whole = nightly_check(Path(tmp), path)
        per_million = cpu_s * 1_000_000 / report.checked
        print(
            f"nightly check, whole walk (its own process, `locker log verify --json`, "
            f"quick check included): {cpu_s:.2f} s CPU, {wall_s:.2f} s wall = "
            f"{per_million:.2f} s CPU per million events, none of it in the daemon"
        )
        record_and_go_on(db, whole, args.day)
        inc_cpu, inc_wall, resumed = nightly_check(Path(tmp), path, "--incremental")
        walked = resumed.head_id - (resumed.resumed_from or 0)
        print(
            f"nightly check from the last checkpoint (`--incremental`, {walked:,} events walked"
            f" of {resumed.checked:,}, quick check included): {inc_cpu:.2f} s CPU,"
            f" {inc_wall:.2f} s wall = {inc_cpu * 1_000_000 / resumed.checked:.2f} s CPU per"
            f" million events of log; {inc_cpu / cpu_s:.3f}x the whole walk's CPU"
        )
        # Apart from the quick check, which reads the whole file either way.
        with db.read() as session:
            started = time.perf_counter()
            alone = verify_since_checkpoint(session)
            alone_s = time.perf_counter() - started
        if not alone.ok or alone.resumed_from is None:
            print(f"the check from the checkpoint failed: {alone}", file=sys.stderr)
            return 1
        print(
            f"verify_since_checkpoint() alone, in process: {alone_s * 1000:.1f} ms"
            f" = {alone_s / verify_s:.4f}x verify()"
        )

        started = time.perf_counter()
        naive = naive_walk(db, min(args.baseline, args.events))
        naive_s = time.perf_counter() - started
        naive_rate = naive / naive_s
        print(f"naive ORM walk: {naive:,} events in {naive_s:.2f} s = {naive_rate:,.0f} events/s")
        print(f"verify() is {verify_rate / naive_rate:.1f}x the naive walk's rate")
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
