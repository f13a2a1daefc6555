"""The event log: append-only, each event chained to the one before by SHA-256.

An event's hash covers a canonical encoding of its id, time, kind, actor, slot,
person, details and the previous event's hash, so editing, deleting,
inserting or reordering any row breaks the chain at that row.

Checkpoints anchor the chain: a daily one records the head (and is printed on
the daily report), so deleting the newest events or rewriting the whole chain
shows against it; a purge one records where a retention purge cut the chain,
so what remains still verifies from there.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, Literal, TextIO

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.events import ALL_KINDS, LOG_CHECKPOINT, LOG_PURGED, LOG_VERIFIED
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
    if _TS_SHAPE.fullmatch(text) is None:
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


# Verification --------------------------------------------------------------

_EVENT_COLUMNS = (
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

# The one spelling format_ts writes. Checked with a regex and fromisoformat
# because strptime alone would take seconds over a year of events.
_TS_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_HASH_SHAPE = re.compile(r"[0-9a-f]{64}")
_CHECKPOINT_KINDS = frozenset({LOG_CHECKPOINT, LOG_PURGED})


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found.

    ``checked`` counts the events that verified before the first bad one (all
    of them when ``ok``). ``first_bad_id`` is the id of the first event that is
    wrong or missing and ``reason`` says why; both are empty when ``ok``, and
    ``first_bad_id`` is also ``None`` when a checkpoint row itself is malformed.
    ``head_id`` and ``head_hash`` are the last event that verified (the log's
    head when ``ok``): the pair a daily report prints.
    """

    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str
    head_id: int
    head_hash: str


@dataclass
class _Anchors:
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


def _anchors(session: Session, *, from_id: int | None = None, to_id: int | None = None) -> _Anchors:
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
        return _Anchors(
            0, GENESIS_HASH, {}, {}, (None, f"the checkpoints cannot be read: {exc.orig}")
        )
    for row_id, kind, event_id, digest in rows:
        if type(event_id) is not int or type(digest) is not str:
            return _Anchors(0, GENESIS_HASH, {}, {}, (None, f"checkpoint {row_id} is malformed"))
        if kind == "daily":
            daily.setdefault(event_id, []).append(digest)
        elif kind == "purge":
            purges.setdefault(event_id, []).append(digest)
    if not purges:
        return _Anchors(0, GENESIS_HASH, daily, purges)
    start_id = max(purges)
    start_hash = purges[start_id][0]
    anchors = _Anchors(start_id, start_hash, daily, purges)
    if not _HASH_SHAPE.fullmatch(start_hash):
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


