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
   is a person's name, becomes ``person:<id>``, when it is a panel account's
   ``@account`` and when it is a name that is nobody's any more (a leaver
   renamed or removed) ``@former``, the name committed in both cases; then
   every event is hashed again in order, so the new chain commits to every
   old hash;
4. daily checkpoints and the ``log.checkpoint`` events that record them are
   moved to the new hashes.

A checkpoint printed before the migration (event id, old hash) is then held
against the event's ``legacy_hash``, which the new chain covers
(:func:`locker.log.verification.paper_mismatch`). See ``docs/log-migration.md``.

Migration 0007 (:func:`rechain_accounts`) does the same for a log already in
the 0006 form whose panel account names, client addresses and former actors
were still in clear: it re-hashes only from the first event that changes,
each keeping its hash from before as ``hash_before_0007``.
"""

from __future__ import annotations

import json

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.events import LOG_CHECKPOINT
from locker.log.chain import canonical_details, hash_of
from locker.log.personal import AccountDirectory, private_entry
from locker.log.walk import load_anchors, walk_chain
from locker.models import Checkpoint, Event

#: The details key keeping an event's hash from before the migration.
LEGACY_HASH = "legacy_hash"
#: The details key keeping an event's hash from before migration 0007 (when it changed).
HASH_BEFORE_0007 = "hash_before_0007"
#: The checkpoint kind that seals the old chain's head.
SEAL = "seal"


def rechain_with_commitments(session: Session, at, *, batch: int = 2000) -> int:
    """Seal the old chain, move its personal values out and re-chain it; events moved.

    Raises :class:`ChainBroken` (changing nothing) when the old chain does
    not verify. Idempotent: a log already moved (an event carries
    ``legacy_hash``) or an empty one is left alone.
    """
    report = _verified(session)
    anchors = load_anchors(session)
    if report.head_id <= anchors.start_id or _already_moved(session, anchors.start_id):
        return 0
    session.add(
        Checkpoint(kind=SEAL, event_id=report.head_id, hash=report.head_hash, created_at=at)
    )
    return _rechain(session, anchors, LEGACY_HASH, every=True, batch=batch)


def rechain_accounts(session: Session, at, *, batch: int = 2000) -> int:
    """Migration 0007: commit the panel account names, addresses and former actors
    still in clear in a log already in the 0006 form; events re-hashed.

    Events before the first one that changes keep their hashes; from it on,
    each re-hashed event keeps its hash from before as :data:`HASH_BEFORE_0007`
    (a checkpoint printed in between is held against it), after a ``seal``
    checkpoint of the head as it was. Raises :class:`ChainBroken` (changing
    nothing) when the chain does not verify; a log with nothing to move is left
    alone, so running it twice changes nothing the second time.
    """
    report = _verified(session)
    anchors = load_anchors(session)
    if report.head_id <= anchors.start_id:
        return 0
    moved = _rechain(session, anchors, HASH_BEFORE_0007, every=False, batch=batch)
    if moved:
        session.add(
            Checkpoint(kind=SEAL, event_id=report.head_id, hash=report.head_hash, created_at=at)
        )
    return moved


def _verified(session: Session):
    report = walk_chain(session, 5000)
    if not report.ok:
        raise ChainBroken(
            report.first_bad_id,
            f"{report.reason}; the log was not migrated: restore a good copy, or keep "
            "this database as evidence and start a new one",
        )
    return report


def _rechain(session: Session, anchors, keep_key: str, *, every: bool, batch: int) -> int:
    """Move every event after ``anchors.start_id`` to the current form and re-hash it.

    The event's hash from before is kept under ``keep_key`` whenever it
    changes (``every``: on each event, changed or not). Returns how many
    events got a new hash.
    """
    accounts = AccountDirectory(session, linked=_accounts_linked(session))
    new_hashes: dict[int, str] = {}
    last_hash, last_id, moved = anchors.start_hash, anchors.start_id, 0
    while True:
        rows = session.scalars(
            select(Event).where(Event.id > last_id).order_by(Event.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            old_hash = event.hash
            last_hash = _move(session, event, last_hash, new_hashes, accounts, keep_key, every)
            if event.id in anchors.daily:
                new_hashes[event.id] = event.hash
            moved += last_hash != old_hash
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


def _move(
    session: Session,
    event: Event,
    prev_hash: str,
    checkpointed: dict[int, str],
    accounts: AccountDirectory,
    keep_key: str,
    every: bool,
) -> str:
    """Give ``event`` its new details, actor and hash after ``prev_hash``; its new hash."""
    old = json.loads(event.details)
    details = old if isinstance(old, dict) else {"details": old}
    entry = LogEntry(event.kind, event.actor, event.slot, event.person_id, details)
    moved = private_entry(session, entry, event.id, accounts, migrating=True)
    details = dict(moved.details)
    if event.kind == LOG_CHECKPOINT and event.id - 1 in checkpointed:
        details["hash"] = prev_hash
    unchanged = moved.actor == event.actor and details == old and prev_hash == event.prev_hash
    if unchanged and not every:
        return event.hash
    details[keep_key] = event.hash
    event.actor = moved.actor
    event.details = canonical_details(details)
    event.prev_hash = prev_hash
    event.hash = hash_of(event)
    return event.hash


def _accounts_linked(session: Session) -> bool:
    """Whether ``panel_accounts`` has its ``person_id`` yet (migration 0007 adds it)."""
    columns = inspect(session.connection()).get_columns("panel_accounts")
    return any(column["name"] == "person_id" for column in columns)


def _already_moved(session: Session, start_id: int) -> bool:
    first = session.scalar(select(Event.details).where(Event.id == start_id + 1))
    return first is not None and f'"{LEGACY_HASH}":' in first


def earlier_hashes_of(details: str) -> set[str]:
    """Every hash the event carried before a migration re-hashed it (0006, 0007)."""
    kept = (_kept_hash(details, key) for key in (LEGACY_HASH, HASH_BEFORE_0007))
    return {digest for digest in kept if digest is not None}


def _kept_hash(details: str, key: str) -> str | None:
    try:
        parsed = json.loads(details)
    except (TypeError, ValueError):
        return None
    value = parsed.get(key) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None
