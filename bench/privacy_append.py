"""Benchmark: what taking personal values out of the chain costs an append.

Appends a badge's events (``badge.granted`` with the card's UID and the
person as actor, ``slot.unlocked``, ``deposit.confirmed``), one commit per
event as the daemon does, to a SQLite file with 200 people, and times them
with :mod:`locker.log.personal` at work and, as the baseline in the same run,
with its step switched off (the append of the release before it: values
hashed in clear). Prints median and p95 per append and the ratio.

    .venv/bin/python bench/privacy_append.py [--events N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.kit import line_ms, loadavg, stats_ms  # noqa: E402
from locker import events as ev  # noqa: E402
from locker.db import Database, migrate  # noqa: E402
from locker.decisions import LogEntry  # noqa: E402
from locker.log import append  # noqa: E402
from locker.log import chain as chain_module  # noqa: E402
from locker.models import Person  # noqa: E402

START = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def entries(index: int) -> list[LogEntry]:
    """One badge's events for person ``index``."""
    pid, name = index % 200 + 1, f"Person {index % 200 + 1:03d}"
    return [
        LogEntry(ev.BADGE_GRANTED, name, 1, pid, {"uid": f"04A1B2C3{pid:06X}"}),
        LogEntry(ev.SLOT_UNLOCKED, "daemon", 1, pid, {"reason": "deposit"}),
        LogEntry(ev.DEPOSIT_CONFIRMED, name, 1, pid, {}),
    ]


def run(db: Database, count: int) -> list[float]:
    """Seconds per append, each in its own writing transaction."""
    took = []
    for index in range(count):
        for entry in entries(index):
            began = time.perf_counter()
            with db.write() as session:
                append(session, entry, START)
                session.commit()
            took.append(time.perf_counter() - began)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300, help="badges per run (3 events each)")
    args = parser.parse_args()
    print(f"load average before: {loadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'locker.db'}")
        migrate(db.engine)
        with db.write() as session:
            session.add_all(Person(name=f"Person {n:03d}", created_at=START) for n in range(1, 201))
            session.commit()
        private_entry = chain_module.private_entry
        chain_module.private_entry = lambda session, entry, event_id: entry
        try:
            baseline = run(db, args.events)
        finally:
            chain_module.private_entry = private_entry
        private = run(db, args.events)
        db.dispose()
    base, mine = stats_ms(baseline), stats_ms(private)
    print(line_ms("append, values in clear (baseline)", baseline))
    print(line_ms("append, values committed", private))
    print(f"ratio of medians: {mine['median'] / base['median']:.2f}")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
