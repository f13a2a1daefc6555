"""The walk that verifies the chain: events read in keyset batches, each held
against the one before and against the checkpoints that anchor the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from locker.errors import ChainBroken
from locker.events import LOG_CHECKPOINT, LOG_PURGED
from locker.log.chain import GENESIS_HASH, TS_SHAPE, event_hash
from locker.models import Checkpoint, Event

EVENT_COLUMNS = (
    Event.id,
    Event.ts,
    Event.kind,
    Event.actor,
    Event.slot,
    Event.person_id,
    Event.details,
    Event.prev_hash,
    Event.hash,
)


HASH_SHAPE = re.compile(r"[0-9a-f]{64}")


CHECKPOINT_KINDS = frozenset({LOG_CHECKPOINT, LOG_PURGED})


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found.

    ``checked`` counts the events that verified before the first bad one (all
    of them when ``ok``). ``first_bad_id`` is the id of the first event that is
    wrong or missing and ``reason`` says why; both are empty when ``ok``, and
    ``first_bad_id`` is also ``None`` when a checkpoint row itself is malformed.
    ``head_id`` and ``head_hash`` are the last event that verified (the log's
    head when ``ok``): the pair a daily report prints. ``resumed_from`` is
    ``None`` for a walk from the chain's start; a check that resumed from an
    earlier verified checkpoint (:func:`~locker.log.verification.verify_since_checkpoint`)
    names that checkpoint's event, and walked only the events after it.
    """

    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str
    head_id: int
    head_hash: str
    resumed_from: int | None = None


@dataclass
class Anchors:
    """The checkpoints a walk of the chain is held against."""

    #: Where the chain starts: the newest purge checkpoint, or the genesis.
    start_id: int
    start_hash: str
    #: Daily and purge checkpoints, event id -> every hash recorded for it.
    daily: dict[int, list[str]]
    purges: dict[int, list[str]]
    #: ``(event id, reason)`` when the checkpoints already contradict each other;
    #: no event id when a checkpoint itself is unreadable.
    problem: tuple[int | None, str] | None = None
    #: Ids a daily checkpoint names, and the ids of the events that record them.
    watched: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        self.watched = frozenset(self.daily) | frozenset(e + 1 for e in self.daily)


def load_anchors(
    session: Session, *, from_id: int | None = None, to_id: int | None = None
) -> Anchors:
    """The checkpoints, all purge ones and the daily ones naming ``from_id``..``to_id``.

    A walk of a slice needs only the daily checkpoints inside it (and, to its
    end, after it); a year of them costs a report request milliseconds.
    """
    daily: dict[int, list[str]] = {}
    purges: dict[int, list[str]] = {}
    stmt = select(Checkpoint.id, Checkpoint.kind, Checkpoint.event_id, Checkpoint.hash)
    if from_id is not None:
        near = Checkpoint.event_id >= from_id
        if to_id is not None:
            near = and_(near, Checkpoint.event_id <= to_id)
        stmt = stmt.where(or_(Checkpoint.kind == "purge", near))
    try:
        rows = session.connection().execute(stmt).all()
    except OperationalError as exc:
        return Anchors(
            0, GENESIS_HASH, {}, {}, (None, f"the checkpoints cannot be read: {exc.orig}")
        )
    for row_id, kind, event_id, digest in rows:
        if type(event_id) is not int or type(digest) is not str:
            return Anchors(0, GENESIS_HASH, {}, {}, (None, f"checkpoint {row_id} is malformed"))
        if kind == "daily":
            daily.setdefault(event_id, []).append(digest)
        elif kind == "purge":
            purges.setdefault(event_id, []).append(digest)
    if not purges:
        return Anchors(0, GENESIS_HASH, daily, purges)
    start_id = max(purges)
    start_hash = purges[start_id][0]
    anchors = Anchors(start_id, start_hash, daily, purges)
    if not HASH_SHAPE.fullmatch(start_hash):
        anchors.problem = (
            start_id + 1,
            f"the purge checkpoint through event {start_id} is malformed",
        )
    elif any(digest != start_hash for digest in purges[start_id]):
        anchors.problem = (start_id + 1, f"the purge checkpoints through event {start_id} disagree")
    elif any(digest != start_hash for digest in daily.get(start_id, ())):
        anchors.problem = (
            start_id + 1,
            f"the purge checkpoint through event {start_id} disagrees with that event's "
            "daily checkpoint",
        )
    return anchors


