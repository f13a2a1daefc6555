"""The live status page: the bank's slots, today's shifts, open alerts, the daemon's health.

:func:`snapshot` builds one dictionary that both the page (server-rendered)
and ``GET /api/status`` (which the page's script polls) are made from, so
the two always say the same thing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from locker.alerts import on_panel, severity, unchecked_slots
from locker.commands import CommandStatus
from locker.models import Alert, Command, Person, Shift, Slot
from locker.rota import shifts_on
from web.context import (
    DaemonState,
    controller_now,
    daemon_state,
    get_config,
    get_db,
    iso,
    local_day,
    local_text,
)
from web.words import REQUEST_WORDS, SLOT_REASON_WORDS, alert_words, slot_kind_words, state_words

bp = Blueprint("status", __name__)

#: A slot's sensors in words while the hardware serving them does not answer.
CANNOT_CHECK = "Cannot check: its expander does not answer"


@bp.get("/")
def index():
    """The live status of the bank."""
    with get_db().read() as session:
        status = snapshot(session)
    return render_template("status.html", status=status)


def snapshot(session: Session) -> dict[str, Any]:
    """Everything the status page shows, as JSON-ready data (``GET /api/status``)."""
    state = daemon_state(session)
    now = controller_now(state)
    today = local_day(now)
    rows = {row.number: row for row in session.scalars(select(Slot))}
    alerts = sorted(
        session.scalars(select(Alert).where(on_panel()).order_by(Alert.raised_at, Alert.id)),
        key=lambda a: severity(a.alert) != "safety",
    )
    # Only the people the page names (every person ever on the list was loaded
    # on each refresh, and a nursery's list only grows).
    shifts = shifts_on(session, today)
    named = {row.occupant_id for row in rows.values()} | {a.person_id for a in alerts}
    named |= {shift.person_id for shift in shifts}
    named.discard(None)
    people = (
        {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(named)))}
        if named
        else {}
    )
    slots = [
        _slot(cfg.number, cfg.kind, rows.get(cfg.number), people, today)
        for cfg in get_config().slots
    ]
    unchecked = unchecked_slots(session)
    for slot in slots:
        # Its expander does not answer: what the row last said of the door may be stale.
        slot["checkable"] = slot["number"] not in unchecked
        if not slot["checkable"]:
            slot["sensors_text"] = CANNOT_CHECK
    listed = [describe_alert(a, people, today) for a in alerts]
    groups = alert_groups(listed)
    return {
        "now": iso(now),
        "now_local": local_text(now, today),
        "site_name": get_config().site_name,
        "clock_synchronised": state.clock_synchronised,
        "daemon": _daemon(state, today),
        "slots": slots,
        "on_shift": [_shift(s, slots, now, today) for s in shifts],
        "alerts": listed,
        "alert_groups": groups,
        "other_alerts": other_alerts(groups),
        "expired_requests": _expired_requests(session, now, today),
    }


#: How long the status page mentions a request that was too old to carry out.
EXPIRED_SHOWN = timedelta(minutes=30)


def _expired_requests(session: Session, now: datetime, today: date) -> list[dict[str, Any]]:
    """Unlocking requests lately expired unrun, so the manager learns nothing opened."""
    rows = session.scalars(
        select(Command)
        .where(Command.status == CommandStatus.EXPIRED, Command.done_at >= now - EXPIRED_SHOWN)
        .order_by(Command.id.desc())
        .limit(5)
    )
    return [
        {
            "id": c.id,
            "text": f"{REQUEST_WORDS.get(c.kind, 'A request')} asked by {c.account or 'someone'} "
            f"at {local_text(c.created_at, today)} was too old when the controller reached it; "
            "nothing was opened.",
        }
        for c in rows
    ]


def _daemon(state: DaemonState, today: date) -> dict[str, Any]:
    return {
        "running": state.running,
        "last_heartbeat": iso(state.last_heartbeat),
        "last_heartbeat_local": local_text(state.last_heartbeat, today),
        "simulated": state.simulated,
        "reader_ok": state.reader_ok,
        "storage": state.storage,
        "storage_error": state.storage_error,
    }


def _slot(
    number: int, kind: str, row: Slot | None, people: dict[int, Person], today: date
) -> dict[str, Any]:
    if row is None:
        # Configured but not yet written by the daemon: say so rather than guess.
        row = Slot(number=number, kind=kind, label=str(number), state="unknown")
    person = people.get(row.occupant_id) if row.occupant_id is not None else None
    return {
        "number": row.number,
        "label": row.label or str(row.number),
        "kind": row.kind,
        "kind_text": slot_kind_words(row.kind),
        "state": row.state,
        "state_text": state_words(row.state),
        "locked": row.locked,
        "door_open": row.door_open,
        "device_present": row.device_present,
        "occupant": {"id": person.id, "name": person.name} if person else None,
        "visitor_name": row.visitor_name,
        "occupant_text": _occupant_text(person, row.visitor_name),
        "sensors_text": _sensors_text(row),
        "reason": row.reason,
        "reason_text": SLOT_REASON_WORDS.get(
            row.reason or "", (row.reason or "").replace("_", " ")
        ),
        "since": iso(row.since),
        "since_local": local_text(row.since, today),
        "return_due": iso(row.return_due),
        "return_due_local": local_text(row.return_due, today),
    }


def _occupant_text(person: Person | None, visitor_name: str | None) -> str:
    if person is not None:
        return person.name
    return f"Visitor: {visitor_name}" if visitor_name else ""


def _sensors_text(row: Slot) -> str:
    """The door, the device sensor and the lock in words (blank until the daemon says)."""
    words = [
        _word(row.door_open, "Door open", "Door closed"),
        _word(row.device_present, "Device in", "No device"),
        _word(row.locked, "Locked", "Unlocked"),
    ]
    return " · ".join(w for w in words if w)


def _word(value: bool | None, yes: str, no: str) -> str:
    return "" if value is None else yes if value else no


def _shift(shift: Shift, slots: list[dict], now: datetime, today: date) -> dict[str, Any]:
    mine = next(
        (
            s
            for s in slots
            if s["kind"] == "staff" and s["occupant"] and s["occupant"]["id"] == shift.person_id
        ),
        None,
    )
    device, device_text = _device(mine)
    return {
        "id": shift.person_id,
        "name": shift.person.name,
        "start": iso(shift.start),
        "end": iso(shift.end),
        "breaks": [{"start": iso(b.start), "end": iso(b.end)} for b in shift.breaks],
        "hours_local": f"{local_text(shift.start, today)}–{local_text(shift.end, today)}",
        "breaks_local": ", ".join(
            f"{local_text(b.start, today)}–{local_text(b.end, today)}" for b in shift.breaks
        ),
        "on_shift_now": shift.start <= now < shift.end,
        "slot": mine["number"] if mine else None,
        "device": device,
        "device_text": device_text,
    }


def _device(slot: dict[str, Any] | None) -> tuple[str, str]:
    """Whether a person's device is in, as a code and in words."""
    if slot is None:
        return "none", "Not deposited"
    if slot["state"] == "held":
        return "in", f"In slot {slot['label']}"
    if slot["state"] == "out":
        return "out", f"Out ({slot['reason_text'] or 'released'})"
    return "open", f"Slot {slot['label']} is open"


