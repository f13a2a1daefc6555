"""Checkpoints and retention: a daily checkpoint records the head; a purge
removes old events and leaves a checkpoint so what remains still verifies.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.events import LOG_CHECKPOINT, LOG_PURGED
from locker.log.chain import append, format_ts, head
from locker.log.walk import load_anchors, walk_chain
from locker.models import Checkpoint, Event


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


def purge_before(
    session: Session,
    cutoff: datetime,
    at: datetime,
    actor: str,
    *,
    keep: ColumnElement[bool] | None = None,
    limit: int | None = None,
) -> int:
    """Delete the oldest events, those before ``cutoff``; the number deleted.

    Only the unbroken run of oldest events timed before ``cutoff`` goes (an
    older time after a clock jump keeps its event), and never an event past
    the newest daily checkpoint, so nothing is purged that a printed report
    has not covered. What is purged is verified first: a broken chain raises
    :class:`ChainBroken` and nothing is deleted, so a purge cannot hide
    tampering. A ``purge`` checkpoint then records the last purged event and
    a ``log.purged`` event records the purge. Use a writing session; the
    caller commits.

    ``keep``, when given, says which events must stay instead of "timed at or
    after ``cutoff``" (retention by category, legal holds: see
    :mod:`locker.retention`); the purge stops before the first of them.
    ``limit``, when given, purges at most that many of the oldest events, so a
    long backlog goes in steps that each hold the daemon's loop briefly.
    """
    cutoff_ts = format_ts(cutoff)
    must_stay = Event.ts >= cutoff_ts if keep is None else keep
    anchors = load_anchors(session)
    newest_daily = max(anchors.daily, default=0)
    window = Event.id > anchors.start_id
    if limit is not None:
        # Look for the first event to keep only within this step: a log that is all
        # past its period would otherwise be read to its end on every step.
        window = window & (Event.id <= anchors.start_id + limit + 1)
    first_kept = session.scalar(
        select(Event.id).where(window, must_stay).order_by(Event.id).limit(1)
    )
    if first_kept is None:
        first_kept = session.scalar(select(func.max(Event.id))) or 0
        first_kept += 1
    through_id = min(first_kept - 1, newest_daily)
    if limit is not None:
        through_id = min(through_id, anchors.start_id + limit)
    if through_id <= anchors.start_id:
        return 0
    report = walk_chain(session, 5000, stop_id=through_id + 1)
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
