"""The command contract between the panel (or the CLI) and the daemon.

A command is a row in ``commands``: the panel writes it, rings the doorbell,
and the daemon carries it out. This module names the kinds, gives each its
typed payload and the one parser (:func:`parse_command`) that both the panel
(before it stores a row) and the controller (before it acts on one) use, says
which of them can open a slot, and decides when one is too old to be carried out.

Why commands expire: a manager who asks for a slot to open means *now*. A
request that waited while the daemon was down (a Pi rebooting, a restart
loop) must not open slots minutes or hours later with nobody there, so an
unlocking command older than ``[commands] max_age_s`` when the daemon
reaches it is marked ``expired`` and logged as ``command.expired`` instead.
Age is measured on real (wall) time, which the panel and the daemon share
even when the demo's controller clock runs fast.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from locker.config import Config
from locker.errors import CommandRejected, Conflict, InvalidRequest, NoSuchSlot
from locker.events import GRANT_REASONS
from locker.roster import normalise_uid


class CommandKind(StrEnum):
    """What a command asks the daemon to do."""

    #: Read people, badges and the rota again.
    RELOAD = "reload"
    #: Approve a release for a person (``open_now``: open their slot at once).
    GRANT = "grant"
    #: A manager's release of one slot.
    RELEASE_SLOT = "release_slot"
    #: Evacuation: every slot holding a device opens.
    RELEASE_ALL = "release_all"
    #: Open a free visitor slot for a visitor's phone.
    VISITOR_IN = "visitor_in"
    #: Open a visitor's slot so they can take their phone.
    VISITOR_OUT = "visitor_out"
    #: Open a setting slot for the setting's own device to be put in.
    STOCK = "stock"
    #: Simulator: hold a card to the emulated reader.
    SIM_BADGE = "sim_badge"
    #: Simulator: move a door or a device.
    SIM_SLOT = "sim_slot"
    #: Simulator: move the simulated clock on.
    SIM_CLOCK = "sim_clock"
    #: Simulator: make the emulated reader fail or recover.
    SIM_READER = "sim_reader"


class CommandStatus(StrEnum):
    """Where a command stands."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    #: Too old when the daemon reached it: not carried out.
    EXPIRED = "expired"


#: Commands the simulated world carries out, not the custody rules.
SIMULATOR_KINDS = frozenset(
    {CommandKind.SIM_BADGE, CommandKind.SIM_SLOT, CommandKind.SIM_CLOCK, CommandKind.SIM_READER}
)

#: Commands that open a slot whenever they succeed. A grant opens one only with
#: ``open_now``; a simulated badge may (the rules decide), so it counts too.
_ALWAYS_UNLOCKING = frozenset(
    {
        CommandKind.RELEASE_SLOT,
        CommandKind.RELEASE_ALL,
        CommandKind.VISITOR_IN,
        CommandKind.VISITOR_OUT,
        CommandKind.STOCK,
        CommandKind.SIM_BADGE,
    }
)


def parse_kind(kind: str) -> CommandKind:
    """``kind`` as a :class:`CommandKind`; ``ValueError`` naming it when unknown."""
    try:
        return CommandKind(kind)
    except ValueError:
        raise ValueError(f"unknown command {kind!r}") from None


def opens_a_slot(kind: str, payload: Mapping[str, Any]) -> bool:
    """Whether carrying out ``kind`` with ``payload`` may unlock a slot at once."""
    if kind == CommandKind.GRANT:
        return payload.get("open_now") is True
    return kind in _ALWAYS_UNLOCKING


def age_s(requested_at: datetime, now: datetime) -> float:
    """Seconds from when a command was asked for to ``now`` (both real UTC times)."""
    return (now - requested_at).total_seconds()


def too_old(kind: str, payload: Mapping[str, Any], age: float, max_age_s: float) -> bool:
    """Whether a command ``age`` seconds old must not be carried out.

    Only commands that open a slot expire: a reload or a grant for the next
    badge does no harm late. A command "from the future" by more than the
    limit means a clock was stepped between asking and now, so its real age
    is unknown: it expires too (fail-secure).
    """
    return opens_a_slot(kind, payload) and not -max_age_s <= age <= max_age_s


# ------------------------------------------------------------ typed payloads