def describe_alert(alert: Alert, people: dict[int, Person], today: date) -> dict[str, Any]:
    """One alert as the page and the API show it."""
    person = people.get(alert.person_id) if alert.person_id is not None else None
    return {
        "id": alert.id,
        "alert": alert.alert,
        "alert_text": alert_words(alert.alert),
        "message": str((alert.details or {}).get("message", "")),
        "slot": alert.slot,
        "person_id": alert.person_id,
        "person_name": person.name if person else None,
        "raised_at": iso(alert.raised_at),
        "raised_local": local_text(alert.raised_at, today),
        "severity": severity(alert.alert),
        "resolved_at": iso(alert.resolved_at),
        "resolved_why": alert.resolved_why,
    }


#: Names on a group's line before "and N more" (the list opens to all of them).
SHOWN_IN_LINE = 3
#: How a group of operational alerts of one kind reads on one line ("5 people ...").
GROUP_WORDS = {
    "no_deposit": "{n} people on shift without a device",
    "overdue": "{n} devices overdue",
    "forgotten_device": "{n} devices forgotten after closing",
    "door_left_open": "{n} doors left open",
    "clock": "{n} clock alerts",
}


def alert_groups(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The panel's alert lines: each safety alert alone, first; operational alerts of
    one kind as one group (a line that opens to the list) in the order first raised."""
    groups: list[dict[str, Any]] = []
    by_kind: dict[str, dict[str, Any]] = {}
    for a in alerts:
        if a["severity"] == "safety" or a["alert"] not in by_kind:
            group = {"kind": a["alert"], "severity": a["severity"], "alerts": []}
            groups.append(group)
            if a["severity"] != "safety":
                by_kind[a["alert"]] = group
        else:
            group = by_kind[a["alert"]]
        group["alerts"].append(a)
    for group in groups:
        n = len(group["alerts"])
        who = [_who_or_where(a) for a in group["alerts"]]
        names = ", ".join(who[:SHOWN_IN_LINE])
        if n > SHOWN_IN_LINE:
            names += f" and {n - SHOWN_IN_LINE} more"
        words = GROUP_WORDS.get(group["kind"], "{n} × " + group["alerts"][0]["alert_text"])
        group["text"] = f"{words.format(n=n)}: {names}" if n > 1 else ""
    return groups


def other_alerts(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The one line the operational alerts fold into below the safety alerts (closed on a
    phone, so the bank stays on the first screen): how many, and of which kinds."""
    others = [g for g in groups if g["severity"] != "safety"]
    count = sum(len(g["alerts"]) for g in others)
    kinds = []
    for group in others:
        n = len(group["alerts"])
        kinds.append(group["alerts"][0]["alert_text"] + (f" ({n})" if n > 1 else ""))
    return {
        "count": count,
        "text": f"{count} other alert{'' if count == 1 else 's'}" if count else "",
        "kinds": " · ".join(kinds),
    }


def _who_or_where(alert: dict[str, Any]) -> str:
    if alert["person_name"]:
        return alert["person_name"]
    return f"slot {alert['slot']}" if alert["slot"] is not None else alert["raised_local"]