def _batches(
    session: Session, conditions: Sequence[Any], after_id: int, batch: int
) -> Iterator[Sequence[Any]]:
    """Rows of ``_EVENT_COLUMNS`` in id order, ``batch`` at a time, by keyset.

    A row whose text is not valid UTF-8 (written behind the application's
    back) cannot be fetched at all; it raises :class:`ChainBroken` naming it,
    after the readable rows before it have been yielded.
    """
    last = after_id
    while True:
        stmt = (
            select(*_EVENT_COLUMNS)
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
            row = session.execute(select(*_EVENT_COLUMNS).where(Event.id == event_id)).one()
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


def _check_batch(rows: Sequence[Any], walk: _Walk, anchors: _Anchors) -> tuple[int, str] | None:
    """Check ``rows`` against ``walk``; the first ``(event id, reason)`` wrong, or ``None``.

    The hash is built here rather than by :func:`event_hash` because this loop
    runs a million times. The text is byte for byte what ``json.dumps`` gives:
    ``prev_hash`` is already known to be hex (it equals a hash just verified,
    or the start hash :func:`_anchors` checked) and a ``ts`` of the canonical
    shape needs no escaping; anything unusual takes the slow, exact way.
    """
    sha256 = hashlib.sha256
    enc = encode_basestring
    ts_shape = _TS_SHAPE.fullmatch
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
        if id_ in watched or kind in _CHECKPOINT_KINDS:
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
    anchors: _Anchors,
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


def _walk(
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
        anchors = _anchors(session)
    else:
        # A daily checkpoint of the event before the slice is checked against its record.
        anchors = _anchors(session, from_id=first_id - 1, to_id=stop_id)
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
            for rows in _batches(session, conditions, walk.expected_id - 1, batch):
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
    if type(digest) is not str or not _HASH_SHAPE.fullmatch(digest):
        # Its own hash is always hex, so the event was altered.
        return GENESIS_HASH, (event_id, "its hash is not a SHA-256 hash: the event was altered")
    return digest, None


def _before_start(session: Session, anchors: _Anchors) -> tuple[int, str] | None:
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


def _check_end(walk: _Walk, anchors: _Anchors) -> tuple[int, str] | None:
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


def verify(session: Session, *, batch: int = 5000) -> VerifyReport:
    """Walk the whole chain and name its first bad event, if any.

    Each event must follow the one before (id + 1), carry its hash as
    ``prev_hash``, hash to its own ``hash`` and have a valid time (times may go
    backwards: clock jumps happen and are logged). The chain starts from the
    newest purge checkpoint, which a ``log.purged`` event must record; every
    daily checkpoint must match its event and be followed by its
    ``log.checkpoint`` event, so deleting the newest events up to a checkpoint,
    or rewriting the chain below one, shows. A rewrite of the checkpoints as
    well can only be caught against a printed daily report's head hash.

    Rows are read as plain columns in keyset batches of ``batch``, in the
    session's one transaction, so memory stays flat and a concurrent append
    is not half-seen.
    """
    return _walk(session, batch)


def verify_range(
    session: Session, first_id: int, last_id: int | None = None, *, batch: int = 5000
) -> VerifyReport:
    """Verify the slice of the chain from event ``first_id`` through ``last_id``.

    The checks are :func:`verify`'s, on the slice only: each event follows the
    one before and hashes to its ``hash``, the first one follows on from the
    stored hash of event ``first_id - 1`` (or from the genesis or the purge
    checkpoint, when the slice starts the chain), and every daily checkpoint
    inside the slice matches its event and is followed by its
    ``log.checkpoint`` record. Every event through ``last_id`` must be there;
    with no ``last_id`` the slice runs to the head, which must reach as far as
    the daily checkpoints say. A slice that starts before the purge
    checkpoint starts at it.

    What a slice cannot see is a rewrite of the chain that starts inside it
    and runs on past its end, unless a daily checkpoint inside the slice
    contradicts it: slice a day through the checkpoint taken after it (the
    one printed on the next day's report) and that is covered too.
    """
    report = _walk(session, batch, first_id=max(first_id, 1), stop_id=last_id)
    if report.ok and last_id is not None and report.head_id < last_id:
        missing = report.head_id + 1
        return dataclasses.replace(
            report,
            ok=False,
            first_bad_id=missing,
            reason=f"event {missing} is missing: the slice ends at event {report.head_id}, "
            f"not {last_id}",
        )
    return report


def verify_or_raise(session: Session, *, batch: int = 5000) -> VerifyReport:
    """:func:`verify`, raising :class:`ChainBroken` at the first bad event."""
    report = verify(session, batch=batch)
    if not report.ok:
        raise ChainBroken(report.first_bad_id, report.reason)
    return report


def paper_mismatch(session: Session, event_id: int, digest: str) -> str | None:
    """Why event ``event_id`` no longer carries ``digest``, or ``None`` if it does.

    ``(event_id, digest)`` is a checkpoint as printed on a daily report. A
    chain rewritten below it, its checkpoints included, agrees with itself and
    passes :func:`verify`, but can no longer reach that hash. An event
    removed by a retention purge can be checked only if the purge checkpoint
    names it.
    """
    printed = digest.strip().lower()
    stored = session.scalar(select(Event.hash).where(Event.id == event_id))
    if stored is None:
        anchors = _anchors(session)
        if event_id > anchors.start_id or not anchors.purges:
            return f"event {event_id} is not in the log"
        kept = anchors.purges.get(event_id)
        if not kept:
            return (
                f"event {event_id} was removed by a retention purge: it can no longer be "
                "held against paper"
            )
        stored = kept[0]
    if stored != printed:
        return f"event {event_id} carries hash {stored}, but the paper says {printed}"
    return None


# Whole-log verifications ----------------------------------------------------


@dataclass(frozen=True)
class WholeLogCheck:
    """A verification of the whole chain, as its ``log.verified`` event records it."""

    #: The ``log.verified`` event, and when it was logged (the check had just ended;
    #: ``None`` if its time is unreadable).
    event_id: int
    at: datetime | None
    #: What the check found; ``None`` when the record itself is unreadable.
    report: VerifyReport | None
    #: When the check began, if recorded.
    started: datetime | None = None


def verified_entry(report: VerifyReport, started: datetime) -> LogEntry:
    """The ``log.verified`` entry recording ``report``, a check of the whole chain."""
    return LogEntry(
        LOG_VERIFIED,
        actor="system",
        details={
            "ok": report.ok,
            "checked": report.checked,
            "through_id": report.head_id,
            "head_hash": report.head_hash,
            "first_bad_id": report.first_bad_id,
            "reason": report.reason,
            "started": format_ts(started),
        },
    )


def last_whole_check(session: Session) -> WholeLogCheck | None:
    """The newest ``log.verified`` record (one read of the kind index), or ``None``."""
    row = session.execute(
        select(Event.id, Event.ts, Event.details)
        .where(Event.kind == LOG_VERIFIED)
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        at = parse_ts(row.ts)
    except (TypeError, ValueError):
        return WholeLogCheck(row.id, None, None)
    return WholeLogCheck(row.id, at, *_whole_check_record(row.details))


def _whole_check_record(details: str) -> tuple[VerifyReport | None, datetime | None]:
    try:
        record = json.loads(details)
        report = VerifyReport(
            ok=record["ok"],
            checked=record["checked"],
            first_bad_id=record["first_bad_id"],
            reason=record["reason"],
            head_id=record["through_id"],
            head_hash=record["head_hash"],
        )
        started = parse_ts(record["started"])
    except (TypeError, ValueError, KeyError):
        return None, None
    if (
        type(report.ok) is not bool
        or type(report.checked) is not int
        or type(report.head_id) is not int
        or not (report.first_bad_id is None or type(report.first_bad_id) is int)
        or not isinstance(report.reason, str)
        or not isinstance(report.head_hash, str)
    ):
        return None, None
    return report, started


# Checkpoints and retention ------------------------------------------------


def write_checkpoint(session: Session, at: datetime) -> Checkpoint:
    """Record the head as today's daily checkpoint and log that it was taken.

    The checkpoint is followed by a ``log.checkpoint`` event carrying the same
    ``event_id`` and ``hash``. Use a writing session; the caller commits.
    """
    event_id, digest = head(session)
    checkpoint = Checkpoint(kind="daily", event_id=event_id, hash=digest, created_at=at)
    session.add(checkpoint)
    append(
        session,
        LogEntry(LOG_CHECKPOINT, actor="system", details={"event_id": event_id, "hash": digest}),
        at,
    )
    return checkpoint


def checkpoints(
    session: Session, day_start: datetime, day_end: datetime, *, kind: str | None = "daily"
) -> list[Checkpoint]:
    """Checkpoints taken from ``day_start`` up to (not including) ``day_end``, oldest first.

    Only daily ones unless ``kind`` says otherwise (``"purge"``, or ``None`` for all).
    """
    stmt = select(Checkpoint).where(
        Checkpoint.created_at >= day_start, Checkpoint.created_at < day_end
    )
    if kind is not None:
        stmt = stmt.where(Checkpoint.kind == kind)
    return list(session.scalars(stmt.order_by(Checkpoint.created_at, Checkpoint.id)))


def purge_before(session: Session, cutoff: datetime, at: datetime, actor: str) -> int:
    """Delete the oldest events, those before ``cutoff``; the number deleted.

    Only the unbroken run of oldest events timed before ``cutoff`` goes (an
    older time after a clock jump keeps its event), and never an event past
    the newest daily checkpoint, so nothing is purged that a printed report
    has not covered. What is purged is verified first: a broken chain raises
    :class:`ChainBroken` and nothing is deleted, so a purge cannot hide
    tampering. A ``purge`` checkpoint then records the last purged event and
    a ``log.purged`` event records the purge. Use a writing session; the
    caller commits.
    """
    cutoff_ts = format_ts(cutoff)
    anchors = _anchors(session)
    newest_daily = max(anchors.daily, default=0)
    first_kept = session.scalar(
        select(Event.id)
        .where(Event.id > anchors.start_id, Event.ts >= cutoff_ts)
        .order_by(Event.id)
        .limit(1)
    )
    if first_kept is None:
        first_kept = session.scalar(select(func.max(Event.id))) or 0
        first_kept += 1
    through_id = min(first_kept - 1, newest_daily)
    if through_id <= anchors.start_id:
        return 0
    report = _walk(session, 5000, stop_id=through_id + 1)
    if not report.ok:
        raise ChainBroken(report.first_bad_id, report.reason)
    if report.head_id != through_id + 1:
        # The log.checkpoint event after the newest daily checkpoint is gone:
        # purging now would cover that up.
        raise ChainBroken(report.head_id + 1, "it is missing: a daily checkpoint covers it")
    through_hash = session.scalar(select(Event.hash).where(Event.id == through_id)) or ""
    session.add(Checkpoint(kind="purge", event_id=through_id, hash=through_hash, created_at=at))
    deleted = session.execute(
        delete(Event).where(Event.id <= through_id).execution_options(synchronize_session=False)
    )
    count = deleted.rowcount
    append(
        session,
        LogEntry(
            LOG_PURGED,
            actor=actor,
            details={
                "through_id": through_id,
                "through_hash": through_hash,
                "count": count,
                "cutoff": cutoff_ts,
            },
        ),
        at,
    )
    return count


# Export ----------------------------------------------------------------------

EXPORT_FIELDS = ("id", "ts", "kind", "actor", "slot", "person_id", "details", "prev_hash", "hash")

# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export(
    session: Session,
    out: TextIO,
    *,
    fmt: Literal["csv", "jsonl"] = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
    person_id: int | None = None,
    batch: int = 5000,
) -> int:
    """Write events to ``out`` oldest first; the number of events written.

    ``since`` is inclusive and ``until`` exclusive; ``kinds`` limits the kinds
    and ``person_id`` the person. CSV has a header row, ``details`` as its
    canonical JSON text, and a leading apostrophe on any text cell a
    spreadsheet would take for a formula; JSON lines carry ``details`` as an
    object and every value exactly as stored. Rows are streamed in keyset
    batches, so memory stays flat. Open a CSV file with ``newline=""``. A row
    that cannot be read, or whose details are not JSON, raises
    :class:`ChainBroken` (run :func:`verify` to see the rest).
    """
    written = 0
    for text, count in _export(session, fmt, since, until, kinds, person_id, batch):
        out.write(text)
        written += count
    return written


def export_chunks(
    session: Session,
    *,
    fmt: Literal["csv", "jsonl"] = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
    person_id: int | None = None,
    batch: int = 5000,
    redact: Callable[[str], str] | None = None,
) -> Iterator[str]:
    """What :func:`export` writes, as text chunks to stream: one per batch of events.

    The format is checked at once; the events are read as the chunks are taken.
    ``redact`` rewrites each event's stored details text on the way out (the
    panel hides badge UIDs from viewers this way); such an export no longer
    matches its hashes.
    """
    _check_format(fmt)
    chunks = _export(session, fmt, since, until, kinds, person_id, batch, redact)
    return (text for text, _ in chunks)


def _export(
    session: Session,
    fmt: str,
    since: datetime | None,
    until: datetime | None,
    kinds: Iterable[str] | None,
    person_id: int | None,
    batch: int,
    redact: Callable[[str], str] | None = None,
) -> Iterator[tuple[str, int]]:
    """``(text, events in it)`` for each batch of the export; the CSV header first."""
    _check_format(fmt)
    conditions: list[Any] = []
    after_id = 0
    if since is not None:
        conditions.append(Event.ts >= format_ts(since))
    if until is not None:
        conditions.append(Event.ts < format_ts(until))
    if conditions:
        # The ts index gives the ids the time range spans, so each keyset
        # batch reads a range of the primary key (or of the kind or person index).
        low, high = session.execute(
            select(func.min(Event.id), func.max(Event.id)).where(*conditions)
        ).one()
        after_id = -1 if low is None else low - 1
        conditions.append(Event.id <= (-1 if high is None else high))
    if kinds is not None:
        conditions.append(Event.kind.in_(sorted(set(kinds))))
    if person_id is not None:
        conditions.append(Event.person_id == person_id)
    batches = _batches(session, conditions, after_id, batch)
    if redact is not None:
        at = EXPORT_FIELDS.index("details")
        batches = ([(*r[:at], redact(r[at]), *r[at + 1 :]) for r in rows] for rows in batches)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_FIELDS)
        yield _take(buffer), 0
        for rows in batches:
            writer.writerows([_csv_cell(value) for value in row] for row in rows)
            yield _take(buffer), len(rows)
    else:
        for rows in batches:
            yield "".join(_jsonl_line(row) for row in rows), len(rows)


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or jsonl")


def _take(buffer: io.StringIO) -> str:
    """What has been written to ``buffer``, emptying it."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _jsonl_line(row: Sequence[Any]) -> str:
    record = dict(zip(EXPORT_FIELDS, row, strict=True))
    try:
        record["details"] = json.loads(record["details"])
    except (TypeError, ValueError) as exc:
        raise ChainBroken(record["id"], "its details are not valid JSON") from exc
    return json.dumps(record, ensure_ascii=False) + "\n"
