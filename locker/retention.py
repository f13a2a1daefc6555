"""Retention by category, applied nightly: personal data kept no longer than needed.

Each category of ``[retention]`` (:class:`~locker.config_retention.RetentionConfig`)
has its period. What the nightly run does with it:

- **The event log** loses whole events only from its oldest end, so it stays
  one verifiable chain: the purge (:func:`locker.log.purge_before`) removes
  the oldest events that have all passed their category's period and stops
  at the first that must stay, with a purge checkpoint as before. The
  personal values of the purged events go with them.
- An event past its category's period but kept because an older neighbour
  must stay **loses its personal values** (the rows its commitments refer
  to), so no name or card number outlives its period; its hash still
  verifies.
- **Other tables** are plain rows, removed by age: ended custody records and
  grants, alerts that are acknowledged or resolved, sent notifications,
  shifts and breaks, ended panel sessions, login throttles and finished
  requests to the daemon.

A legal hold (:mod:`locker.privacy`) suspends all of it for the held person:
the purge stops before the first event about them (the chain stays whole
and verifiable), and none of their values or rows is removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from locker import events as ev
from locker.config import Config
from locker.db import Database
from locker.errors import ChainBroken
from locker.log import format_ts, purge_before
from locker.log.walk import load_anchors
from locker.models import (
    Alert,
    Break,
    Command,
    Custody,
    Event,
    Grant,
    LoginThrottle,
    NotifyMessage,
    PanelSession,
    PersonalValue,
    Shift,
)
from locker.privacy import held_ids

log = logging.getLogger(__name__)

#: Custody and override events: kept for ``retention.custody_days``.
CUSTODY_KINDS = frozenset(
    {
        ev.BADGE_GRANTED,
        ev.BADGE_REFUSED,
        ev.BADGE_UNKNOWN,
        ev.SLOT_UNLOCKED,
        ev.SLOT_LOCKED,
        ev.DOOR_OPENED,
        ev.DOOR_CLOSED,
        ev.DEVICE_DETECTED,
        ev.DEVICE_REMOVED,
        ev.DEPOSIT_CONFIRMED,
        ev.DEPOSIT_EMPTY,
        *ev.RELEASE_KINDS,
        ev.GRANT_CREATED,
        ev.GRANT_USED,
        ev.GRANT_EXPIRED,
        ev.APPROVAL_ON_THE_SPOT,
        ev.VISITOR_SIGNED_IN,
        ev.VISITOR_SIGNED_OUT,
        ev.SETTING_CHECKED_OUT,
        ev.SETTING_RETURNED,
        ev.BREAK_STARTED,
    }
)
#: The log's own bookkeeping, about nobody: never a reason on its own to keep
#: older events, so it goes with the shortest period.
SYSTEM_KINDS = frozenset(
    {
        ev.LOG_CHECKPOINT,
        ev.LOG_PURGED,
        ev.LOG_VERIFIED,
        ev.SYSTEM_STARTED,
        ev.SYSTEM_STOPPED,
        ev.CLOCK_SYNCHRONISED,
        ev.CLOCK_UNSYNCHRONISED,
        ev.CLOCK_JUMP,
        ev.STORAGE_RECOVERED,
    }
)
#: Panel login events: kept for ``retention.login_days``.
LOGIN_KINDS = frozenset({ev.AUTH_LOGIN, ev.AUTH_FAILED, ev.AUTH_LOGOUT})


@dataclass
class RetentionDone:
    """What one nightly run removed: events purged, values erased, rows per table."""

    events: int = 0
    values: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    #: A step stopped at its bound: there is more to do (see :func:`apply_retention`).
    more: bool = False
    #: Where the next step goes on looking at personal values (an id), or None
    #: when a step looked at the last of them.
    values_next: int | None = None


def cutoffs(config: Config, now: datetime) -> dict[str, datetime]:
    """The moment before which each category has passed its period."""
    r = config.retention
    return {
        "log": now - timedelta(days=config.retention_days),
        "custody": now - timedelta(days=r.custody_days),
        "login": now - timedelta(days=r.login_days),
        "alerts": now - timedelta(days=r.alerts_days),
        "notifications": now - timedelta(days=r.notifications_days),
        "shifts": now - timedelta(days=r.shifts_days),
    }


#: Events purged, and personal values erased, in one step of the daemon's nightly
#: retention. A backlog (a long log upgraded, a period shortened) of a million
#: events held the loop for seconds in one go, long enough to miss cards on a
#: Pi-class core. A step of this size is a fraction of a second there.
STEP = 2000
#: Seconds between two steps of a backlog: back to back, the steps kept a core
#: held to 15 % busy and cards were still missed; spaced, a million events take
#: about 40 minutes once, and the loop is free most of the time.
GAP_S = 5.0
#: Personal values a step looks at (by id, in order) for each event it may purge.
#: Whether a value has expired is a look-up of its event, far cheaper than a
#: purge, but with no bound at all a step looked at every value of the log.
VALUES_PER_EVENT = 10


def apply_retention(
    session: Session,
    config: Config,
    now: datetime,
    actor: str,
    *,
    step: int | None = None,
    values_from: int = 0,
) -> RetentionDone:
    """Apply every category's period at ``now``; the caller commits (a writing session).

    ``step``, when given, bounds the events purged (``step``) and the personal
    values looked at (``step`` × :data:`VALUES_PER_EVENT`, those with ids after
    ``values_from``); ``done.more`` then says whether another step is needed
    and ``done.values_next`` where it goes on with the values.

    Raises :class:`~locker.errors.ChainBroken` (nothing purged) if the part
    of the log to be purged does not verify.
    """
    cut = cutoffs(config, now)
    held = held_ids(session)
    done = RetentionDone()
    keep = _must_stay(cut, held)
    done.events = purge_before(session, cut["log"], now, actor, keep=keep, limit=step)
    if step is None:
        done.values = _erase_expired_values(session, cut, held)
    else:
        last = values_from + step * VALUES_PER_EVENT
        done.values = _erase_expired_values(session, cut, held, ids=(values_from, last))
        newest = session.scalar(select(func.max(PersonalValue.id)))
        done.values_next = last if newest is not None and newest > last else None
    done.rows = _remove_rows(session, cut, held)
    done.more = step is not None and (done.events >= step or done.values_next is not None)
    return done


class RetentionBacklog:
    """The daemon's retention: a bounded step at the checkpoint, then one every
    :data:`GAP_S` (monotonic seconds) while a step stops at its bound."""

    def __init__(self, gap_s: float = GAP_S):
        self.gap_s = gap_s
        #: The last step stopped at its bound: there is more to do.
        self.more = False
        self.next_at = 0.0
        #: The personal values the next step looks at start after this id.
        self.values_from = 0

    def due(self, mono: float) -> bool:
        """Another step is owed and its time has come."""
        return self.more and mono >= self.next_at

    def step(self, db: Database, config: Config, now: datetime, mono: float) -> bool:
        """Take one step (:func:`retention_step`); whether more is left."""
        done = retention_step(db, config, now, values_from=self.values_from)
        self.more = done.more
        self.values_from = done.values_next or 0
        self.next_at = mono + self.gap_s
        return self.more


def retention_step(
    db: Database, config: Config, now: datetime, *, values_from: int = 0
) -> RetentionDone:
    """One step of :data:`STEP` of the daemon's retention, committed on its own.

    A broken chain stops it (nothing purged, logged): the whole-log check that
    follows raises the ``log_broken`` alert, and the daemon carries on.
    """
    with db.write() as session:
        try:
            done = apply_retention(
                session, config, now, "daemon", step=STEP, values_from=values_from
            )
        except ChainBroken as exc:
            log.error("retention stopped, nothing purged: %s", exc)
            return RetentionDone()
        session.commit()
    if done.events or done.values or any(done.rows.values()):
        log.info(
            "retention: purged %d events, erased %d personal values, removed rows %s%s",
            done.events,
            done.values,
            {table: n for table, n in done.rows.items() if n},
            " (more next tick)" if done.more else "",
        )
    return done


def _expired(cut: dict[str, datetime]) -> ColumnElement[bool]:
    """Events past their own category's period."""
    named = sorted(CUSTODY_KINDS | LOGIN_KINDS | SYSTEM_KINDS)
    shortest = max(cut["custody"], cut["login"], cut["log"])
    return or_(
        and_(Event.kind.in_(sorted(CUSTODY_KINDS)), Event.ts < format_ts(cut["custody"])),
        and_(Event.kind.in_(sorted(LOGIN_KINDS)), Event.ts < format_ts(cut["login"])),
        and_(Event.kind.in_(sorted(SYSTEM_KINDS)), Event.ts < format_ts(shortest)),
        and_(Event.kind.not_in(named), Event.ts < format_ts(cut["log"])),
    )


