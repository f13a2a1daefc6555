"""Alerts beyond the one-by-one acknowledgement: all of one kind at once, the history
(``GET /api/alerts?state=``), and a test message to the notification destinations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from locker import events as ev
from locker.alerts import on_panel, queue_message
from locker.decisions import LogEntry
from locker.errors import InvalidRequest
from locker.log import append
from locker.models import Alert, Person
from web.api import json_body
from web.context import (
    client_address,
    controller_now,
    daemon_state,
    get_config,
    get_db,
    iso,
    local_day,
)
from web.manager import Actor
from web.status import describe_alert

bp = Blueprint("alerts", __name__)

#: ``GET /api/alerts?state=``: which alerts.
STATES = ("open", "resolved", "all")
HISTORY_LIMIT = 500


def acknowledge_all(kind: Any, who: Actor) -> list[int]:
    """Acknowledge every alert of ``kind`` the panel lists; the ids, oldest first."""
    if not isinstance(kind, str) or kind not in ev.ALERT_KINDS:
        known = ", ".join(sorted(ev.ALERT_KINDS))
        raise InvalidRequest(f"kind must be an alert kind (one of {known})")
    with get_db().write() as session:
        now = controller_now(daemon_state(session))
        alerts = session.scalars(
            select(Alert).where(on_panel(), Alert.alert == kind).order_by(Alert.id)
        ).all()
        for alert in alerts:
            alert.acknowledged_at = now
            alert.acknowledged_by = who.account
            details = {"alert": kind, "alert_id": alert.id, "client": who.client, "all": True}
            entry = LogEntry(
                ev.ALERT_ACKNOWLEDGED, who.account, alert.slot, alert.person_id, details
            )
            append(session, entry, now)
        session.commit()
        return [a.id for a in alerts]


@bp.post("/alerts/ack-all")
def ack_all_form():
    """Acknowledge every listed alert of one kind (the panel's form)."""
    try:
        ids = acknowledge_all(request.form.get("kind"), _actor())
    except InvalidRequest as exc:
        flash(str(exc), "error")
    else:
        flash(f"{len(ids)} alert{'s' if len(ids) != 1 else ''} acknowledged.", "success")
    return redirect(url_for("status.index"))


@bp.post("/api/alerts/ack-all")
def ack_all_api():
    """Acknowledge every listed alert of ``{kind}``; answers the ids acknowledged."""
    data = json_body()
    unknown = sorted(set(data) - {"kind"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    return jsonify(kind=data.get("kind"), acknowledged=acknowledge_all(data.get("kind"), _actor()))


@bp.get("/api/alerts")
def history():
    """Alerts by state: ``open`` (listed on the panel), ``resolved`` or ``all``, newest first."""
    state = request.args.get("state", "open")
    if state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}")
    query = select(Alert)
    if state == "open":
        query = query.where(on_panel())
    elif state == "resolved":
        query = query.where(Alert.resolved_at.is_not(None))
    with get_db().read() as session:
        today = local_day(controller_now(daemon_state(session)))
        people = {p.id: p for p in session.scalars(select(Person))}
        rows = session.scalars(query.order_by(Alert.id.desc()).limit(HISTORY_LIMIT)).all()
        alerts = [
            {
                **describe_alert(a, people, today),
                "acknowledged_at": iso(a.acknowledged_at),
                "acknowledged_by": a.acknowledged_by,
            }
            for a in rows
        ]
    return jsonify(state=state, alerts=alerts)


@bp.post("/notify/test")
def notify_test():
    """Put a test message in the outbox for every notification destination."""
    names = [d.name for d in get_config().notify.destinations]
    if not names:
        flash("No notification destinations are configured ([notify] in the config).", "error")
        return redirect(url_for("status.index"))
    with get_db().write() as session:
        now = controller_now(daemon_state(session))
        body = f"A test from the panel, asked by {current_user.username}."
        queue_message(session, "test", "Test message", body, now, None)
        session.commit()
    flash(
        f"A test message is on its way to {', '.join(names)}; the log shows each send "
        "(Notification sent, or not sent and why).",
        "success",
    )
    return redirect(url_for("status.index"))


def _actor() -> Actor:
    return Actor(current_user.username, client_address())
