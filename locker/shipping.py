"""What a site ships to the group hub: its log in batches, and a status snapshot.

Only what the group needs leaves the site. Events go exactly as hashed (the
hub recomputes every hash with :func:`locker.log.event_hash`), except that an
event whose details carry a card number is **sealed**: it goes with its
hash and without its details, and the hub checks only its links. People
appear by id in events, whose personal values are commitments; beside them a
batch carries the names those refer to, with their salts, for the hub to check
(:func:`shipped_values`), and the snapshot names who is on shift. No card
number, no grant note, no visitor's name.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locker import events as ev
from locker.live_status import parse_time
from locker.log import EXPORT_FIELDS, head
from locker.log.personal import refs_in
from locker.models import Alert, Checkpoint, Event, Person, PersonalValue, Shift, Slot
from locker.rota import shifts_on

#: Details keys that hold a card number: an event carrying one is sealed.
CARD_KEYS = frozenset({"uid", "last_uid"})
#: Alert kinds about the children's safety (the rest are about the equipment).
SAFETY_ALERTS = frozenset(
    {
        ev.ALERT_DOOR_FORCED,
        ev.ALERT_TAMPER,
        ev.ALERT_OVERDUE,
        ev.ALERT_NO_DEPOSIT,
        ev.ALERT_FORGOTTEN_DEVICE,
        ev.ALERT_LOG_BROKEN,
    }
)


def shipped(event: Event) -> dict[str, Any]:
    """``event`` as the hub receives it (sealed if its details hold a card number)."""
    row: dict[str, Any] = {name: getattr(event, name) for name in EXPORT_FIELDS}
    if any(f'"{key}":' in event.details for key in CARD_KEYS):
        row["details"] = None
        row["sealed"] = True
    return row


#: Details keys whose personal values ship beside the events: people's names, which
#: the group's pages show. Card numbers, visitors' names, grant notes and alert
#: messages stay at the site (see docs/hub.md, "What the hub stores about people").
SHIPPED_PERSONAL_FIELDS = frozenset({"name", "person", "manager"})
#: References looked up in one statement.
VALUES_CHUNK = 500


def shipped_values(session: Session, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The names (with their salts) the unsealed ``events`` refer to, for the hub to check
    against their commitments. A value erased at the site (a forgotten person) is gone,
    so it never ships."""
    refs: set[int] = set()
    for event in events:
        if event["details"] is not None:
            refs |= refs_in(json.loads(event["details"]))
    wanted = sorted(refs)
    rows = [
        row
        for low in range(0, len(wanted), VALUES_CHUNK)  # SQLite bounds a statement's variables
        for row in session.scalars(
            select(PersonalValue)
            .where(
                PersonalValue.id.in_(wanted[low : low + VALUES_CHUNK]),
                PersonalValue.field.in_(sorted(SHIPPED_PERSONAL_FIELDS)),
            )
            .order_by(PersonalValue.id)
        )
    ]
    return [
        {
            "ref": row.id,
            "person_id": row.person_id,
            "field": row.field,
            "value": row.value,
            "salt": row.salt,
        }
        for row in rows
    ]


def next_batch(session: Session, after_id: int, limit: int) -> dict[str, Any]:
    """The batch after the hub's head ``after_id``: up to ``limit`` events in id order.

    When a retention purge removed events the hub never got, the batch says
    so with ``purged_through`` (the purge checkpoint the first event continues).
    """
    rows = session.scalars(
        select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)
    ).all()
    batch: dict[str, Any] = {"events": [shipped(e) for e in rows]}
    values = shipped_values(session, batch["events"])
    if values:
        batch["values"] = values
    if rows and rows[0].id != after_id + 1:
        anchor = session.scalar(
            select(Checkpoint).where(
                Checkpoint.kind == "purge", Checkpoint.event_id == rows[0].id - 1
            )
        )
        if anchor is not None:
            batch["purged_through"] = {"id": anchor.event_id, "hash": anchor.hash}
    return batch


