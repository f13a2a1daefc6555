"""Moving a log written before :mod:`locker.log.personal` to commitments, verifiably.

Logs from before migration 0006 hold names and card numbers inside hashed
details. Taking them out changes every event's hash, so the old chain is
sealed and re-chained rather than silently rewritten:

1. the old chain is verified as it stands; a broken one is refused (nothing
   changes, and the message names the first bad event), because re-chaining
   it would launder the tampering;
2. its head is recorded as a ``seal`` checkpoint (``event_id``, old hash);
3. each event's details get commitments for their personal values (as new
   events do) and ``legacy_hash``, the event's old hash; the actor, when it
   is a person's name, becomes ``person:<id>``; then every event is hashed
   again in order, so the new chain commits to every old hash;
4. daily checkpoints and the ``log.checkpoint`` events that record them are
   moved to the new hashes.

A checkpoint printed before the migration (event id, old hash) is then held
against the event's ``legacy_hash``, which the new chain covers
(:func:`locker.log.verification.paper_mismatch`). See ``docs/log-migration.md``.
"""

from __future__ import annotations

import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.events import LOG_CHECKPOINT
from locker.log.chain import canonical_details, hash_of
from locker.log.personal import commit_details, personal_actor
from locker.log.walk import load_anchors, walk_chain
from locker.models import Checkpoint, Event

#: The details key keeping an event's hash from before the migration.
LEGACY_HASH = "legacy_hash"
#: The checkpoint kind that seals the old chain's head.
SEAL = "seal"


def rechain_with_commitments(session: Session, at, *, batch: int = 2000) -> int:
    """Seal the old chain, move its personal values out and re-chain it; events moved.

    Raises :class:`ChainBroken` (changing nothing) when the old chain does
    not verify. Idempotent: a log already moved (an event carries
    ``legacy_hash``) or an empty one is left alone.
    """
    report = walk_chain(session, 5000)
    if not report.ok:
        raise ChainBroken(
            report.first_bad_id,
            f"{report.reason}; the log was not migrated: restore a good copy, or keep "
            "this database as evidence and start a new one",
        )
    anchors = load_anchors(session)
    if report.head_id <= anchors.start_id or _already_moved(session, anchors.start_id):
        return 0
    session.add(
        Checkpoint(kind=SEAL, event_id=report.head_id, hash=report.head_hash, created_at=at)
    )
    new_hashes: dict[int, str] = {}
    last_hash, last_id, moved = anchors.start_hash, anchors.start_id, 0
    while True:
        rows = session.scalars(
            select(Event).where(Event.id > last_id).order_by(Event.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            last_hash = _move(session, event, last_hash, new_hashes)
            if event.id in anchors.daily:
                new_hashes[event.id] = event.hash
            moved += 1
        last_id = rows[-1].id
        session.flush()
        session.expunge_all()
    for event_id, digest in new_hashes.items():
        session.execute(
            update(Checkpoint)
            .where(Checkpoint.kind == "daily", Checkpoint.event_id == event_id)
            .values(hash=digest)
        )
    return moved


def _move(session: Session, event: Event, prev_hash: str, checkpointed: dict[int, str]) -> str:
    """Give ``event`` its new details, actor and hash after ``prev_hash``; its new hash."""
    old = json.loads(event.details)
    details = old if isinstance(old, dict) else {"details": old}
    entry = LogEntry(event.kind, event.actor, event.slot, event.person_id, details)
    details = commit_details(session, details, event.person_id, event.id)
    if event.kind == LOG_CHECKPOINT and event.id - 1 in checkpointed:
        details["hash"] = prev_hash
    details[LEGACY_HASH] = event.hash
    event.actor = personal_actor(session, entry)
    event.details = canonical_details(details)
    event.prev_hash = prev_hash
    event.hash = hash_of(event)
    return event.hash


def _already_moved(session: Session, start_id: int) -> bool:
    first = session.scalar(select(Event.details).where(Event.id == start_id + 1))
    return first is not None and f'"{LEGACY_HASH}":' in first


def legacy_hash_of(details: str) -> str | None:
    """The pre-migration hash an event's stored details keep, if any."""
    try:
        parsed = json.loads(details)
    except (TypeError, ValueError):
        return None
    value = parsed.get(LEGACY_HASH) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None
