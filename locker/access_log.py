"""The access log: who looked at personal data, logged as ``data.viewed``.

Viewing the log, a daily report or a person's page, and exporting the log, are
themselves recorded, so a nursery can answer "who has seen my records?". A
manager opens the log page dozens of times a day; one event per account, page
kind (and person) and local day says who looked without flooding the chain. An
export takes a copy away, so every export is one event.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.decisions import LogEntry
from locker.log import append, format_ts
from locker.log.personal import ACCOUNT_ACTOR, ACTOR_KEY
from locker.models import Event, PersonalValue

#: What was looked at (``details.what``): the panel's words are in ``web/words.py``.
VIEWS = ("log", "log_export", "report", "person", "api_events")
#: Views recorded every time (a copy leaves the panel), not once a day.
EVERY_TIME = frozenset({"log_export"})


def record_view(
    session: Session,
    *,
    actor: str,
    what: str,
    at: datetime,
    day_start: datetime,
    person_id: int | None = None,
) -> Event | None:
    """Log that ``actor`` viewed ``what`` (about ``person_id``), unless already today.

    ``day_start`` is when the site's local day of ``at`` began. Returns the new
    event, or ``None`` when this account's view of the same thing was already
    logged since then.
    """
    if what not in VIEWS:
        raise ValueError(f"what must be one of {VIEWS}")
    if viewed_since(session, actor=actor, what=what, since=day_start, person_id=person_id):
        return None
    entry = LogEntry(ev.DATA_VIEWED, actor, None, person_id, {"what": what})
    return append(session, entry, at)


def viewed_since(
    session: Session, *, actor: str, what: str, since: datetime, person_id: int | None = None
) -> bool:
    """Whether ``actor``'s view of ``what`` (about ``person_id``) is logged since ``since``.

    Always ``False`` for a view recorded every time (an export). A reading
    session will do: the panel asks this before it takes the write lock.
    """
    if what in EVERY_TIME:
        return False
    # A panel account acts as ``@account`` with its name committed beside the
    # chain (locker.log.personal), so its name is matched there, by the event.
    by_name = (
        select(PersonalValue.event_id)
        .where(PersonalValue.field == ACTOR_KEY, PersonalValue.value == actor)
        .where(PersonalValue.event_id == Event.id)
        .exists()
    )
    query = (
        select(Event.id)
        .where(
            Event.kind == ev.DATA_VIEWED,
            Event.ts >= format_ts(since),
            Event.person_id.is_(None) if person_id is None else Event.person_id == person_id,
            Event.details.contains(f'"what":{json.dumps(what)}'),
            or_(Event.actor == actor, and_(Event.actor == ACCOUNT_ACTOR, by_name)),
        )
        .limit(1)
    )
    return session.scalar(query) is not None
