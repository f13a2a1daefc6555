"""Alerts that resolve themselves: each kind's condition, checked after every decision.

When the condition an alert was raised for has ended (the door is shut, the
device is back, the person deposited or their shift ended, the unknown-badge
window passed, the clock is trusted again, storage recovered), the alert is
resolved: ``alert.resolved`` with why, off the open list, still in history.
Acknowledging is separate: a safety alert stays on the panel until a person
has acknowledged it (see :func:`locker.alerts.on_panel`).

This sits beside the custody rules rather than in them (the rules are being
split into a package); the controller calls :func:`resolve_ended` in the same
transaction as the decision's effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.alerts import resolve_alert
from locker.models import Alert, Shift, Slot


@dataclass(frozen=True)
class World:
    """What the conditions look at: the slots as just saved, and the controller's state."""

    slots: dict[int, Slot]
    now: datetime
    clock_trusted: bool
    unknown_badge_window_s: float
    shift_ended: Callable[[int], bool]


def _door_shut(alert: Alert, world: World) -> str | None:
    slot = world.slots.get(alert.slot)
    return "the door was shut" if slot is not None and not slot.door_open else None


def _device_back(alert: Alert, world: World) -> str | None:
    slot = world.slots.get(alert.slot)
    if slot is None:
        return None
    if slot.state == "held" and slot.device_present:
        return "the device is back in its slot"
    if slot.state == "free":
        return "the slot was emptied and freed"
    return None


def _tamper_ended(alert: Alert, world: World) -> str | None:
    # Only "device removed while locked" ends by itself (the device is back); a device
    # that appeared behind a locked door stays until a person has looked at it.
    if "removed" not in str((alert.details or {}).get("message", "")):
        return None
    slot = world.slots.get(alert.slot)
    if slot is not None and slot.device_present and slot.state == "held":
        return "a device is in the slot again"
    return None


def _collected(alert: Alert, world: World) -> str | None:
    slot = world.slots.get(alert.slot)
    return "the device was collected" if slot is not None and not slot.device_present else None


def _deposited_or_shift_over(alert: Alert, world: World) -> str | None:
    person = alert.person_id
    if person is None:
        return None
    if any(s.occupant_id == person and s.state == "held" for s in world.slots.values()):
        return "they deposited their device"
    return "their shift ended" if world.shift_ended(person) else None


def _window_passed(alert: Alert, world: World) -> str | None:
    if world.now - alert.raised_at >= timedelta(seconds=world.unknown_badge_window_s):
        return "no more unknown badges: the window passed"
    return None


def _clock_trusted(alert: Alert, world: World) -> str | None:
    return "the clock is synchronised" if world.clock_trusted else None


#: Each alert kind the controller can see end, and its condition's test (the reason
#: it ended, or None while it goes on). ``storage`` resolves when storage recovers;
#: ``controller_offline`` in the panel's watch; ``log_broken`` and ``hardware_fault``
#: only by a person (a broken log does not mend itself; see the report).
CONDITIONS: dict[str, Callable[[Alert, World], str | None]] = {
    ev.ALERT_DOOR_FORCED: _door_shut,
    ev.ALERT_DOOR_LEFT_OPEN: _door_shut,
    ev.ALERT_TAMPER: _tamper_ended,
    ev.ALERT_OVERDUE: _device_back,
    ev.ALERT_FORGOTTEN_DEVICE: _collected,
    ev.ALERT_NO_DEPOSIT: _deposited_or_shift_over,
    ev.ALERT_UNKNOWN_BADGES: _window_passed,
    ev.ALERT_CLOCK: _clock_trusted,
}


#: Seconds between two looks, on quiet ticks, for alerts whose condition ends with time
#: (a shift's end, the unknown-badge window, the clock's trust).
TIMED_CHECK_S = 30.0


def resolve_ended(
    session: Session,
    *,
    now: datetime,
    clock_trusted: bool,
    unknown_badge_window_s: float,
    apply: bool = True,
) -> int:
    """Resolve every open alert whose condition has ended; how many. The caller commits.

    With ``apply`` false it only counts them (a read, for a quiet tick)."""
    alerts = session.scalars(
        select(Alert)
        .where(Alert.resolved_at.is_(None), Alert.alert.in_(tuple(CONDITIONS)))
        .order_by(Alert.id)
    ).all()
    if not alerts:
        return 0
    if apply:
        session.flush()
    slots = {s.number: s for s in session.scalars(select(Slot))}

    def shift_ended(person_id: int) -> bool:
        latest = session.scalar(
            select(Shift.end)
            .where(Shift.person_id == person_id, Shift.start <= now)
            .order_by(Shift.start.desc())
            .limit(1)
        )
        return latest is not None and latest <= now

    world = World(slots, now, clock_trusted, unknown_badge_window_s, shift_ended)
    done = 0
    for alert in alerts:
        if alert.raised_at > now:
            continue
        why = CONDITIONS[alert.alert](alert, world)
        if why is not None:
            if apply:
                resolve_alert(session, alert, why, now)
            done += 1
    return done


def resolve_storage(session: Session, now: datetime) -> None:
    """Storage took writes again: resolve the open ``storage`` alerts."""
    for alert in session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), Alert.alert == ev.ALERT_STORAGE)
    ):
        resolve_alert(session, alert, "the database takes writes again", now)
