"""Alerts in storage: raised, resolved when their condition ends, and put in the outbox.

Whoever logs an alert (the daemon, or the panel for ``controller_offline``)
writes its outbox message in the same transaction as its log entry, so a
notification is never lost between the two. The caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.decisions import LogEntry, RaiseAlert
from locker.log import append
from locker.models import Alert, NotifyMessage


def store_alert(session: Session, effect: RaiseAlert, at: datetime, actor: str = "daemon") -> Alert:
    """Store the alert ``effect`` raises, log its ``alert.raised`` and queue its message."""
    row = Alert(
        alert=effect.alert,
        slot=effect.slot,
        person_id=effect.person_id,
        details={"message": effect.message, **effect.details},
        raised_at=at,
    )
    session.add(row)
    session.flush()
    details = {
        "alert": effect.alert,
        "alert_id": row.id,
        "message": effect.message,
        **effect.details,
    }
    append(session, LogEntry(ev.ALERT_RAISED, actor, effect.slot, effect.person_id, details), at)
    queue_alert_message(session, row, ev.ALERT_RAISED, at)
    return row


def resolve_alert(session: Session, alert: Alert, why: str, at: datetime, actor: str = "daemon"):
    """Mark ``alert`` resolved (its condition ended), log ``alert.resolved`` and queue
    its message. An alert already resolved is left as it is."""
    if alert.resolved_at is not None:
        return
    alert.resolved_at = at
    alert.resolved_why = why
    details = {"alert": alert.alert, "alert_id": alert.id, "why": why}
    append(session, LogEntry(ev.ALERT_RESOLVED, actor, alert.slot, alert.person_id, details), at)
    queue_alert_message(session, alert, ev.ALERT_RESOLVED, at)


def unresolved(session: Session, alert: str, *, slot: int | None = None) -> list[Alert]:
    """The alerts of kind ``alert`` (on ``slot``, if given) whose condition has not ended."""
    query = select(Alert).where(Alert.alert == alert, Alert.resolved_at.is_(None))
    if slot is not None:
        query = query.where(Alert.slot == slot)
    return list(session.scalars(query.order_by(Alert.id)))


def silent_units(session: Session) -> dict[str, tuple[int, ...]]:
    """Each unit of hardware (an expander, by name) with an open ``hardware_fault`` for
    not answering, and the slots it serves: their doors and sensors cannot be checked."""
    units: dict[str, tuple[int, ...]] = {}
    for details in session.scalars(
        select(Alert.details).where(
            Alert.alert == ev.ALERT_HARDWARE_FAULT, Alert.resolved_at.is_(None)
        )
    ):
        unit = (details or {}).get("unit")
        if isinstance(unit, str):
            slots = (details or {}).get("slots") or ()
            units[unit] = tuple(n for n in slots if isinstance(n, int))
    return units


def unchecked_slots(session: Session) -> set[int]:
    """The slots whose door and sensor cannot be checked now (see :func:`silent_units`)."""
    return {n for slots in silent_units(session).values() for n in slots}


def queue_alert_message(session: Session, alert: Alert, topic: str, at: datetime) -> None:
    """Put the message for ``alert`` (``alert.raised`` or ``alert.resolved``) in the outbox.

    It is worded when it is sent, with the config of the moment; which
    destinations want it, and quiet hours, are also the sender's business.
    """
    session.add(
        NotifyMessage(
            created_at=at,
            topic=topic,
            alert=alert.alert,
            alert_id=alert.id,
            next_attempt_at=at,
            delivered=[],
        )
    )


def queue_message(
    session: Session, topic: str, subject: str, body: str, at: datetime, destination: str | None
) -> NotifyMessage:
    """Put a written message (a test or the daily summary) in the outbox."""
    row = NotifyMessage(
        created_at=at,
        topic=topic,
        subject=subject,
        body=body,
        destination=destination,
        next_attempt_at=at,
        delivered=[],
    )
    session.add(row)
    session.flush()
    return row


def on_panel():
    """The SQL condition for alerts the panel lists: not acknowledged, and either still
    going on or a safety alert (a forced door stays until someone has seen it)."""
    return Alert.acknowledged_at.is_(None) & (
        Alert.resolved_at.is_(None) | Alert.alert.in_(ev.SAFETY_ALERTS)
    )


def severity(alert: str) -> str:
    """``"safety"`` or ``"operational"``: safety alerts are listed first."""
    return "safety" if alert in ev.SAFETY_ALERTS else "operational"