#: Longest free text (a reason) and name (a visitor's) a command carries.
MAX_TEXT = 500
MAX_NAME = 120
#: A grant's note is short on purpose: it is shown to every manager and kept in the log.
MAX_NOTE = 200
NOTE_TOO_LONG = f"note: at most {MAX_NOTE} characters; do not write health details here"
MAX_RETURN_MINUTES = 24 * 60
#: Largest id a row may have (SQLite's integer).
MAX_ID = 2**63 - 1
#: The simulated clock moves by at most a week at a time.
MAX_ADVANCE_S = 7 * 24 * 3600
#: How the emulated reader can be made to fail (``None``: it recovers).
READER_FAULTS = (None, "no_answer", "bad_bcc", "silent_chip")
#: ISO/IEC 14443-3's cascade tag, 0x88 in hex: no UID's first byte is it.
CASCADE_TAG = "88"

#: The bank as the parser needs it: each slot's number and its kind (staff, visitor, setting).
Bank = Mapping[int, str]


def bank_of(config: Config) -> Bank:
    """Each configured slot's number and kind, for :func:`parse_command`."""
    return {slot.number: slot.kind for slot in config.slots}


@dataclass(frozen=True)
class Grant:
    """Approve a release for a person: at once (``open_now``) or at their next badge."""

    person_id: int
    reason: str
    note: str = ""
    open_now: bool = False
    return_minutes: int | None = None


@dataclass(frozen=True)
class ReleaseSlot:
    """A manager's release of one slot."""

    slot: int
    reason: str


@dataclass(frozen=True)
class ReleaseAll:
    """Evacuation: every slot holding a device opens (the caller confirmed it)."""

    reason: str

    def payload(self) -> dict[str, Any]:
        """The stored form: the confirmation is kept so a row read back parses again."""
        return {"reason": self.reason, "confirm": True}


@dataclass(frozen=True)
class VisitorIn:
    """Open a free visitor slot (``slot``, or the first free one) for a visitor's phone."""

    name: str
    slot: int | None = None


@dataclass(frozen=True)
class VisitorOut:
    """Open a visitor's slot so they can take their phone."""

    slot: int


@dataclass(frozen=True)
class Stock:
    """Open an empty setting slot for one of the setting's own devices to be put in."""

    slot: int


@dataclass(frozen=True)
class Reload:
    """Read people, badges and the rota again."""


@dataclass(frozen=True)
class SimBadge:
    """Simulator: hold the card ``uid`` to the emulated reader."""

    uid: str


@dataclass(frozen=True)
class SimSlot:
    """Simulator: open or close a slot's door (``"open"``/``"closed"``), put a device in or
    take it out; ``None`` leaves that part as it is."""

    slot: int
    door: str | None = None
    device: bool | None = None


@dataclass(frozen=True)
class SimClock:
    """Simulator: move the simulated clock on by ``advance_s`` seconds."""

    advance_s: float


@dataclass(frozen=True)
class SimReader:
    """Simulator: make the emulated reader fail in the way ``fail`` names (None: recover)."""

    fail: str | None = None


Payload = (
    Grant
    | ReleaseSlot
    | ReleaseAll
    | VisitorIn
    | VisitorOut
    | Stock
    | Reload
    | SimBadge
    | SimSlot
    | SimClock
    | SimReader
)


def payload_of(command: Payload) -> dict[str, Any]:
    """The JSON object stored in a command row for ``command`` (unset options left out)."""
    own = getattr(command, "payload", None)
    if own is not None:
        return own()
    return {key: value for key, value in asdict(command).items() if value is not None}


# ------------------------------------------------------------ field checks