def _about(column, held: set[int]) -> ColumnElement[bool]:
    """Rows about a held person."""
    return column.in_(sorted(held)) if held else false()


def _not_about(column, held: set[int]) -> ColumnElement[bool]:
    """Rows about nobody held (rows about nobody at all included)."""
    return or_(column.is_(None), column.not_in(sorted(held))) if held else true()


def _must_stay(cut: dict[str, datetime], held: set[int]) -> ColumnElement[bool]:
    """Events the purge must stop before: not yet expired, or about a held person."""
    return or_(~_expired(cut), _about(Event.person_id, held))


def _erase_expired_values(
    session: Session,
    cut: dict[str, datetime],
    held: set[int],
    *,
    ids: tuple[int, int] | None = None,
) -> int:
    """Delete the personal values of purged and expired events (none of a held person's);
    with ``ids`` (after, through), only among the values with ids in that window.

    Read from the side of the values, each one's event looked up by primary key
    (a correlated EXISTS). As a join, SQLite read it from the side of the log:
    every event of the expired kinds, 0.56 s of CPU a step at a million events,
    for a handful of values.
    """
    start_id = load_anchors(session).start_id
    expired = exists().where(
        Event.id == PersonalValue.event_id, _expired(cut), _not_about(Event.person_id, held)
    )
    doomed = select(PersonalValue.id).where(
        _not_about(PersonalValue.person_id, held),
        or_(PersonalValue.event_id <= start_id, expired),
    )
    if ids is not None:
        doomed = doomed.where(PersonalValue.id > ids[0], PersonalValue.id <= ids[1])
    result = session.execute(
        delete(PersonalValue)
        .where(PersonalValue.id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _remove_rows(session: Session, cut: dict[str, datetime], held: set[int]) -> dict[str, int]:
    """Remove the rows of the plain tables that have passed their category's period."""
    old_shifts = select(Shift.id).where(
        Shift.day < cut["shifts"].date(), _not_about(Shift.person_id, held)
    )
    statements = {
        "custody": delete(Custody).where(
            Custody.ended_at < cut["custody"], _not_about(Custody.person_id, held)
        ),
        "grants": delete(Grant).where(
            Grant.valid_until < cut["custody"],
            or_(Grant.return_due.is_(None), Grant.return_due < cut["custody"]),
            _not_about(Grant.person_id, held),
        ),
        "alerts": delete(Alert).where(
            Alert.raised_at < cut["alerts"],
            or_(Alert.acknowledged_at.is_not(None), Alert.resolved_at.is_not(None)),
            _not_about(Alert.person_id, held),
        ),
        "notify_outbox": delete(NotifyMessage).where(
            NotifyMessage.finished_at < cut["notifications"]
        ),
        "breaks": delete(Break).where(Break.shift_id.in_(old_shifts)),
        "shifts": delete(Shift).where(Shift.id.in_(old_shifts)),
        "panel_sessions": delete(PanelSession).where(PanelSession.ended_at < cut["login"]),
        "login_throttles": delete(LoginThrottle).where(LoginThrottle.updated_at < cut["login"]),
        "commands": delete(Command).where(
            Command.status != "pending", Command.created_at < cut["login"]
        ),
    }
    removed = {}
    for table, statement in statements.items():
        result = session.execute(statement.execution_options(synchronize_session=False))
        removed[table] = result.rowcount
    return removed
