"""Each alert kind's condition, as plain functions of what the rules know now.

Pure (no storage): :meth:`locker.custody.CustodyRules.alert_world` builds the
:class:`World` from the rules' own slots, clock and roster, and
:mod:`locker.alert_lifecycle` stores the resolutions. A condition returns why
its alert ended, in words, or ``None`` while it goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from locker import events as ev
from locker.states import SlotState


class OpenAlert(Protocol):
    """What a condition reads of a stored alert."""

    alert: str
    slot: int | None
    person_id: int | None
    details: dict[str, Any] | None
    raised_at: datetime


class SlotFacts(Protocol):
    """What a condition reads of a slot (the rules' ``SlotView``)."""

    state: SlotState
    owner: int | None
    door_open: bool
    device_present: bool


@dataclass(frozen=True)
class World:
    """What the conditions look at: the rules' slots, the time and the clock's trust."""

    slots: Mapping[int, SlotFacts]
    now: datetime
    clock_trusted: bool
    unknown_badge_window_s: float
    #: Whether the person's latest shift that began by ``now`` has ended.
    shift_over: Callable[[int], bool]


def _door_shut(alert: OpenAlert, world: World) -> str | None:
    slot = world.slots.get(alert.slot)
    return "the door was shut" if slot is not None and not slot.door_open else None


def _device_back(alert: OpenAlert, world: World) -> str | None:
    slot = world.slots.get(alert.slot)
    if slot is None:
        return None
    if slot.state is SlotState.HELD and slot.device_present:
        return "the device is back in its slot"
    if slot.state is SlotState.FREE:
        return "the slot was emptied and freed"
    return None


def _tamper_ended(alert: OpenAlert, world: World) -> str | None:
    # Only "device removed while locked" ends by itself (the device is back); a device
    # that appeared behind a locked door stays until a person has looked at it.
    if "removed" not in str((alert.details or {}).get("message", "")):
        return None
    slot = world.slots.get(alert.slot)
    if slot is not None and slot.device_present and slot.state is SlotState.HELD:
        return "a device is in the slot again"
    return None


def _collected(alert: OpenAlert, world: World) -> str | None:
    slot = world.slots.get(alert.slot)
    return "the device was collected" if slot is not None and not slot.device_present else None


def _deposited_or_shift_over(alert: OpenAlert, world: World) -> str | None:
    person = alert.person_id
    if person is None:
        return None
    if any(s.owner == person and s.state is SlotState.HELD for s in world.slots.values()):
        return "they deposited their device"
    return "their shift ended" if world.shift_over(person) else None


def _window_passed(alert: OpenAlert, world: World) -> str | None:
    if world.now - alert.raised_at >= timedelta(seconds=world.unknown_badge_window_s):
        return "no more unknown badges: the window passed"
    return None


def _clock_trusted(alert: OpenAlert, world: World) -> str | None:
    return "the clock is synchronised" if world.clock_trusted else None


#: Kinds whose condition is about one slot: looked at when that slot changes.
SLOT_CONDITIONS: dict[str, Callable[[OpenAlert, World], str | None]] = {
    ev.ALERT_DOOR_FORCED: _door_shut,
    ev.ALERT_DOOR_LEFT_OPEN: _door_shut,
    ev.ALERT_TAMPER: _tamper_ended,
    ev.ALERT_OVERDUE: _device_back,
    ev.ALERT_FORGOTTEN_DEVICE: _collected,
}
#: Kinds whose condition ends with time (a shift's end, the unknown-badge window, a
#: synchronisation): looked at on quiet ticks, and ``no_deposit`` also at a deposit.
TIMED_CONDITIONS: dict[str, Callable[[OpenAlert, World], str | None]] = {
    ev.ALERT_NO_DEPOSIT: _deposited_or_shift_over,
    ev.ALERT_UNKNOWN_BADGES: _window_passed,
    ev.ALERT_CLOCK: _clock_trusted,
}
#: Each alert kind the controller sees end by the state of the rules.
CONDITIONS = {**SLOT_CONDITIONS, **TIMED_CONDITIONS}
#: Each alert kind that ends by an event instead, and what ends it: together with
#: :data:`CONDITIONS`, every kind of :data:`locker.events.ALERT_KINDS` (a test checks).
ENDED_BY_EVENT = {
    ev.ALERT_STORAGE: "the database takes writes again (the storage guard)",
    ev.ALERT_HARDWARE_FAULT: (
        "the reader or an expander answers again, a reset expander is re-initialised and "
        "reads back right, a flapping input has not flapped for ten minutes, a stuck "
        "lock's door opens on an unlock"
    ),
    ev.ALERT_LOG_BROKEN: "the nightly check verifies the whole log again",
    ev.ALERT_CONTROLLER_OFFLINE: "the daemon's heartbeat comes back (the panel's watch)",
}


def why_ended(alert: OpenAlert, world: World) -> str | None:
    """Why ``alert``'s condition has ended, or ``None`` while it goes on (or was
    raised after ``world.now``, on a clock that was moved back)."""
    if alert.raised_at > world.now:
        return None
    return CONDITIONS[alert.alert](alert, world)
