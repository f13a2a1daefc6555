"""Verifying the log: the whole chain, a slice of it, the nightly check from
the last verified checkpoint, against a printed checkpoint, and the record of a
whole-log verification (``log.verified``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.events import LOG_VERIFIED
from locker.log.chain import format_ts, parse_ts
from locker.log.legacy import earlier_hashes_of
from locker.log.walk import VerifyReport, load_anchors, walk_chain
from locker.models import Event

#: The nightly check walks the whole chain from its start at least once in this
#: many checks (one a night: once a week); the others resume from the last
#: verified checkpoint.
FULL_EVERY = 7


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
    return walk_chain(session, batch)


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
    report = walk_chain(session, batch, first_id=max(first_id, 1), stop_id=last_id)
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


def verify_since_checkpoint(
    session: Session, *, full_every: int = FULL_EVERY, batch: int = 5000
) -> VerifyReport:
    """The nightly check: the chain from the last verified checkpoint to the head.

    The checkpoint is the head (id and hash) that the newest ``log.verified``
    record found sound. It is trusted only while the stored event at that id
    still carries that hash and every event from the chain's start (the
    genesis or the newest purge checkpoint) up to it is still there, by count;
    then only the events after it are walked, with :func:`verify`'s checks
    (the daily checkpoints after it included). A chain rewritten and rehashed
    anywhere up to the checkpoint no longer reaches its hash, so it is caught
    here even when the rewrite's daily checkpoints were forged too; an edit
    before the checkpoint that leaves the later hashes alone is left to the
    whole walk, which this runs instead at least every ``full_every``-th time,
    and whenever there is no sound checkpoint to resume from (none yet, the
    last check found the chain broken, a purge removed it, events are missing).

    ``checked`` counts every event from the chain's start that is vouched for
    (those up to the checkpoint by the earlier check), so a report reads the
    same either way; ``resumed_from`` says where the walk began.
    """
    resume = _resume_point(session, full_every)
    if resume is None:
        return verify(session, batch=batch)
    record_id, through_id, head_hash = resume
    start_id = load_anchors(session, from_id=through_id, to_id=through_id).start_id
    stored = session.scalar(select(Event.hash).where(Event.id == through_id))
    if through_id <= start_id:
        # A purge went past the checkpoint: the chain now starts after it.
        return verify(session, batch=batch)
    if stored != head_hash:
        whole = verify(session, batch=batch)
        if not whole.ok:
            return whole
        return dataclasses.replace(
            whole,
            ok=False,
            checked=0,
            first_bad_id=through_id,
            reason=f"it no longer carries the hash that log.verified event {record_id} "
            "found there: the chain was rewritten up to it, its checkpoints with it",
        )
    kept = session.scalar(select(func.count()).select_from(Event).where(Event.id <= through_id))
    if kept != through_id - start_id:
        # Events are missing (or extra) before the checkpoint: the whole walk names them.
        return verify(session, batch=batch)
    walked = walk_chain(session, batch, first_id=through_id + 1)
    return dataclasses.replace(walked, checked=walked.checked + kept, resumed_from=through_id)


def _resume_point(session: Session, full_every: int) -> tuple[int, int, str] | None:
    """``(record id, through id, head hash)`` of the checkpoint to resume from, or
    ``None`` when the whole chain must be walked."""
    rows = session.execute(
        select(Event.id, Event.details)
        .where(Event.kind == LOG_VERIFIED)
        .order_by(Event.id.desc())
        .limit(max(full_every - 1, 0))
    ).all()
    records = [_whole_check_record(row.details)[0] for row in rows]
    if not records or records[0] is None or not records[0].ok:
        return None
    if all(record is None or record.resumed_from is not None for record in records):
        return None  # no whole walk among the last full_every - 1 checks
    newest = records[0]
    return rows[0].id, newest.head_id, newest.head_hash


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
    names it. A checkpoint printed before migration 0006 re-chained the log
    is held against the event's ``legacy_hash``, which the new chain covers,
    and one printed before 0007 against its ``hash_before_0007``
    (:mod:`locker.log.legacy`).
    """
    printed = digest.strip().lower()
    row = session.execute(select(Event.hash, Event.details).where(Event.id == event_id)).first()
    stored = row.hash if row is not None else None
    if row is not None and stored != printed and printed in earlier_hashes_of(row.details):
        return None
    if stored is None:
        anchors = load_anchors(session)
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
            "resumed_from": report.resumed_from,
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
            resumed_from=record.get("resumed_from"),
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
        or not (report.resumed_from is None or type(report.resumed_from) is int)
    ):
        return None, None
    return report, started
