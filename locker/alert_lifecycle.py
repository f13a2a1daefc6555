"""Alerts that resolve themselves: each kind's condition, looked at when it can have ended.

When the condition an alert was raised for has ended (the door is shut, the
device is back, the person deposited or their shift ended, the unknown-badge
window passed, the clock is trusted again, storage recovered, the reader or an
expander answers again, the log verifies again), the alert is resolved:
``alert.resolved`` with why, off the open list, still in history.
Acknowledging is separate: a safety alert stays on the panel until a person
has acknowledged it (see :func:`locker.alerts.on_panel`).

The conditions themselves are pure (:mod:`locker.alert_conditions`); this
module finds the open alerts a decision can have ended and stores their
resolution in the caller's transaction. Only what the decision touched is
looked at (its slots, the people depositing in them, the clock's kind on a
synchronisation), so a badge costs the same with 200 alerts open as with none;
alerts that end with time are looked at on quiet ticks.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.alert_conditions import SLOT_CONDITIONS, TIMED_CONDITIONS, World, why_ended
from locker.alerts import resolve_alert
from locker.models import Alert
from locker.states import SlotState

#: Seconds between two looks, on quiet ticks, for alerts whose condition ends with time
#: (a shift's end, the unknown-badge window, the clock's trust).
TIMED_CHECK_S = 30.0
#: Every kind that ends with time.
TIMED_KINDS = tuple(TIMED_CONDITIONS)
#: Every kind the rules' state ends (for a start, when anything may have changed).
ALL_KINDS = (*SLOT_CONDITIONS, *TIMED_CONDITIONS)


def resolve_ended(
    session: Session,
    world: World,
    *,
    slots: Collection[int] = (),
    kinds: Collection[str] = (),
    apply: bool = True,
) -> int:
    """Resolve the open alerts whose condition has ended; how many. The caller commits.

    Looked at: the slot alerts of ``slots`` (the slots a decision changed), the
    ``no_deposit`` alerts of whoever now holds one of them, and every open alert
    of ``kinds``. With nothing touched there is no query at all. With ``apply``
    false it only counts them (a read, for a quiet tick).
    """
    wanted = []
    if slots:
        wanted.append(Alert.alert.in_(tuple(SLOT_CONDITIONS)) & Alert.slot.in_(tuple(slots)))
        depositors = {
            view.owner
            for number in slots
            if (view := world.slots.get(number)) is not None
            and view.state is SlotState.HELD
            and view.owner is not None
        }
        if depositors:
            wanted.append(
                (Alert.alert == ev.ALERT_NO_DEPOSIT) & Alert.person_id.in_(tuple(depositors))
            )
    if kinds:
        wanted.append(Alert.alert.in_(tuple(kinds)))
    if not wanted:
        return 0
    alerts = session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), or_(*wanted)).order_by(Alert.id)
    ).all()
    done = 0
    for alert in alerts:
        why = why_ended(alert, world)
        if why is not None:
            if apply:
                resolve_alert(session, alert, why, world.now)
            done += 1
    return done


def resolve_storage(session: Session, now: datetime) -> None:
    """Storage took writes again: resolve the open ``storage`` alerts."""
    for alert in session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), Alert.alert == ev.ALERT_STORAGE)
    ):
        resolve_alert(session, alert, "the database takes writes again", now)


def resolve_hardware(
    session: Session,
    now: datetime,
    component: str,
    why: str,
    *,
    unit: str | None = None,
    slot: int | None = None,
) -> int:
    """``component`` (``"reader"``, ``"expander"`` ``unit``, a slot's ``"lock"``, a
    flapping input) answers or works again: resolve its open ``hardware_fault``
    alerts (on ``slot``, if given) with ``why``; how many."""
    done = 0
    query = select(Alert).where(Alert.resolved_at.is_(None), Alert.alert == ev.ALERT_HARDWARE_FAULT)
    if slot is not None:
        query = query.where(Alert.slot == slot)
    for alert in session.scalars(query):
        details = alert.details or {}
        if details.get("component") != component:
            continue
        if unit is not None and details.get("unit") != unit:
            continue
        resolve_alert(session, alert, why, now)
        done += 1
    return done


def resolve_log_verified(session: Session, now: datetime) -> int:
    """The whole log verified again (after a restore): resolve the open ``log_broken``
    alerts; how many."""
    done = 0
    for alert in session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), Alert.alert == ev.ALERT_LOG_BROKEN)
    ):
        resolve_alert(session, alert, "the whole log verifies again", now)
        done += 1
    return done
