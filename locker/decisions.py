"""What the custody rules take in and what they decide.

Inputs are the things that happen at the locker (a badge, a door, a sensor, a
tick of the clock, a manager's command); effects are what the rules decide
(log entries, alerts, unlocks and locks, lights). An :class:`Outcome` keeps
the effects in the order they must happen.

Every unlock is built by :meth:`Outcome.unlock`, which writes the
``slot.unlocked`` entry (with its reason) ahead of the :class:`Unlock` effect,
so no code path can open a slot without logging why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from locker import events as ev


@dataclass(frozen=True)
class LogEntry:
    """An event the rules or a command want logged, before it has an id and hash.

    A plain value: the rules make these, and only :mod:`locker.log` (storage)
    turns them into chained rows.
    """

    kind: str
    actor: str = ""
    slot: int | None = None
    person_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class SlotRef(Protocol):
    """What an :class:`Outcome` needs of a slot: its number and its owner."""

    number: int
    owner: int | None


# --------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class BadgeRead:
    """A card was presented to the reader."""

    uid: str


@dataclass(frozen=True)
class BadgeNotServed:
    """A card was presented while the controller could not log (a storage fault).

    It was refused at the reader at once (no slot opens without its log entry);
    this records the refusal once the log can be written again.
    """

    uid: str


@dataclass(frozen=True)
class DoorChanged:
    """A slot's door switch changed."""

    slot: int
    open: bool


@dataclass(frozen=True)
class DeviceChanged:
    """A slot's device-present sensor changed."""

    slot: int
    present: bool


@dataclass(frozen=True)
class Tick:
    """Time passed: timeouts, schedules and alerts are checked."""


@dataclass(frozen=True)
class Fault:
    """A piece of hardware misbehaved (reader not answering, sensor flapping...).

    ``unit`` names which one of several (the expander ``"mcp1"``); ``slots`` are
    the slots whose doors and sensors it serves, unknown while it is down.
    """

    component: str
    message: str
    slot: int | None = None
    unit: str | None = None
    slots: tuple[int, ...] = ()


@dataclass(frozen=True)
class HardwareRecovered:
    """A piece of hardware that had a :class:`Fault` answers again (``unit`` as there).

    ``why`` says how it was seen to work, when "answers again" is not the words
    (a flapping input that has been steady, an expander re-initialised).
    """

    component: str
    unit: str | None = None
    why: str | None = None


@dataclass(frozen=True)
class GrantInfo:
    """A release grant a manager created (already stored, so it has an id)."""

    id: int
    person_id: int
    reason: str
    note: str
    open_now: bool
    return_minutes: int | None
    created_by: str
    valid_until: datetime
    client: str = ""


@dataclass(frozen=True)
class GrantCreated:
    """A manager approved a release in the panel."""

    grant: GrantInfo


@dataclass(frozen=True)
class ReleaseSlot:
    """A manager releases one slot."""

    slot: int
    reason: str
    account: str
    client: str = ""


@dataclass(frozen=True)
class ReleaseAll:
    """Evacuation: every slot holding a device is released."""

    reason: str
    account: str
    client: str = ""


@dataclass(frozen=True)
class SignInVisitor:
    """A manager opens a visitor slot for a visitor's phone."""

    name: str
    account: str
    client: str = ""
    slot: int | None = None


@dataclass(frozen=True)
class SignOutVisitor:
    """The visitor leaves: their slot is released."""

    slot: int
    account: str
    client: str = ""


@dataclass(frozen=True)
class StockSettingSlot:
    """A manager opens an empty setting slot to put one of the setting's devices in."""

    slot: int
    account: str
    client: str = ""


@dataclass(frozen=True)
class SensorReading:
    """What a slot's door switch and device sensor say."""

    door_open: bool
    device_present: bool


# -------------------------------------------------------------------- effects


@dataclass(frozen=True)
class Unlock:
    """Drive slot ``slot``'s lock open (only after the log is committed)."""

    slot: int


@dataclass(frozen=True)
class Lock:
    """Put slot ``slot``'s lock in its locked state."""

    slot: int


@dataclass(frozen=True)
class Signal:
    """Show ``name`` on the bank's lights and buzzer: granted, refused, deposited, alert."""

    name: str


@dataclass(frozen=True)
class SlowReader:
    """Let the reader answer at most one card every ``gap_s`` for the next ``for_s`` seconds."""

    gap_s: float
    for_s: float


@dataclass(frozen=True)
class RaiseAlert:
    """Store a new alert and log ``alert.raised``."""

    alert: str
    message: str
    slot: int | None = None
    person_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultCleared:
    """Resolve the open ``hardware_fault`` alerts of ``component`` (``unit``, or on
    ``slot``): it answers again, or works again, which ``why`` says in words."""

    component: str
    why: str
    unit: str | None = None
    slot: int | None = None


@dataclass(frozen=True)
class CustodyStarted:
    """A device (or a visitor's) is now in the bank's custody in ``slot``."""

    slot: int
    person_id: int | None
    visitor_name: str | None


@dataclass(frozen=True)
class CustodyEnded:
    """The stay that began with :class:`CustodyStarted` in ``slot`` is over."""

    slot: int
    reason: str


@dataclass(frozen=True)
class GrantUsed:
    """Grant ``grant_id`` opened its slot."""

    grant_id: int
    return_due: datetime | None


@dataclass(frozen=True)
class GrantExpired:
    """Grant ``grant_id`` was never used and is no longer valid."""

    grant_id: int


Effect = (
    LogEntry
    | Unlock
    | Lock
    | Signal
    | SlowReader
    | RaiseAlert
    | FaultCleared
    | CustodyStarted
    | CustodyEnded
    | GrantUsed
    | GrantExpired
)


@dataclass
class Outcome:
    """What the rules decided, in the order it must happen."""

    effects: list[Effect] = field(default_factory=list)
    #: For a command: what to tell the caller (e.g. the slot that opened).
    result: dict[str, Any] = field(default_factory=dict)

    def log(
        self,
        kind: str,
        *,
        actor: str = "",
        slot: int | None = None,
        person_id: int | None = None,
        **details: Any,
    ) -> None:
        """Append a log entry."""
        self.effects.append(LogEntry(kind, actor, slot, person_id, details))

    def unlock(self, slot: SlotRef, reason: str, *, actor: str = "") -> None:
        """Log ``slot.unlocked`` with its reason, then the :class:`Unlock` itself."""
        self.log(
            ev.SLOT_UNLOCKED, actor=actor, slot=slot.number, person_id=slot.owner, reason=reason
        )
        self.effects.append(Unlock(slot.number))

    def lock(self, slot: SlotRef, reason: str) -> None:
        """Log ``slot.locked`` and put the lock in its locked state."""
        self.log(ev.SLOT_LOCKED, slot=slot.number, person_id=slot.owner, reason=reason)
        self.effects.append(Lock(slot.number))

    def signal(self, name: str) -> None:
        """Show a signal on the bank."""
        self.effects.append(Signal(name))

    def alert(
        self,
        alert: str,
        message: str,
        *,
        slot: int | None = None,
        person_id: int | None = None,
        **details: Any,
    ) -> None:
        """Raise an alert (the bank shows it too)."""
        self.effects.append(RaiseAlert(alert, message, slot, person_id, details))

    @property
    def entries(self) -> list[LogEntry]:
        """Just the log entries."""
        return [e for e in self.effects if isinstance(e, LogEntry)]

    def of(self, kind: type) -> list[Any]:
        """The effects of one type."""
        return [e for e in self.effects if isinstance(e, kind)]
