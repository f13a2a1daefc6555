"""The manager's actions, shared by the panel's forms and the JSON API.

Each one checks its input here first (so a mistake is named at once, even
when the daemon is down), then becomes a Command for the daemon; acknowledging
an alert needs no hardware and is done directly in the database. Errors are
the product's own: :class:`InvalidRequest` (400), :class:`NotFound` (404),
:class:`Conflict` (409).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from locker import events as ev
from locker.commands import CommandKind
from locker.decisions import LogEntry
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.events import GRANT_REASONS
from locker.log import append
from locker.models import Alert, Person, Slot
from locker.privacy import GRANT_NOTE_MAX
from web.commands import CommandOutcome, send_command
from web.context import MAX_ID, controller_now, daemon_state, get_config, get_db

MAX_TEXT = 500
MAX_NAME = 120
MAX_RETURN_MINUTES = 24 * 60


@dataclass(frozen=True)
class Actor:
    """Who asks, for the log: the panel account and the client's address."""

    account: str
    client: str


@dataclass(frozen=True)
class Requested:
    """A command's outcome and the names the message about it needs."""

    outcome: CommandOutcome
    names: dict[str, str]


# ------------------------------------------------------------- checking input


def only(data: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse fields nobody asked for: a misspelt one would otherwise be ignored."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown field {unknown[0]!r} (expected: {', '.join(sorted(allowed))})"
        )


def whole_number(value: Any, key: str, lo: int = 1, hi: int = MAX_ID) -> int:
    """``value`` as an int within ``lo..hi``; booleans and numbers as text are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{key} must be a whole number")
    if not lo <= value <= hi:
        raise InvalidRequest(f"{key} must be between {lo} and {hi}")
    return value


def text(value: Any, key: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """``value`` as trimmed text of at most ``limit`` characters, without control codes."""
    if value is None:
        if required:
            raise InvalidRequest(f"{key} is needed")
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidRequest(f"{key} is needed")
    if len(value) > limit:
        raise InvalidRequest(f"{key} is too long (at most {limit} characters)")
    # Lone surrogates cannot be stored; control codes have no business in a log;
    # bidi overrides and zero-width characters (format, Cf) make a log line read
    # other than it is; private-use, unassigned and line-separator ones likewise.
    not_plain = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    for c in value:
        if unicodedata.category(c) in not_plain and c not in "\n\t":
            raise InvalidRequest(
                f"{key} contains U+{ord(c):04X}, a control, invisible or direction-changing "
                "character, which is not plain text: type it again without it"
            )
    return value


def flag(value: Any, key: str) -> bool:
    """``value`` as true or false (absent means false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"{key} must be true or false")
    return value


def slot_number(value: Any, key: str = "slot") -> int:
    """A configured slot's number."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{key} must be a whole number")
    if value not in {s.number for s in get_config().slots}:
        raise NotFound(f"there is no slot {value}")
    return value


def slot_of_kind(value: Any, kind: str) -> int:
    """A configured slot's number, which must be of ``kind``."""
    number = slot_number(value)
    if get_config().slot(number).kind != kind:
        raise InvalidRequest(f"slot {number} is not a {kind} slot")
    return number


# ---------------------------------------------------------------- the actions