def event_batches(
    session: Session, conditions: Sequence[Any], after_id: int, batch: int
) -> Iterator[Sequence[Any]]:
    """Rows of ``EVENT_COLUMNS`` in id order, ``batch`` at a time, by keyset.

    A row whose text is not valid UTF-8 (written behind the application's
    back) cannot be fetched at all; it raises :class:`ChainBroken` naming it,
    after the readable rows before it have been yielded.
    """
    last = after_id
    while True:
        stmt = (
            select(*EVENT_COLUMNS)
            .where(Event.id > last, *conditions)
            .order_by(Event.id)
            .limit(batch)
        )
        try:
            # Through the Core connection: for plain columns the ORM layer
            # adds only time.
            rows = session.connection().execute(stmt).all()
        except OperationalError as exc:
            yield from _readable_prefix(session, conditions, last, batch, exc)
            return
        if rows:
            yield rows
        if len(rows) < batch:
            return
        last = rows[-1][0]


def _readable_prefix(
    session: Session, conditions: Sequence[Any], last: int, batch: int, exc: OperationalError
) -> Iterator[Sequence[Any]]:
    ids = session.scalars(
        select(Event.id).where(Event.id > last, *conditions).order_by(Event.id).limit(batch)
    ).all()
    readable = []
    for event_id in ids:
        try:
            row = session.execute(select(*EVENT_COLUMNS).where(Event.id == event_id)).one()
        except OperationalError as row_exc:
            yield readable
            raise ChainBroken(event_id, f"it cannot be read: {row_exc.orig}") from row_exc
        readable.append(row)
    # Every row read on its own, so the batch failed for another reason.
    raise exc


@dataclass
class _Walk:
    """Where a walk of the chain has got to."""

    expected_id: int
    last_hash: str
    checked: int = 0
    #: The last event a daily checkpoint vouched for, to bound a rewrite.
    last_checkpointed: int = 0
    #: The newest purge checkpoint was recorded by a ``log.purged`` event.
    purge_confirmed: bool = False


def _check_batch(rows: Sequence[Any], walk: _Walk, anchors: Anchors) -> tuple[int, str] | None:
    """Check ``rows`` against ``walk``; the first ``(event id, reason)`` wrong, or ``None``.

    The hash is built here rather than by :func:`event_hash` because this loop
    runs a million times. The text is byte for byte what ``json.dumps`` gives:
    ``prev_hash`` is already known to be hex (it equals a hash just verified,
    or the start hash :func:`load_anchors` checked) and a ``ts`` of the canonical
    shape needs no escaping; anything unusual takes the slow, exact way.
    """
    sha256 = hashlib.sha256
    enc = encode_basestring
    ts_shape = TS_SHAPE.fullmatch
    fromisoformat = datetime.fromisoformat
    watched = anchors.watched
    expected = walk.expected_id
    last_hash = walk.last_hash
    checked = walk.checked
    problem: tuple[int, str] | None = None
    for id_, ts, kind, actor, slot, person_id, details, prev_hash, digest in rows:
        if id_ != expected:
            problem = _out_of_sequence(id_, expected)
            break
        if prev_hash != last_hash:
            problem = (id_, f"its prev_hash is not the hash of event {id_ - 1}")
            break
        canonical_ts = type(ts) is str and ts_shape(ts) is not None
        try:
            if (
                canonical_ts
                and (slot is None or type(slot) is int)
                and (person_id is None or type(person_id) is int)
            ):
                text = (
                    f'["{prev_hash}",{id_},"{ts}",{enc(kind)},{enc(actor)},'
                    f"{'null' if slot is None else slot},"
                    f"{'null' if person_id is None else person_id},{enc(details)}]"
                )
                computed = sha256(text.encode()).hexdigest()
            else:
                computed = event_hash(
                    prev_hash=prev_hash,
                    id=id_,
                    ts=ts,
                    kind=kind,
                    actor=actor,
                    slot=slot,
                    person_id=person_id,
                    details=details,
                )
        except (TypeError, ValueError):
            problem = (id_, "a field holds a value of the wrong type")
            break
        if computed != digest:
            problem = (id_, "its hash does not match its contents: the event was altered")
            break
        try:
            if not canonical_ts:
                raise ValueError(ts)
            fromisoformat(ts[:-1])
        except ValueError:
            problem = (id_, f"its time {ts!r} is not a UTC timestamp")
            break
        if id_ in watched or kind in CHECKPOINT_KINDS:
            problem = _check_anchored(id_, kind, details, prev_hash, digest, walk, anchors)
            if problem is not None:
                break
        last_hash = digest
        expected += 1
        checked += 1
    walk.expected_id, walk.last_hash, walk.checked = expected, last_hash, checked
    return problem


