"""The log in a manager's words: an event's row, an override's row, details as text.

Everything here reads stored events and turns codes into words
(:mod:`web.words`); nothing writes, and nothing needs a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.models import Event, Grant, Person
from web import uids
from web.log_query import logged_moment, moment_of, parse_details
from web.words import (
    DETAIL_WORDS,
    OVERRIDE_WHAT,
    VIA_WORDS,
    VIEWED_WORDS,
    alert_words,
    event_words,
    plain,
    reason_words,
)

#: Kinds whose ``reason`` is one of the codes above, not a manager's own words.
CODED_REASON_KINDS = frozenset(
    {
        ev.BADGE_GRANTED,
        ev.BADGE_REFUSED,
        ev.SLOT_UNLOCKED,
        ev.SLOT_LOCKED,
        ev.RELEASE_TIMEOUT,
        ev.GRANT_CREATED,
        ev.RELEASE_GRANT,
        ev.APPROVAL_ON_THE_SPOT,
    }
)
#: Detail values that are codes of the access log (``data.viewed``, ``person.exported``).
CODED_VALUE_WORDS = {
    (ev.DATA_VIEWED, "what"): VIEWED_WORDS,
    (ev.PERSON_EXPORTED, "via"): VIA_WORDS,
}
_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


def names_of(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the people with these ids."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted)))
    return {pid: name for pid, name in rows}


def people_choices(session: Session) -> list[tuple[int, str]]:
    """Everybody, by name, for the person filter."""
    rows = session.execute(select(Person.id, Person.name).order_by(Person.name))
    return [(pid, name) for pid, name in rows]


def kind_text(kind: str) -> str:
    """An event kind in words."""
    return event_words(kind)


def local_time(moment: datetime | None, tz: ZoneInfo, *, day: date | None = None) -> str:
    """``moment`` in the site's zone: ``HH:MM`` on ``day``, with the date on another day."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    if local.date() == day:
        return local.strftime("%H:%M")
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"


def full_time(moment: datetime | None, tz: ZoneInfo) -> str:
    """``moment`` with its date, seconds and zone (GMT or BST): for a log row."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M:%S %Z}"


def _iso_moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _ISO_MOMENT.match(value):
        return None
    return logged_moment(value)


def _value(key: str, value: Any, kind: str, tz: ZoneInfo, day: date | None) -> str:
    if key == "uid":
        return str(uids.shown(value))
    if key == "alert" and isinstance(value, str):
        return alert_words(value)
    if key in ("reason", "action") and kind in CODED_REASON_KINDS and isinstance(value, str):
        return reason_words(value)
    if key == "return_minutes":
        return f"{value} min"
    if (kind, key) in CODED_VALUE_WORDS and isinstance(value, str):
        return CODED_VALUE_WORDS[kind, key].get(value) or plain(value)
    moment = _iso_moment(value)
    if moment is not None:
        return local_time(moment, tz, day=day)
    if isinstance(value, list):
        if len(value) == 2 and all(_iso_moment(v) for v in value):
            return "–".join(_value(key, v, kind, tz, day) for v in value)
        return ", ".join(_value(key, v, kind, tz, day) for v in value)
    if isinstance(value, dict):
        inner = summarise(kind, value, tz, day)
        return f"({inner})" if inner else "none"
    if value is None:
        return "none"
    return str(value)


def summarise(kind: str, details: dict[str, Any], tz: ZoneInfo, day: date | None) -> str:
    """An event's details in words, e.g. ``badge: A1B2C3D4; for: on a break``."""
    parts = []
    for key, value in details.items():
        if key == "open_now":
            parts.append("opens at once" if value else "on their next badge")
            continue
        if key == "changes" and isinstance(value, dict):
            # A person changed: {field: [old, new]}, shown as "role: staff → manager".
            parts += [
                f"{field.replace('_', ' ')}: {_value(field, pair[0], kind, tz, day)}"
                f" → {_value(field, pair[1], kind, tz, day)}"
                for field, pair in value.items()
                if isinstance(pair, list) and len(pair) == 2
            ]
            continue
        if value is None or value is False or value == "" or value == []:
            continue
        label = DETAIL_WORDS.get(key, key.replace("_", " "))
        if value is True:
            parts.append(label or key.replace("_", " "))
            continue
        text = _value(key, value, kind, tz, day)
        parts.append(f"{label}: {text}" if label else text)
    return "; ".join(parts)


