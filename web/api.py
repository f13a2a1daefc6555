"""The JSON API of SPEC.md: status, people, the log, and the manager's actions.

Callers log in with the panel's session cookie (and send the CSRF token in
``X-CSRFToken`` with every change) or with ``Authorization: Bearer TOKEN``.
A session caller opening a slot (an open-now grant, a release) sends its
password again in ``password``, unless it typed it in the last few minutes
(:mod:`web.reauth`). ``docs/api.md`` describes every route.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from locker.events import ALL_KINDS
from locker.log.personal import ShownEvent, shown_events
from locker.models import Event, Person
from locker.rota import shifts_on
from web import manager, reauth, uids
from web.commands import describe
from web.context import (
    MAX_ID,
    client_address,
    controller_now,
    daemon_state,
    get_config,
    get_db,
    iso,
    local_day,
)
from web.log_rows import event_row, names_of
from web.status import snapshot

bp = Blueprint("api", __name__)

EVENTS_LIMIT = 100
EVENTS_MAX = 1000
_DIGITS = re.compile(r"[0-9]{1,19}")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 4xx naming what is wrong with it."""
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON object with Content-Type: application/json")
    try:
        data = request.get_json()
    except BadRequest:
        raise BadRequest("the request body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter within ``lo..hi``."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise BadRequest(f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


def actor() -> manager.Actor:
    """The caller, for the log."""
    return manager.Actor(current_user.username, client_address())


def command_answer(requested: manager.Requested):
    """200 when the daemon did it, 202 while it is queued, 409 when it refused or the
    request was too old to carry out."""
    outcome = requested.outcome
    body = {
        "command_id": outcome.command_id,
        "status": outcome.status,
        "result": outcome.result,
        "message": describe(outcome, requested.names),
    }
    if outcome.error is not None:
        return jsonify(error=outcome.error, **body), 409
    return jsonify(body), 202 if outcome.status == "pending" else 200


@bp.get("/healthz")
def healthz():
    """Is the panel up, and is the daemon's heartbeat fresh?"""
    with get_db().read() as session:
        state = daemon_state(session)
    return jsonify(
        web="ok",
        daemon="ok" if state.running else "down",
        last_heartbeat=iso(state.last_heartbeat),
        storage=state.storage,
    )


@bp.get("/api/status")
def status():
    """The bank, today's shifts and open alerts."""
    with get_db().read() as session:
        return jsonify(snapshot(session))


@bp.get("/api/people")
def people():
    """Everybody, with their badges, slot and today's shift."""
    with get_db().read() as session:
        today = local_day(controller_now(daemon_state(session)))
        shifts = {s.person_id: s for s in shifts_on(session, today)}
        persons = session.scalars(
            select(Person).options(selectinload(Person.badges)).order_by(Person.name)
        )
        return jsonify(people=[_person(p, shifts.get(p.id)) for p in persons])


def _person(person: Person, shift) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "role": person.role,
        "active": person.active,
        "badges": [uids.shown(b.uid) for b in person.badges if b.revoked_at is None],
        "slot": person.slot_number,
        "shift_today": None
        if shift is None
        else {
            "start": iso(shift.start),
            "end": iso(shift.end),
            "breaks": [{"start": iso(b.start), "end": iso(b.end)} for b in shift.breaks],
        },
    }


@bp.get("/api/events")
def events():
    """Log events after ``after_id``, oldest first, at most ``limit``, of one ``kind``."""
    after_id = query_int("after_id", 0, 0, MAX_ID)
    limit = query_int("limit", EVENTS_LIMIT, 1, EVENTS_MAX)
    kind = request.args.get("kind")
    query = select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit + 1)
    if kind:
        if kind not in ALL_KINDS:
            raise BadRequest(f"kind {kind!r} is not an event kind")
        query = query.where(Event.kind == kind)
    with get_db().read() as session:
        rows = list(session.scalars(query))
        page = shown_events(session, rows[:limit])
        names = names_of(session, (e.person_id for e in page))
    tz = get_config().tz
    return jsonify(
        events=[_event(e, event_row(e, names, tz)) for e in page],
        next_after_id=page[-1].id if page else after_id,
        more=len(rows) > limit,
    )


def _event(event: ShownEvent, row: dict[str, Any]) -> dict[str, Any]:
    """An event as stored, with the log page's words for it (``kind_text``, ``summary``)."""
    return {
        "id": event.id,
        "ts": event.ts,
        "kind": event.kind,
        "actor": event.actor,
        "slot": event.slot,
        "person_id": event.person_id,
        "details": uids.shown_details(_details(event.details)),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "kind_text": row["kind_text"],
        "person_name": row["person_name"],
        "summary": row["summary"],
    }


def _details(stored: str) -> Any:
    try:
        return json.loads(stored)
    except ValueError:
        return stored  # altered behind the log's back; `locker log verify` names it


@bp.post("/api/grants")
def grants():
    """Approve a release for a person; opening the slot now needs the password again."""
    data = json_body()
    password = reauth.password_in(data)
    if data.get("open_now") is True:
        reauth.require(password, "open a slot now")
    return command_answer(manager.grant_release(data, actor()))


@bp.post("/api/slots/<int:number>/release")
def release_slot(number: int):
    """Open one slot for its device to be taken."""
    data = json_body()
    reauth.require(reauth.password_in(data), "release a slot")
    return command_answer(manager.release_slot(number, data, actor()))


@bp.post("/api/slots/<int:number>/stock")
def stock_slot(number: int):
    """Open an empty setting slot for one of the setting's own devices to be put in."""
    data = json_body()
    reauth.require(reauth.password_in(data), "open a setting slot")
    return command_answer(manager.stock_slot(number, data, actor()))


@bp.post("/api/release-all")
def release_all():
    """Evacuation: open every slot holding a device."""
    data = json_body()
    reauth.require(reauth.password_in(data), "release every slot")
    return command_answer(manager.release_all(data, actor()))


@bp.post("/api/alerts/<int:alert_id>/ack")
def acknowledge(alert_id: int):
    """Acknowledge an open alert."""
    alert = manager.acknowledge_alert(alert_id, actor())
    return jsonify(
        id=alert.id,
        alert=alert.alert,
        acknowledged_at=iso(alert.acknowledged_at),
        acknowledged_by=alert.acknowledged_by,
    )