def grant_release(data: Mapping[str, Any], who: Actor) -> Requested:
    """Approve a release for a person: at once, or at their next badge."""
    only(data, {"person_id", "reason", "note", "open_now", "return_minutes"})
    person_id = whole_number(data.get("person_id"), "person_id")
    reason = data.get("reason")
    if reason not in GRANT_REASONS:
        raise InvalidRequest(f"reason must be one of {', '.join(GRANT_REASONS)}")
    # A short note: the reason codes cover the common cases, and health details
    # have no place in it (UK GDPR special category data).
    note = text(data.get("note"), "note", required=False, limit=GRANT_NOTE_MAX)
    if reason == "other" and not note:
        raise InvalidRequest("a grant for reason 'other' needs a note saying why")
    payload: dict[str, Any] = {
        "person_id": person_id,
        "reason": reason,
        "note": note,
        "open_now": flag(data.get("open_now"), "open_now"),
    }
    if data.get("return_minutes") is not None:
        payload["return_minutes"] = whole_number(
            data["return_minutes"], "return_minutes", 1, MAX_RETURN_MINUTES
        )
    with get_db().read() as session:
        person = session.get(Person, person_id)
        if person is None or not person.active:
            raise NotFound(f"there is nobody with id {person_id}")
        name = person.name
    return Requested(send_command(CommandKind.GRANT, payload, **_who(who)), {"person": name})


def release_slot(number: Any, data: Mapping[str, Any], who: Actor) -> Requested:
    """Open one slot so its device can be taken."""
    only(data, {"reason", "password"})
    payload = {"slot": slot_number(number), "reason": text(data.get("reason"), "reason")}
    names = {"person": name} if (name := _occupant(payload["slot"])) else {}
    return Requested(send_command(CommandKind.RELEASE_SLOT, payload, **_who(who)), names)


def release_all(data: Mapping[str, Any], who: Actor) -> Requested:
    """Evacuation: open every slot holding a device."""
    only(data, {"reason", "confirm", "password"})
    reason = text(data.get("reason"), "reason")
    if data.get("confirm") is not True:
        raise InvalidRequest("confirm must be true: release-all opens every slot holding a device")
    payload = {"reason": reason, "confirm": True}
    return Requested(send_command(CommandKind.RELEASE_ALL, payload, **_who(who)), {})


def sign_in_visitor(data: Mapping[str, Any], who: Actor) -> Requested:
    """Open a free visitor slot for a visitor's phone."""
    only(data, {"name", "slot"})
    name = text(data.get("name"), "name", limit=MAX_NAME)
    payload: dict[str, Any] = {"name": name}
    if data.get("slot") is not None:
        payload["slot"] = slot_of_kind(data["slot"], "visitor")
    return Requested(send_command(CommandKind.VISITOR_IN, payload, **_who(who)), {"visitor": name})


def sign_out_visitor(data: Mapping[str, Any], who: Actor) -> Requested:
    """Open a visitor's slot so they can take their phone."""
    only(data, {"slot"})
    payload = {"slot": slot_of_kind(data.get("slot"), "visitor")}
    names = {"visitor": name} if (name := _occupant(payload["slot"])) else {}
    return Requested(send_command(CommandKind.VISITOR_OUT, payload, **_who(who)), names)


def _occupant(number: int) -> str | None:
    """Whose device (a person's or a visitor's) slot ``number`` holds, for the message."""
    with get_db().read() as session:
        slot = session.get(Slot, number)
        if slot is None:
            return None
        person = session.get(Person, slot.occupant_id) if slot.occupant_id else None
        return person.name if person is not None else slot.visitor_name


def acknowledge_alert(alert_id: int, who: Actor) -> Alert:
    """Mark an open alert as seen, in the database and the log."""
    if not 1 <= alert_id <= MAX_ID:
        raise NotFound(f"there is no alert {alert_id}")
    with get_db().write() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"there is no alert {alert_id}")
        if alert.acknowledged_at is not None:
            raise Conflict(f"alert {alert_id} was already acknowledged by {alert.acknowledged_by}")
        now = controller_now(daemon_state(session))
        alert.acknowledged_at = now
        alert.acknowledged_by = who.account
        details = {"alert": alert.alert, "alert_id": alert.id, "client": who.client}
        entry = LogEntry(ev.ALERT_ACKNOWLEDGED, who.account, alert.slot, alert.person_id, details)
        append(session, entry, now)
        session.commit()
        return alert


def _who(who: Actor) -> dict[str, str]:
    return {"account": who.account, "client": who.client}
