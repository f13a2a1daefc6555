"""The chain itself: the canonical encoding of an event, its SHA-256 hash, and
appending an event after the head.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.events import ALL_KINDS
from locker.log.personal import private_entry
from locker.models import Checkpoint, Event

GENESIS_HASH = "0" * 64


def format_ts(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: the one spelling that is hashed."""
    if moment.tzinfo is None:
        raise ValueError("event times must be aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """The inverse of :func:`format_ts`; anything else raises ``ValueError``."""
    # fromisoformat is some forty times quicker than strptime, and a report
    # reads hundreds of times; the shape check keeps it to format_ts's spelling.
    if TS_SHAPE.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a UTC time as the log writes it")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def canonical_details(details: dict[str, Any]) -> str:
    """Details as canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    *,
    prev_hash: str,
    id: int,
    ts: str,
    kind: str,
    actor: str,
    slot: int | None,
    person_id: int | None,
    details: str,
) -> str:
    """SHA-256 over the canonical encoding of one event and the hash before it."""
    encoded = json.dumps(
        [prev_hash, id, ts, kind, actor, slot, person_id, details],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def head(session: Session) -> tuple[int, str]:
    """``(id, hash)`` of the newest event, or ``(0, GENESIS_HASH)`` on an empty log.

    After a retention purge the newest event may be gone only if every event
    was purged; the purge checkpoint then stands in for it.
    """
    # On the table's columns: an ORM query would flush the session first, and the
    # badge's path pays for every flush.
    row = session.execute(_NEWEST).first()
    if row is not None:
        return row.id, row.hash
    cp = session.execute(
        select(Checkpoint.event_id, Checkpoint.hash)
        .where(Checkpoint.kind == "purge")
        .order_by(Checkpoint.event_id.desc())
        .limit(1)
    ).first()
    return (cp.event_id, cp.hash) if cp is not None else (0, GENESIS_HASH)


def append(session: Session, entry: LogEntry, at: datetime) -> Event:
    """Add ``entry`` at time ``at`` to the chain, in ``session``'s transaction.

    The caller commits; the session must be a writing one (``Database.write``)
    so the head read here cannot change before the commit. Personal values
    go beside the chain, the chain keeps commitments to them
    (:mod:`locker.log.personal`).
    """
    if entry.kind not in ALL_KINDS:
        raise ValueError(f"unknown event kind {entry.kind!r}")
    last_id, last_hash = _head_in_transaction(session)
    entry = private_entry(session, entry, last_id + 1)
    event = Event(
        id=last_id + 1,
        ts=format_ts(at),
        kind=entry.kind,
        actor=entry.actor,
        slot=entry.slot,
        person_id=entry.person_id,
        details=canonical_details(entry.details),
        prev_hash=last_hash,
    )
    event.hash = hash_of(event)
    # A row inserted at once, not an object for the session's next flush: the
    # flush machinery cost a badge's decision more than its SQL did, and a row
    # is in the chain the moment it is appended. The event returned is not in
    # the session (nothing changes an event once written).
    session.execute(insert(EVENTS), {name: getattr(event, name) for name in _COLUMNS})
    session.info[_HEAD_KEY] = (_transaction(session), (event.id, event.hash))
    return event


#: The events table, written to without the ORM's unit of work (see :func:`append`).
EVENTS = Event.__table__
_COLUMNS = tuple(column.name for column in EVENTS.columns)
_NEWEST = select(EVENTS.c.id, EVENTS.c.hash).order_by(EVENTS.c.id.desc()).limit(1)


#: ``session.info`` key of the head the transaction's last append left, with that
#: transaction: a badge's decision appends two to four events, and reading the head
#: again for each cost a query on the badge's path.
_HEAD_KEY = "locker.log.head"


def _transaction(session: Session) -> object | None:
    """The innermost transaction under way (a savepoint's, when one is open)."""
    return session.get_nested_transaction() or session.get_transaction()


def _head_in_transaction(session: Session) -> tuple[int, str]:
    """:func:`head`, known without a query when this transaction appended last.

    Keyed by the transaction object itself: after a commit, a rollback or the end
    of a savepoint the transaction is another one, and the head is read again.
    """
    known = session.info.get(_HEAD_KEY)
    if known is not None and known[0] is not None and known[0] is _transaction(session):
        return known[1]
    return head(session)


def hash_of(event: Event) -> str:
    """The hash ``event`` should carry, recomputed from its fields."""
    return event_hash(
        prev_hash=event.prev_hash,
        id=event.id,
        ts=event.ts,
        kind=event.kind,
        actor=event.actor,
        slot=event.slot,
        person_id=event.person_id,
        details=event.details,
    )


# The one spelling format_ts writes. Checked with a regex and fromisoformat
# because strptime alone would take seconds over a year of events.
TS_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