def _out_of_sequence(id_: int, expected: int) -> tuple[int, str]:
    if id_ > expected:
        return expected, f"event {expected} is missing: event {id_} follows event {expected - 1}"
    return id_, f"its id is out of sequence: event {expected} was expected"


def _check_anchored(
    id_: int,
    kind: str,
    details: str,
    prev_hash: str,
    digest: str,
    walk: _Walk,
    anchors: Anchors,
) -> tuple[int, str] | None:
    """Check an event that a checkpoint names, or that records a checkpoint."""
    recorded = anchors.daily.get(id_, ())
    if any(h != digest for h in recorded):
        since = f"event {walk.last_checkpointed}" if walk.last_checkpointed else "the start"
        return (
            id_,
            "it does not match its daily checkpoint: the chain was rewritten somewhere "
            f"after {since}",
        )
    if recorded:
        walk.last_checkpointed = id_
    if id_ - 1 in anchors.daily and kind != LOG_CHECKPOINT:
        return id_, f"event {id_ - 1} was checkpointed but this is not the log.checkpoint event"
    if kind == LOG_CHECKPOINT:
        record = _record(details, "event_id", "hash")
        if (
            record is None
            or record != (id_ - 1, prev_hash)
            or not _all_equal(anchors.daily.get(id_ - 1, ()), prev_hash)
        ):
            return id_, "the daily checkpoint it records is missing or altered"
    if kind == LOG_PURGED:
        record = _record(details, "through_id", "through_hash")
        if record is None:
            return id_, "its details are not a purge record"
        if not _all_equal(anchors.purges.get(record[0], ()), record[1]):
            # The chain up to here is sound, so the purge checkpoints are what
            # was altered, and the chain's start cannot be trusted.
            return (
                anchors.start_id + 1,
                f"the purge checkpoint is missing or altered: event {id_} records a purge "
                f"through event {record[0]}",
            )
        if record == (anchors.start_id, anchors.start_hash):
            walk.purge_confirmed = True
    return None


def _all_equal(recorded: Sequence[str], digest: str) -> bool:
    """There is a checkpoint and every one recorded for that event says ``digest``."""
    return bool(recorded) and all(h == digest for h in recorded)


def _record(details: str, id_key: str, hash_key: str) -> tuple[int, str] | None:
    """``(event id, hash)`` from a checkpoint event's details, or ``None`` if malformed."""
    try:
        parsed = json.loads(details)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    event_id, digest = parsed.get(id_key), parsed.get(hash_key)
    if type(event_id) is not int or not isinstance(digest, str):
        return None
    return event_id, digest