def only(data: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Refuse fields nobody asked for: a misspelt one would otherwise be ignored."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        expected = ", ".join(sorted(allowed)) or "nothing"
        raise CommandRejected(f"unknown field {unknown[0]!r} (expected: {expected})")


def whole_number(value: Any, key: str, lo: int = 1, hi: int = MAX_ID) -> int:
    """``value`` as an int within ``lo..hi``; booleans and numbers as text are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandRejected(f"{key} must be a whole number")
    if not lo <= value <= hi:
        raise CommandRejected(f"{key} must be between {lo} and {hi}")
    return value


#: Unicode categories that are not plain text: control codes have no business in
#: a log; bidi overrides and zero-width characters (format, Cf) make a log line
#: read other than it is; lone surrogates cannot be stored; private-use,
#: unassigned and line-separator ones likewise.
_NOT_PLAIN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def text(value: Any, key: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """``value`` as trimmed text of at most ``limit`` characters, without control codes."""
    if value is None:
        if required:
            raise CommandRejected(f"{key} is needed")
        return ""
    if not isinstance(value, str):
        raise CommandRejected(f"{key} must be text")
    value = value.strip()
    if required and not value:
        raise CommandRejected(f"{key} is needed")
    if len(value) > limit:
        raise CommandRejected(f"{key} is too long (at most {limit} characters)")
    for c in value:
        if unicodedata.category(c) in _NOT_PLAIN and c not in "\n\t":
            raise CommandRejected(
                f"{key} contains U+{ord(c):04X}, a control, invisible or direction-changing "
                "character, which is not plain text: type it again without it"
            )
    return value


def flag(value: Any, key: str) -> bool:
    """``value`` as true or false (absent means false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise CommandRejected(f"{key} must be true or false")
    return value


def slot_number(value: Any, bank: Bank | None, key: str = "slot") -> int:
    """A slot's number; with ``bank``, one of its slots (:class:`NoSuchSlot` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandRejected(f"{key} must be a whole number")
    if bank is not None and value not in bank:
        raise NoSuchSlot(f"there is no slot {value}")
    return value


def slot_of_kind(value: Any, kind: str, bank: Bank | None) -> int:
    """A slot's number, which must be a ``kind`` slot of ``bank`` (when given)."""
    number = slot_number(value, bank)
    if bank is not None and bank[number] != kind:
        raise CommandRejected(f"slot {number} is not a {kind} slot")
    return number


def refuse_unless_free(number: int, state: str, state_text: str) -> None:
    """Stocking opens only a free setting slot: :class:`Conflict` naming its state otherwise.

    The rules refuse it too; the panel and the command line ask first so that a
    manager hears why at once (``state_text``: the state in the panel's words).
    """
    if state != "free":
        raise Conflict(
            f"slot {number} is not free ({state_text}): "
            "only an empty setting slot opens to be stocked"
        )


# ------------------------------------------------------------ the parser


def _grant(data: Mapping[str, Any], bank: Bank | None) -> Grant:
    person_id = whole_number(data.get("person_id"), "person_id")
    reason = data.get("reason")
    if reason not in GRANT_REASONS:
        raise CommandRejected(f"reason must be one of {', '.join(GRANT_REASONS)}")
    note = text(data.get("note"), "note", required=False)
    # The cap on a note (why: it is read by every manager and kept for years).
    if len(note) > MAX_NOTE:
        raise CommandRejected(NOTE_TOO_LONG)
    if reason == "other" and not note:
        raise CommandRejected("a grant for reason 'other' needs a note saying why")
    minutes = data.get("return_minutes")
    if minutes is not None:
        minutes = whole_number(minutes, "return_minutes", 1, MAX_RETURN_MINUTES)
    return Grant(person_id, reason, note, flag(data.get("open_now"), "open_now"), minutes)


def _release_all(data: Mapping[str, Any], bank: Bank | None) -> ReleaseAll:
    reason = text(data.get("reason"), "reason")
    if data.get("confirm") is not True:
        raise CommandRejected("confirm must be true: release-all opens every slot holding a device")
    return ReleaseAll(reason)


def _visitor_in(data: Mapping[str, Any], bank: Bank | None) -> VisitorIn:
    name = text(data.get("name"), "name", limit=MAX_NAME)
    slot = data.get("slot")
    return VisitorIn(name, None if slot is None else slot_of_kind(slot, "visitor", bank))


def _sim_badge(data: Mapping[str, Any], bank: Bank | None) -> SimBadge:
    uid = data.get("uid")
    if not isinstance(uid, str) or not 0 < len(uid) <= 40:
        raise CommandRejected('uid must be the card\'s UID in hex, e.g. "DEADBEEF"')
    try:
        uid = normalise_uid(uid)
    except InvalidRequest as exc:
        raise CommandRejected(f"uid: {exc}") from None
    # The emulated reader holds the simulator to what a card can be: a UID it
    # refused would fail every poll while the card was held to it.
    if uid.startswith(CASCADE_TAG):
        raise CommandRejected(
            f"uid: no card's UID starts with {CASCADE_TAG} (it marks a longer UID), not {uid}"
        )
    return SimBadge(uid)


def _sim_slot(data: Mapping[str, Any], bank: Bank | None) -> SimSlot:
    number = slot_number(data.get("slot"), bank)
    if "door" not in data and "device" not in data:
        raise CommandRejected('send door ("open" or "closed"), device (true or false), or both')
    door = data.get("door")
    if "door" in data and door not in ("open", "closed"):
        raise CommandRejected('door must be "open" or "closed"')
    device = data.get("device")
    if "device" in data and not isinstance(device, bool):
        raise CommandRejected("device must be true (put in) or false (take out)")
    return SimSlot(number, door, device)


def _sim_clock(data: Mapping[str, Any], bank: Bank | None) -> SimClock:
    seconds = data.get("advance_s")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise CommandRejected("advance_s must be a number of seconds")
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise CommandRejected("advance_s must be a finite number of seconds")
    if not 0 < seconds <= MAX_ADVANCE_S:
        raise CommandRejected(f"advance_s must be above 0 and at most {MAX_ADVANCE_S} (a week)")
    return SimClock(seconds)


def _sim_reader(data: Mapping[str, Any], bank: Bank | None) -> SimReader:
    fail = data.get("fail")
    if fail not in READER_FAULTS:
        raise CommandRejected('fail must be null, "no_answer", "bad_bcc" or "silent_chip"')
    return SimReader(fail)


#: Each kind: the fields its payload may have, and how it is read.
_PARSERS: dict[CommandKind, tuple[frozenset[str], Any]] = {
    CommandKind.RELOAD: (frozenset(), lambda data, bank: Reload()),
    CommandKind.GRANT: (
        frozenset({"person_id", "reason", "note", "open_now", "return_minutes"}),
        _grant,
    ),
    CommandKind.RELEASE_SLOT: (
        frozenset({"slot", "reason"}),
        lambda data, bank: ReleaseSlot(
            slot_number(data.get("slot"), bank), text(data.get("reason"), "reason")
        ),
    ),
    CommandKind.RELEASE_ALL: (frozenset({"reason", "confirm"}), _release_all),
    CommandKind.VISITOR_IN: (frozenset({"name", "slot"}), _visitor_in),
    CommandKind.VISITOR_OUT: (
        frozenset({"slot"}),
        lambda data, bank: VisitorOut(slot_of_kind(data.get("slot"), "visitor", bank)),
    ),
    CommandKind.STOCK: (
        frozenset({"slot"}),
        lambda data, bank: Stock(slot_of_kind(data.get("slot"), "setting", bank)),
    ),
    CommandKind.SIM_BADGE: (frozenset({"uid"}), _sim_badge),
    CommandKind.SIM_SLOT: (frozenset({"slot", "door", "device"}), _sim_slot),
    CommandKind.SIM_CLOCK: (frozenset({"advance_s"}), _sim_clock),
    CommandKind.SIM_READER: (frozenset({"fail"}), _sim_reader),
}


def parse_command(kind: str, payload: Any, bank: Bank | None = None) -> Payload:
    """The typed payload of a ``kind`` command, or :class:`CommandRejected` naming the field.

    The panel parses what a manager sent before it stores a row, the CLI what
    was typed, the controller the stored row before it acts on it: one
    contract, so the two sides cannot drift. ``bank`` (each slot's number and
    kind) lets the slot fields be checked against the bank; without it only
    their type is.
    """
    try:
        known = CommandKind(kind)
    except ValueError:
        raise CommandRejected(f"unknown command {kind!r}") from None
    if not isinstance(payload, Mapping):
        raise CommandRejected(f"the {known} command's payload must be a JSON object")
    fields, parse = _PARSERS[known]
    only(payload, fields)
    return parse(payload, bank)


@dataclass(frozen=True)
class Queued:
    """A pending command as the daemon read it (once) from its row."""

    id: int
    kind: str
    payload: dict[str, Any]
    account: str
    client: str
    #: Real (wall) UTC time when it was asked for; None on rows from before it was kept.
    requested_at: datetime | None

    @property
    def simulated(self) -> bool:
        """Whether the simulated world carries it out rather than the custody rules."""
        return self.kind in SIMULATOR_KINDS

    def age_s(self, real_now: datetime) -> float | None:
        """Seconds since it was asked for (None when unknown)."""
        return None if self.requested_at is None else age_s(self.requested_at, real_now)

    def expired(self, real_now: datetime, max_age_s: float) -> bool:
        """Whether it would open a slot and is too old (or of unknown age) to run."""
        if not opens_a_slot(self.kind, self.payload):
            return False
        age = self.age_s(real_now)
        return age is None or too_old(self.kind, self.payload, age, max_age_s)
