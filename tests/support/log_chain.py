"""A hash-chained log to tamper with: events of a day appended, checkpoints, a purge,
and an attacker's plain ``sqlite3`` connection (shared by the log's tests)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from locker import events
from locker.db import Database
from locker.log import LogEntry, append, purge_before, write_checkpoint
from locker.models import Checkpoint

T0 = datetime(2025, 3, 3, 7, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# Entries the day produces, cycled through by ``add``: slots and people both
# present and absent, text that needs escaping in JSON.
ENTRIES = [
    LogEntry(events.BADGE_GRANTED, "reader", 3, 12, {"uid": "04A1B2C3"}),
    LogEntry(events.SLOT_UNLOCKED, "controller", 3, None, {"reason": "deposit"}),
    LogEntry(events.DOOR_OPENED, "controller", 3),
    LogEntry(events.DEPOSIT_CONFIRMED, "controller", 3, 12, {"custody_id": 7}),
    LogEntry(events.GRANT_CREATED, "manager", None, 12, {"note": 'Zoë\'s "outing"\n'}),
    LogEntry(events.AUTH_LOGIN, "deputy", details={"client": "192.0.2.7"}),
]


def open_db(path: Path) -> Database:
    """A ``Database`` on the file at ``path``."""
    return Database(f"sqlite:///{path}")


def add(database: Database, count: int, start: datetime = T0, step: timedelta = MINUTE) -> None:
    """Append ``count`` events, ``step`` apart from ``start``, and commit."""
    with database.write() as session:
        for n in range(count):
            append(session, ENTRIES[n % len(ENTRIES)], start + n * step)
        session.commit()


def checkpoint(database: Database, at: datetime) -> Checkpoint:
    """Take a daily checkpoint at ``at`` and commit."""
    with database.write() as session:
        taken = write_checkpoint(session, at)
        session.commit()
    return taken


@contextlib.contextmanager
def attacker(database: Database) -> Iterator[sqlite3.Connection]:
    """A plain ``sqlite3`` connection on the database file; commits on leaving."""
    database.dispose()
    conn = sqlite3.connect(database.url.removeprefix("sqlite:///"))
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def three_days(database: Database) -> datetime:
    """Ten events and a checkpoint on each of three days; the start of the third day."""
    day = datetime(2025, 3, 1, tzinfo=UTC)
    for n in range(3):
        add(database, 10, start=day + timedelta(days=n, hours=8))
        checkpoint(database, day + timedelta(days=n, hours=20))
    return day + timedelta(days=2)


def purge(database: Database, cutoff: datetime) -> int:
    """Purge before ``cutoff`` and commit."""
    with database.write() as session:
        count = purge_before(session, cutoff, cutoff + timedelta(days=2), "admin")
        session.commit()
    return count
