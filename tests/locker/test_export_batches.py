"""The export's batch resolution shows every row as resolving that row alone would.

:func:`locker.log.exporter.resolved_batches` resolves a batch at once (one
query for the batch's values and names, each actor once, untouched rows passed
through, values swapped into the stored text where none is erased); this pins
it to the plain row-by-row reading it stands for.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from locker import events
from locker.db import Database
from locker.log import LogEntry, append
from locker.log.chain import canonical_details
from locker.log.exporter import EXPORT_FIELDS, resolved_batches
from locker.log.personal import Resolver, erase_values, parsed_details
from locker.log.walk import event_batches
from locker.models import Person

T0 = datetime(2025, 3, 3, 7, 30, tzinfo=UTC)
# Text that JSON escapes, and a letter it keeps as it is.
OUTING = 'Zoë\'s "outing"\n'

ENTRIES = [
    LogEntry(events.BADGE_GRANTED, "Aisha", 1, 1, {"uid": "04A1B2C3", "action": "deposit"}),
    LogEntry(events.SLOT_UNLOCKED, "system", 1, None, {"reason": "deposit"}),
    LogEntry(events.BADGE_GRANTED, "Ben", 2, 2, {"uid": "04FFEE01", "action": "deposit"}),
    LogEntry(events.AUTH_LOGIN, "deputy", details={"client": "192.0.2.7", "username": "deputy"}),
    LogEntry(events.DOOR_OPENED, "daemon", 2),
    LogEntry(events.DEPOSIT_CONFIRMED, "Ben", 2, 2, {"custody_id": 7}),
    LogEntry(events.GRANT_CREATED, "Aisha", None, 2, {"note": "dentist", "manager_id": 1}),
    LogEntry(events.GRANT_CREATED, "Aisha", None, 1, {"note": OUTING, "manager_id": 1}),
    LogEntry(events.VISITOR_SIGNED_IN, "Mr Jones", 4, None, {"visitor": "Mr Jones"}),
    LogEntry(events.BADGE_REFUSED, "Ben", 2, 2, {"uid": "04FFEE01", "reason": "on shift"}),
]


def one_row_at_a_time(session, row) -> tuple:
    """A row shown by a resolver of its own, as the log's pages show one event."""
    at = {field: n for n, field in enumerate(EXPORT_FIELDS)}
    details = parsed_details(row[at["details"]])
    resolver = Resolver(session)
    resolver.load([details] if details is not None else [], [row[at["actor"]]])
    cells = list(row)
    cells[at["actor"]] = resolver.actor(row[at["actor"]], details)
    if details is not None:
        shown = resolver.details(details, row[at["person_id"]])
        if shown != details:
            cells[at["details"]] = canonical_details(shown)
    return tuple(cells)


def test_a_batch_is_shown_as_each_row_alone_would_be(db: Database) -> None:
    with db.write() as session:
        for name in ("Aisha", "Ben"):
            session.add(Person(name=name, role="manager", created_at=T0))
        session.flush()
        for n in range(24):
            append(session, ENTRIES[n % len(ENTRIES)], T0 + n * timedelta(minutes=1))
        # Ben is forgotten: his values go, and he reads as a pseudonym.
        erase_values(session, 2)
        session.commit()
    with db.read() as session:
        batches = list(resolved_batches(session, event_batches(session, [], 0, 5)))
        rows = [row for batch in batches for row in batch]
        stored = [row for batch in event_batches(session, [], 0, 100) for row in batch]
        expected = [one_row_at_a_time(session, row) for row in stored]
    assert len(batches) == 5
    assert [tuple(row) for row in rows] == expected
    shown = "\n".join(map(str, rows))
    # The batch really resolved something: names, the card, the visitor, a
    # pseudonym, and an actor whose row holds no reference.
    assert "04A1B2C3" in shown and "Mr Jones" in shown and "192.0.2.7" in shown
    assert "Former staff #2" in shown and "04FFEE01" not in shown
    assert "'Aisha', None, 2, '{\"manager_id\":1" in shown
    assert '"note":"Zoë\'s \\"outing\\"\\n"' in "\n".join(str(row[6]) for row in rows)
    assert "'deposit.confirmed', 'Ben', 2, 2, '{\"custody_id\":7}'" in shown


def test_details_that_are_not_text_are_exported_as_stored(db: Database) -> None:
    # Only a row written behind the application's back holds them: the export
    # still runs to the end (locker log verify names the row).
    with db.write() as session:
        session.add(Person(name="Aisha", role="manager", created_at=T0))
        session.flush()
        for n in range(4):
            append(session, ENTRIES[n], T0 + n * timedelta(minutes=1))
        session.commit()
    db.dispose()
    conn = sqlite3.connect(db.url.removeprefix("sqlite:///"))
    with conn:
        conn.execute("UPDATE events SET details = X'7B7D' WHERE id = 1")  # a blob, not text
    conn.close()
    with db.read() as session:
        rows = [
            row
            for batch in resolved_batches(session, event_batches(session, [], 0, 5))
            for row in batch
        ]
    at = EXPORT_FIELDS.index("details")
    assert [row[at] for row in rows][:2] == [b"{}", '{"reason":"deposit"}']
    assert rows[0][EXPORT_FIELDS.index("actor")] == "Aisha"