def walk_chain(
    session: Session, batch: int, *, first_id: int | None = None, stop_id: int | None = None
) -> VerifyReport:
    """Verify the chain from ``first_id`` (default: its start) up to ``stop_id`` or its end.

    A walk from the chain's start is held to the genesis or the newest purge
    checkpoint; one from a later ``first_id`` is held to the stored hash of
    the event before it. Only a walk to the end checks that the chain reaches
    as far as the daily checkpoints say, and only a walk from the start that a
    ``log.purged`` event records the purge.
    """
    if first_id is None:
        anchors = load_anchors(session)
    else:
        # A daily checkpoint of the event before the slice is checked against its record.
        anchors = load_anchors(session, from_id=first_id - 1, to_id=stop_id)
    problem: tuple[int | None, str] | None = anchors.problem
    if first_id is not None and first_id - 1 > anchors.start_id:
        # A slice: what the purge checkpoint says matters only to a walk from it.
        if problem is not None and problem[0] is not None:
            problem = None
        start_hash, anchor_problem = _stored_anchor(session, first_id - 1)
        problem = problem or anchor_problem
        walk = _Walk(first_id, start_hash, last_checkpointed=first_id - 1, purge_confirmed=True)
    else:
        walk = _Walk(anchors.start_id + 1, anchors.start_hash, purge_confirmed=not anchors.purges)
        if problem is None:
            problem = _before_start(session, anchors)
    if problem is None:
        conditions = [] if stop_id is None else [Event.id <= stop_id]
        try:
            for rows in event_batches(session, conditions, walk.expected_id - 1, batch):
                problem = _check_batch(rows, walk, anchors)
                if problem is not None:
                    break
        except ChainBroken as exc:
            # An unreadable row in its place is bad; one further on means
            # those before it are missing.
            unreadable = exc.event_id if exc.event_id is not None else walk.expected_id
            problem = (
                _out_of_sequence(unreadable, walk.expected_id)
                if unreadable != walk.expected_id
                else (unreadable, exc.reason)
            )
    if problem is None and stop_id is None:
        problem = _check_end(walk, anchors)
    head_id, head_hash = walk.expected_id - 1, walk.last_hash
    if problem is None:
        return VerifyReport(True, walk.checked, None, "", head_id, head_hash)
    return VerifyReport(False, walk.checked, problem[0], problem[1], head_id, head_hash)


def _stored_anchor(session: Session, event_id: int) -> tuple[str, tuple[int, str] | None]:
    """The stored hash of event ``event_id``, which a slice after it follows on from.

    ``(hash, None)``, or a stand-in hash and why the event cannot anchor a slice.
    """
    try:
        digest = session.scalar(select(Event.hash).where(Event.id == event_id))
    except OperationalError as exc:
        return GENESIS_HASH, (event_id, f"it cannot be read: {exc.orig}")
    if digest is None:
        return GENESIS_HASH, (event_id, f"event {event_id} is missing")
    if type(digest) is not str or not HASH_SHAPE.fullmatch(digest):
        # Its own hash is always hex, so the event was altered.
        return GENESIS_HASH, (event_id, "its hash is not a SHA-256 hash: the event was altered")
    return digest, None


def _before_start(session: Session, anchors: Anchors) -> tuple[int, str] | None:
    """An event numbered at or before the chain's start: purged, or renumbered there."""
    leftover = session.scalar(
        select(Event.id).where(Event.id <= anchors.start_id).order_by(Event.id).limit(1)
    )
    if leftover is None:
        return None
    if not anchors.purges:
        return leftover, "its id is out of sequence: the log starts at event 1"
    return (
        leftover,
        f"it is still there though the purge checkpoint says events through "
        f"{anchors.start_id} were purged",
    )


def _check_end(walk: _Walk, anchors: Anchors) -> tuple[int, str] | None:
    """Once walked to the end: does the chain reach as far as the checkpoints say?"""
    if not walk.purge_confirmed:
        return (
            anchors.start_id + 1,
            f"no log.purged event records the purge checkpoint through event {anchors.start_id}",
        )
    last_id = walk.expected_id - 1
    # A daily checkpoint of event E is followed by its log.checkpoint event E + 1.
    covered = max(anchors.daily, default=-1) + 1
    if covered > last_id:
        return (
            last_id + 1,
            f"event {last_id + 1} is missing: the log ends at event {last_id} but a daily "
            f"checkpoint covers it through event {covered}",
        )
    return None