def status_snapshot(
    session: Session,
    live: dict[str, Any] | None,
    at: datetime,
    tz: ZoneInfo,
    *,
    shifts_from: date | None = None,
) -> dict[str, Any]:
    """The site's state in a few hundred bytes: slots, who is on shift and whether their
    device is in, open alerts, clock trust, heartbeat; and the rota's shifts from local
    day ``shifts_from`` (default: yesterday) through today.

    "Now" is the controller's time as its live status says (a demo's simulated
    clock runs apart from the real one), else ``at``.
    """
    names = {pid: name for pid, name in session.execute(select(Person.id, Person.name))}
    slots = [
        {
            "number": slot.number,
            "kind": slot.kind,
            "state": slot.state,
            "person": names.get(slot.occupant_id) if slot.occupant_id else None,
            "person_id": slot.occupant_id,
            "locked": slot.locked,
        }
        for slot in session.scalars(select(Slot).order_by(Slot.number))
    ]
    alerts = [
        {
            "kind": alert.alert,
            "message": str((alert.details or {}).get("message", "")),
            "raised_at": alert.raised_at.isoformat(),
            "safety": alert.alert in SAFETY_ALERTS,
            "slot": alert.slot,
        }
        for alert in session.scalars(
            select(Alert).where(Alert.acknowledged_at.is_(None)).order_by(Alert.raised_at)
        )
    ]
    live = live or {}
    heartbeat = parse_time(live.get("heartbeat_at"))
    now = parse_time(live.get("controller_now")) or at
    held = {s["person_id"] for s in slots if s["kind"] == "staff" and s["state"] == "held"}
    on_shift = [
        {"id": shift.person_id, "name": shift.person.name, "device_in": shift.person_id in held}
        for shift in shifts_on(session, now.astimezone(tz).date())
        if shift.start <= now < shift.end and not any(b.start <= now < b.end for b in shift.breaks)
    ]
    head_id, head_hash = head(session)
    today = now.astimezone(tz).date()
    return {
        # The hub compares it with its copy: a log cut back below what was
        # shipped (an old backup, a rewrite) is caught even before it grows again.
        "log_head": {"id": head_id, "hash": head_hash},
        "taken_at": at.isoformat(),
        "heartbeat_at": heartbeat.isoformat() if heartbeat else None,
        "clock_trusted": bool(live.get("clock_synchronised", False)),
        "storage": live.get("storage", "unknown"),
        "slots": slots,
        "occupied": sum(1 for s in slots if s["person"]),
        "on_shift": on_shift,
        "alerts": alerts,
        # The rota is not in the log: the hub's reports of minutes on shift
        # without a device need the shifts, by person id and name only.
        "timezone": tz.key,
        **shift_rows(session, shifts_from or today - timedelta(days=1), today),
    }


#: The most days of shifts one snapshot carries (a site back after a long silence).
MAX_SHIFT_DAYS = 31


def shift_rows(session: Session, first: date, last: date) -> dict[str, Any]:
    """The rota's shifts of local days ``first`` to ``last`` (at most :data:`MAX_SHIFT_DAYS`),
    and those days (a day with no shift is one the hub must empty too)."""
    first = max(first, last - timedelta(days=MAX_SHIFT_DAYS - 1))
    shifts = session.scalars(
        select(Shift)
        .where(Shift.day >= first, Shift.day <= last)
        .options(selectinload(Shift.breaks), selectinload(Shift.person))
        .order_by(Shift.day, Shift.person_id)
    )
    rows = [
        {
            "day": shift.day.isoformat(),
            "id": shift.person_id,
            "name": shift.person.name,
            "start": shift.start.isoformat(),
            "end": shift.end.isoformat(),
            "breaks": [[b.start.isoformat(), b.end.isoformat()] for b in shift.breaks],
        }
        for shift in shifts
    ]
    return {"shift_days": [first.isoformat(), last.isoformat()], "shifts": rows}
