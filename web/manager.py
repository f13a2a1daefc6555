"""The manager's actions, shared by the panel's forms and the JSON API.

Each one checks its input here first (so a mistake is named at once, even
when the daemon is down), then becomes a Command for the daemon; acknowledging
an alert needs no hardware and is done directly in the database. Errors are
the product's own: :class:`InvalidRequest` (400), :class:`NotFound` (404),
:class:`Conflict` (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from locker import commands
from locker import events as ev
from locker.commands import Bank, CommandKind, only
from locker.decisions import LogEntry
from locker.errors import Conflict, NotFound
from locker.log import append
from locker.models import Alert, Person, Slot
from web.commands import CommandOutcome, send_command
from web.context import MAX_ID, controller_now, daemon_state, get_config, get_db
from web.words import state_words


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


def bank() -> Bank:
    """Each configured slot's number and kind, for :func:`locker.commands.parse_command`."""
    return commands.bank_of(get_config())


def slot_number(value: Any, key: str = "slot") -> int:
    """A configured slot's number (:class:`NotFound` for one the bank does not have)."""
    return commands.slot_number(value, bank(), key)


def parse(kind: CommandKind, data: Mapping[str, Any]) -> commands.Payload:
    """``data`` (a form or a JSON body, its password taken out) as ``kind``'s payload."""
    return commands.parse_command(kind, {k: v for k, v in data.items() if k != "password"}, bank())


def ask(kind: CommandKind, asked: commands.Payload, who: Actor) -> CommandOutcome:
    """Queue the parsed command for the daemon and wait briefly for its answer."""
    return send_command(kind, commands.payload_of(asked), account=who.account, client=who.client)


# ---------------------------------------------------------------- the actions


def grant_release(data: Mapping[str, Any], who: Actor) -> Requested:
    """Approve a release for a person: at once, or at their next badge."""
    only(data, {"person_id", "reason", "note", "open_now", "return_minutes"})
    asked = parse(CommandKind.GRANT, data)
    with get_db().read() as session:
        person = session.get(Person, asked.person_id)
        if person is None or not person.active:
            raise NotFound(f"there is nobody with id {asked.person_id}")
        name = person.name
    return Requested(ask(CommandKind.GRANT, asked, who), {"person": name})


def release_slot(number: Any, data: Mapping[str, Any], who: Actor) -> Requested:
    """Open one slot so its device can be taken."""
    only(data, {"reason", "password"})
    asked = parse(CommandKind.RELEASE_SLOT, {**data, "slot": number})
    names = {"person": name} if (name := _occupant(asked.slot)) else {}
    return Requested(ask(CommandKind.RELEASE_SLOT, asked, who), names)


def release_all(data: Mapping[str, Any], who: Actor) -> Requested:
    """Evacuation: open every slot holding a device."""
    asked = parse(CommandKind.RELEASE_ALL, data)
    return Requested(ask(CommandKind.RELEASE_ALL, asked, who), {})


def sign_in_visitor(data: Mapping[str, Any], who: Actor) -> Requested:
    """Open a free visitor slot for a visitor's phone."""
    asked = parse(CommandKind.VISITOR_IN, data)
    return Requested(ask(CommandKind.VISITOR_IN, asked, who), {"visitor": asked.name})


def sign_out_visitor(data: Mapping[str, Any], who: Actor) -> Requested:
    """Open a visitor's slot so they can take their phone."""
    asked = parse(CommandKind.VISITOR_OUT, data)
    names = {"visitor": name} if (name := _occupant(asked.slot)) else {}
    return Requested(ask(CommandKind.VISITOR_OUT, asked, who), names)


def stock_slot(number: Any, data: Mapping[str, Any], who: Actor) -> Requested:
    """Open an empty setting slot for one of the setting's own devices to be put in."""
    only(data, {"password"})
    asked = parse(CommandKind.STOCK, {**data, "slot": number})
    with get_db().read() as session:
        slot = session.get(Slot, asked.slot)
        state = slot.state if slot is not None else "unknown"
    commands.refuse_unless_free(asked.slot, state, state_words(state).lower())
    return Requested(ask(CommandKind.STOCK, asked, who), {})


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
