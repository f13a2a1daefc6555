"""The event log: append-only, each event chained to the one before by SHA-256.

An event's hash covers a canonical encoding of its id, time, kind, actor, slot,
person, details and the previous event's hash, so editing, deleting,
inserting or reordering any row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker.events import ALL_KINDS
from locker.models import Checkpoint, Event

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class LogEntry:
    """An event the rules or a command want logged, before it has an id and hash."""

    kind: str
    actor: str = ""
    slot: int | None = None
    person_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def format_ts(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: the one spelling that is hashed."""
    if moment.tzinfo is None:
        raise ValueError("event times must be aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """The inverse of :func:`format_ts`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


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
    row = session.execute(select(Event.id, Event.hash).order_by(Event.id.desc()).limit(1)).first()
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
    so the head read here cannot change before the commit.
    """
    if entry.kind not in ALL_KINDS:
        raise ValueError(f"unknown event kind {entry.kind!r}")
    last_id, last_hash = head(session)
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
    session.add(event)
    session.flush()
    return event


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