def event_row(event: Event, names: dict[int, str], tz: ZoneInfo) -> dict[str, Any]:
    """One event as a row of the log page."""
    moment = moment_of(event.ts)
    day = moment.astimezone(tz).date() if moment else None
    details = parse_details(event.details)
    if details is None:
        summary = "(details unreadable: run `locker log verify`)"
    else:
        summary = summarise(event.kind, details, tz, day)
    return {
        "id": event.id,
        "ts": event.ts,
        "when": full_time(moment, tz) or event.ts,
        "kind": event.kind,
        "kind_text": kind_text(event.kind),
        "actor": event.actor,
        "slot": event.slot,
        "person_id": event.person_id,
        "person_name": _name(event.person_id, names),
        "summary": summary,
    }


def _name(person_id: int | None, names: dict[int, str]) -> str:
    if person_id is None:
        return ""
    return names.get(person_id, f"person {person_id}")


# ------------------------------------------------------------ override log


def grants_of(session: Session, events: Sequence[Event]) -> dict[int, Grant]:
    """The grants the override events on a page name, by id."""
    ids = set()
    for event in events:
        details = parse_details(event.details) or {}
        grant_id = details.get("grant_id")
        if type(grant_id) is int:
            ids.add(grant_id)
    if not ids:
        return {}
    return {g.id: g for g in session.scalars(select(Grant).where(Grant.id.in_(sorted(ids))))}


def override_row(
    event: Event, names: dict[int, str], grants: dict[int, Grant], tz: ZoneInfo
) -> dict[str, Any]:
    """One grant, on-the-spot approval or manager release, in the override log's columns."""
    moment = moment_of(event.ts)
    day = moment.astimezone(tz).date() if moment else None
    details = parse_details(event.details) or {}
    row: dict[str, Any] = {
        "id": event.id,
        "ts": event.ts,
        "when": full_time(moment, tz) or event.ts,
        "kind": event.kind,
        "what": OVERRIDE_WHAT.get(event.kind, kind_text(event.kind)),
        "by": event.actor,
        "person_id": event.person_id,
        "person_name": _name(event.person_id, names),
        "slot": event.slot,
        "reason": _text(details.get("reason")),
        "note": _text(details.get("note")),
        "how": "",
        "status": "",
        "due": "",
        "client": _text(details.get("client")),
    }
    if event.kind in CODED_REASON_KINDS and row["reason"]:
        row["reason"] = reason_words(row["reason"])
    if event.kind == ev.GRANT_CREATED:
        row["how"] = "Opens at once" if details.get("open_now") else "On their next badge"
        grant_id = details.get("grant_id")
        grant = grants.get(grant_id) if type(grant_id) is int else None
        row["status"], row["due"] = _grant_status(grant, details.get("return_minutes"), tz, day)
    elif event.kind == ev.RELEASE_GRANT:
        row["due"] = local_time(_iso_moment(details.get("return_due")), tz, day=day)
        row["status"] = "Device released"
    elif event.kind == ev.APPROVAL_ON_THE_SPOT:
        row["by"] = _text(details.get("manager")) or event.actor
        row["how"] = "Manager badged at the locker after a refusal"
        if not row["person_name"]:
            row["person_name"] = _text(details.get("person"))
    elif event.kind == ev.RELEASE_MANAGER:
        if details.get("visitor"):
            row["person_name"] = f"Visitor: {details['visitor']}"
    elif event.kind == ev.RELEASE_ALL:
        slots = details.get("slots")
        numbers = ", ".join(str(s) for s in slots) if isinstance(slots, list) else ""
        row["person_name"] = "Everybody"
        row["status"] = f"Slots opened: {numbers}" if numbers else "No slot was holding a device"
    return row


def _grant_status(
    grant: Grant | None, minutes: Any, tz: ZoneInfo, day: date | None
) -> tuple[str, str]:
    """``(status, due back)`` of a grant, from its row."""
    if grant is None:
        return "", f"Within {minutes} min" if minutes else ""
    if grant.return_due is not None:
        due = local_time(grant.return_due, tz, day=day)
    else:
        due = f"Within {grant.return_minutes} min of opening" if grant.return_minutes else ""
    if grant.used_at is not None:
        return f"Used {local_time(grant.used_at, tz, day=day)}", due
    if grant.expired_at is not None:
        return f"Expired unused {local_time(grant.expired_at, tz, day=day)}", due
    return f"Waiting for their badge until {local_time(grant.valid_until, tz, day=day)}", due


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
