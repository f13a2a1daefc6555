"""The simulator: play the locker's physical world from a browser or over the JSON API.

Only there when the daemon runs on simulated hardware (``locker demo``); every
route is a 404 otherwise. The panel still never touches a pin: a card at the
reader, a door or a device, and the simulated clock are all Commands the
daemon carries out on its simulated world (``sim_badge``, ``sim_slot``,
``sim_clock``), and what the output pins show comes from its live status file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from locker.commands import CommandKind, Payload, SimBadge, only, parse_command, payload_of
from locker.errors import Conflict, InvalidRequest
from locker.log.personal import ShownEvent
from locker.models import Badge, Event, Person, Slot
from locker.roster import normalise_uid
from locker.rota import NonexistentTime, local_to_utc
from web.api import json_body
from web.commands import NOT_YET, send_command
from web.context import client_address, controller_now, daemon_state, get_config, get_db, iso
from web.log import REAL_TIME_KINDS
from web.manager import bank
from web.rota import parse_time
from web.sim_outcome import WATCH_S, Card, SlotMove, Watch, events_after, log_mark
from web.words import STATE_WORDS, in_words, slot_kind_words

bp = Blueprint("sim", __name__)

#: Events the simulator page shows when it opens.
LOG_LINES = 15
NOT_SIMULATED = (
    "the simulator is only there when the controller runs on simulated hardware (locker demo)"
)


def simulated() -> bool:
    """True when the daemon last said it runs on simulated hardware."""
    with get_db().read() as session:
        return daemon_state(session).simulated


@bp.app_context_processor
def simulator_link() -> dict[str, Any]:
    """Templates may ask ``simulator_available()`` (the nav shows the link only then)."""
    return {"simulator_available": simulated}


@bp.before_request
def only_when_simulated() -> None:
    """A 404 for every simulator route unless the hardware is simulated."""
    if not simulated():
        raise NotFound(NOT_SIMULATED)


# ------------------------------------------------------------------ state


def outputs_of(raw: dict[str, Any] | None) -> dict[str, Any]:
    """What the output pins show (``GET /api/sim/outputs``), every configured slot included."""
    raw = raw or {}
    stored = raw.get("slots") or {}
    slots = {}
    for cfg in get_config().slots:
        pins = stored.get(str(cfg.number)) or {}
        slots[str(cfg.number)] = {
            "lock_energised": bool(pins.get("lock_energised", False)),
            "unlock_count": pins.get("unlock_count", 0),
            "led": pins.get("led"),
        }
    leds = raw.get("leds") or {}
    return {
        "slots": slots,
        "leds": {"green": bool(leds.get("green")), "red": bool(leds.get("red"))},
        "buzzer": bool(raw.get("buzzer")),
        # The most lock outputs the world saw energised together since the daemon started.
        "max_energised_at_once": int(raw.get("max_energised_at_once") or 0),
    }


def sim_state(session: Session) -> dict[str, Any]:
    """Everything the simulator page shows, as JSON-ready data (``GET /api/sim/state``)."""
    state = daemon_state(session)
    now = controller_now(state)
    local = now.astimezone(get_config().tz)
    outputs = outputs_of(state.outputs)
    names = {pid: name for pid, name in session.execute(select(Person.id, Person.name))}
    rows = {slot.number: slot for slot in session.scalars(select(Slot))}
    slots = []
    for cfg in get_config().slots:
        slot = rows.get(cfg.number)
        pins = outputs["slots"][str(cfg.number)]
        occupant = names.get(slot.occupant_id) if slot and slot.occupant_id else None
        if slot is not None and slot.visitor_name:
            occupant = f"Visitor: {slot.visitor_name}"
        slots.append(
            {
                "number": cfg.number,
                "label": cfg.label or str(cfg.number),
                "kind": cfg.kind,
                "kind_text": slot_kind_words(cfg.kind),
                "state": slot.state if slot else "unknown",
                "state_text": STATE_WORDS.get(slot.state if slot else "unknown", ""),
                "occupant": occupant,
                "door_open": slot.door_open if slot else None,
                "device_present": slot.device_present if slot else None,
                "locked": slot.locked if slot else None,
                **pins,
            }
        )
    return {
        "running": state.running,
        "clock_synchronised": state.clock_synchronised,
        "now": iso(now),
        "now_local": local.strftime("%a %d %b %Y, %H:%M:%S"),
        "slots": slots,
        "leds": outputs["leds"],
        "buzzer": outputs["buzzer"],
        "names": {str(pid): name for pid, name in names.items()},
    }


def _badges(session: Session) -> list[dict[str, Any]]:
    """Every badge still in use, by its holder's name, for the reader's list."""
    query = (
        select(Badge.uid, Person.name, Person.active, Person.role)
        .join(Person, Badge.person_id == Person.id)
        .where(Badge.revoked_at.is_(None))
        .order_by(Person.name, Badge.uid)
    )
    return [
        {"uid": uid, "name": name, "active": active, "manager": role == "manager"}
        for uid, name, active, role in session.execute(query)
    ]


# -------------------------------------------------------------- commands


def _ask(kind: CommandKind, asked: Payload, words) -> tuple[Any, int]:
    """Send a parsed simulator command; 200 with what happened, 202 while queued, 409 if
    refused."""
    with get_db().read() as session:
        running = daemon_state(session).running
    if not running:
        # A card tap or a door queued for later would play out at the wrong moment.
        raise Conflict("the controller is not running: start it (locker demo) and try again")
    outcome = send_command(
        kind, payload_of(asked), account=current_user.username, client=client_address()
    )
    body = {"command_id": outcome.command_id, "status": outcome.status, "result": outcome.result}
    if outcome.status == "failed":
        return jsonify(error=f"the simulator refused: {in_words(str(outcome.error))}", **body), 409
    if outcome.status == "pending":
        return jsonify(message=NOT_YET, **body), 202
    return jsonify(message=words(outcome.result), **body), 200


def _advance_to(value: Any) -> float:
    """Seconds from the controller's now to the next local ``HH:MM``."""
    if not isinstance(value, str):
        raise InvalidRequest("to must be a local time of day as HH:MM")
    at = parse_time(value, "to")
    tz = get_config().tz
    with get_db().read() as session:
        now = controller_now(daemon_state(session))
    day = now.astimezone(tz).date()
    for _ in range(3):  # today, else tomorrow; a time the clocks skip is skipped too
        try:
            target = local_to_utc(day, at, tz)
        except NonexistentTime:
            target = None
        if target is not None and target > now:
            return (target - now).total_seconds()
        day += timedelta(days=1)
    raise InvalidRequest(f"{value} does not come round in the next two days")


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs or not (hours or minutes) else "")
    return " ".join(p for p in parts if p)


