"""The custody rules of SPEC.md as a pure core.

:class:`CustodyRules` takes inputs (a badge read, a door or sensor change, a
tick of the clock, a manager's command) with the current :class:`Instant` and
returns an :class:`Outcome`: an ordered list of effects: events to log, alerts
to raise, locks to open or shut, lights to show. It never touches a pin or the
database; the daemon commits the log entries *before* it drives any output.

Inputs, effects and :class:`Outcome` live in :mod:`locker.decisions`. The rules
are one class written in several files, one family of rules each:

- :mod:`~locker.custody.slots`: :class:`SlotView`, the remembered refusal, the reasons;
- :mod:`~locker.custody.base`: the rules' state and the moves that open, shut, clear;
- :mod:`~locker.custody.clock_trust`: when the wall clock may drive releases;
- :mod:`~locker.custody.badges`: what a badge read does;
- :mod:`~locker.custody.physical`: doors, sensors, faults, reconciling after a restart;
- :mod:`~locker.custody.manager`: a manager's commands;
- :mod:`~locker.custody.schedule`: timers, shift ends, closing;
- :mod:`~locker.custody.rules`: :class:`CustodyRules`, the facade with its handler table.
"""

from locker.clock import Instant
from locker.custody.rules import CustodyRules
from locker.custody.slots import (
    FINAL_REASONS,
    SCHEDULE_REASONS,
    STUCK_LOCK,
    STUCK_LOCK_RELEASES,
    TEMPORARY_REASONS,
    Refusal,
    S,
    SlotView,
)
from locker.decisions import (
    BadgeNotServed,
    BadgeRead,
    CustodyEnded,
    CustodyStarted,
    DeviceChanged,
    DoorChanged,
    Fault,
    GrantCreated,
    GrantExpired,
    GrantInfo,
    GrantUsed,
    Outcome,
    ReleaseAll,
    ReleaseSlot,
    SensorReading,
    SignInVisitor,
    SignOutVisitor,
    SlowReader,
    StockSettingSlot,
    Tick,
)

__all__ = [
    "FINAL_REASONS",
    "SCHEDULE_REASONS",
    "STUCK_LOCK",
    "STUCK_LOCK_RELEASES",
    "TEMPORARY_REASONS",
    "BadgeNotServed",
    "BadgeRead",
    "CustodyEnded",
    "CustodyRules",
    "CustodyStarted",
    "DeviceChanged",
    "DoorChanged",
    "Fault",
    "GrantCreated",
    "GrantExpired",
    "GrantInfo",
    "GrantUsed",
    "Instant",
    "Outcome",
    "Refusal",
    "ReleaseAll",
    "ReleaseSlot",
    "S",
    "SensorReading",
    "SignInVisitor",
    "SignOutVisitor",
    "SlotView",
    "SlowReader",
    "StockSettingSlot",
    "Tick",
]