def _local(text: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    return moment.astimezone(get_config().tz).strftime("%a %d %b, %H:%M:%S")


# ------------------------------------------------------------------ views


@bp.get("/sim")
def page():
    """The simulator: a badge reader, the bank's doors and devices, the outputs and the clock."""
    with get_db().read() as session:
        state = sim_state(session)
        badges = _badges(session)
        last_id = session.scalar(select(func.max(Event.id))) or 0
    return render_template(
        "sim.html",
        sim=state,
        badges=badges,
        events_after=max(last_id - LOG_LINES, 0),
        timezone=get_config().tz.key,
        real_time_kinds=" ".join(sorted(REAL_TIME_KINDS)),
    )


@bp.get("/api/sim/state")
def state():
    """The controller's time, every slot's door, device, lock and outputs, the bank's lights."""
    with get_db().read() as session:
        return jsonify(sim_state(session))


@bp.get("/api/sim/outputs")
def outputs():
    """What the output pins show: each slot's lock, the bank's LEDs and the buzzer."""
    return jsonify(outputs_of(daemon_state().outputs))


@bp.post("/api/sim/badge")
def badge():
    """Present a card to the reader: ``{uid}``; the answer says what the controller decided."""
    data = json_body()
    only(data, {"uid"})
    asked = SimBadge(normalise_uid(parse_command(CommandKind.SIM_BADGE, data).uid))
    with get_db().read() as session:
        mark, card = log_mark(session), Card.look_up(session, asked.uid)

    def words(result: dict[str, Any]) -> str:
        return card.outcome(_watch(mark, lambda seen: card.decision(seen) is not None))

    return _ask(CommandKind.SIM_BADGE, asked, words)


@bp.post("/api/sim/slots/<int:number>")
def slot(number: int):
    """Move a slot's door or its device: ``{door?: "open"|"closed", device?: true|false}``;
    the answer says what the controller made of it."""
    data = json_body()
    only(data, {"door", "device"})
    asked = parse_command(CommandKind.SIM_SLOT, {**data, "slot": number}, bank())
    said = []
    if asked.door is not None:
        said.append("door opened" if asked.door == "open" else "door closed")
    if asked.device is not None:
        said.append("device put in" if asked.device else "device taken out")
    with get_db().read() as session:
        mark = log_mark(session)
        move = SlotMove.look_up(session, number, asked.door, asked.device)

    def words(result: dict[str, Any]) -> str:
        seen = _watch(mark, move.answered)
        with get_db().read() as session:
            row = session.get(Slot, number)
            state = row.state if row is not None else None
        outcome = move.outcome(seen, state)
        if result.get("forced") and "forced door" not in outcome:
            outcome += " It was locked: that is a forced door."
        return f"Slot {number}: {' and '.join(said)}. {outcome}"

    return _ask(CommandKind.SIM_SLOT, asked, words)


def _watch(mark: int, answered: Callable[[list[ShownEvent]], bool]) -> list[ShownEvent]:
    """The events after ``mark`` once ``answered`` by them, or after a short bounded wait.

    The watch (its length and its clock) can be injected as the app extension
    ``locker_sim_watch``; otherwise it lasts ``LOCKER_SIM_WATCH_S`` seconds.
    """
    watch = current_app.extensions.get("locker_sim_watch") or Watch(
        current_app.config.get("LOCKER_SIM_WATCH_S", WATCH_S)
    )

    def read():
        with get_db().read() as session:
            return events_after(session, mark)

    return watch.until(read, answered)


@bp.post("/api/sim/clock")
def clock():
    """Move simulated time forward: ``{advance_s}`` seconds, or ``{to: "HH:MM"}`` local."""
    data = json_body()
    only(data, {"advance_s", "to"})
    if ("advance_s" in data) == ("to" in data):
        raise InvalidRequest("send advance_s (seconds) or to (a local time as HH:MM), not both")
    seconds = _advance_to(data["to"]) if "to" in data else data["advance_s"]
    asked = parse_command(CommandKind.SIM_CLOCK, {"advance_s": seconds})
    how_far = f"to {data['to'].strip()}" if "to" in data else _duration(asked.advance_s)

    def words(result: dict[str, Any]) -> str:
        return f"Clock moved on {how_far}: it is now {_local(result.get('now'))}."

    return _ask(CommandKind.SIM_CLOCK, asked, words)
