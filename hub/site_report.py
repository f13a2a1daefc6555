"""One site's daily report rebuilt at the hub from its shipped events.

The same facts as the site's own ``/report``: deposits, releases with their
reasons, the override log, the alerts (with when they were acknowledged or
resolved), and each person's minutes on shift without a device. The owner
reads them here without logging into each site; an inspector gets them even
if the site's Pi was wiped. Words are the panel's (:mod:`web.words`,
:func:`web.log_rows.override_row`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import HubAlert, Site, SiteEvent, SiteShift
from hub.people import KEPT_AT_SITE, shown_events
from hub.shifts import (
    ShiftMinutes,
    any_event_between,
    events_between,
    shift_minutes,
    shifts_of,
    site_tz,
)
from locker import events as ev
from locker.events import OVERRIDE_KINDS
from locker.rota import day_bounds
from web.log_query import moment_of, parse_details
from web.log_rows import local_time, override_row
from web.words import alert_words, event_words

#: Events that end an alert: a manager acknowledged it, or its cause ended.
ALERT_ENDS = frozenset({ev.ALERT_ACKNOWLEDGED, ev.ALERT_RESOLVED})
REPORT_KINDS = frozenset(
    {ev.DEPOSIT_CONFIRMED, *ev.RELEASE_KINDS, *OVERRIDE_KINDS, ev.ALERT_RAISED}
)


@dataclass(frozen=True)
class AlertSpan:
    """One alert a site raised: its kind, when, and when it was acknowledged or resolved."""

    alert_id: int | None
    kind: str
    raised: datetime
    slot: int | None
    person_id: int | None
    message: str
    ended: datetime | None
    ended_by: str
    how: str

    def open_minutes(self, until: datetime) -> int:
        """How long it stayed open (up to ``until`` while it still is)."""
        end = self.ended if self.ended is not None else until
        return max(0, round((end - self.raised).total_seconds() / 60))


def alert_spans(
    session: Session, site_id: int, raised: list[SiteEvent], until: datetime
) -> list[AlertSpan]:
    """The alerts of ``raised`` (``alert.raised`` events), each with how it ended if it
    did by ``until`` (the acknowledgements and resolutions are read from the first one on)."""
    if not raised:
        return []
    ends: dict[int, tuple[datetime, str, str]] = {}
    first = moment_of(raised[0].ts) or until
    for event in events_between(session, site_id, first, until, ALERT_ENDS):
        alert_id = (parse_details(event.details) or {}).get("alert_id")
        moment = moment_of(event.ts)
        if isinstance(alert_id, int) and moment is not None and alert_id not in ends:
            how = "acknowledged" if event.kind == ev.ALERT_ACKNOWLEDGED else "resolved"
            ends[alert_id] = (moment, event.actor, how)
    spans = []
    for event in raised:
        details = parse_details(event.details) or {}
        alert_id = details.get("alert_id") if isinstance(details.get("alert_id"), int) else None
        ended = ends.get(alert_id) if alert_id is not None else None
        spans.append(
            AlertSpan(
                alert_id,
                str(details.get("alert", "")),
                moment_of(event.ts) or until,
                event.slot,
                event.person_id,
                _message(details.get("message")),
                ended[0] if ended else None,
                ended[1] if ended else "",
                ended[2] if ended else "",
            )
        )
    return spans


def _message(raw: Any) -> str:
    """An alert's message as the hub may show it: one about a person names them, so the
    site keeps it (a commitment ships); the row names the person instead."""
    return raw if isinstance(raw, str) else KEPT_AT_SITE if raw is not None else ""


def names_at(session: Session, site: Site, shifts: list[SiteShift]) -> dict[int, str]:
    """Names of the site's people the hub knows: from its shifts and its last snapshot."""
    names = {s.person_id: s.name for s in shifts}
    snapshot = site.snapshot or {}
    for person in snapshot.get("on_shift", []):
        if isinstance(person, dict) and isinstance(person.get("id"), int):
            names.setdefault(person["id"], str(person.get("name", "")))
    for slot in snapshot.get("slots", []):
        if isinstance(slot, dict) and isinstance(slot.get("person_id"), int):
            names.setdefault(slot["person_id"], str(slot.get("person") or ""))
    return names


def chain_broken_on(session: Session, site_id: int, start: datetime, end: datetime) -> bool:
    """Whether a ``chain`` alert of the site was open at some time from ``start`` to ``end``."""
    return (
        session.scalar(
            select(HubAlert.id)
            .where(
                HubAlert.site_id == site_id,
                HubAlert.kind == "chain",
                HubAlert.opened_at < end,
                (HubAlert.resolved_at.is_(None)) | (HubAlert.resolved_at >= start),
            )
            .limit(1)
        )
        is not None
    )


def day_report(session: Session, site: Site, day: date, now: datetime) -> dict[str, Any]:
    """Everything the hub's daily report of ``site`` for local ``day`` shows, as of ``now``."""
    tz = site_tz(site)
    start, end = day_bounds(day, tz)
    events = events_between(session, site.id, start, end, REPORT_KINDS)
    shifts = shifts_of(session, site.id, day, day)
    names = names_at(session, site, shifts)
    counts = Counter(e.kind for e in events)
    raised = [e for e in events if e.kind == ev.ALERT_RAISED]
    return {
        "site": site.name,
        "day": day,
        "day_text": f"{day:%A} {day.day} {day:%B %Y}",
        "timezone": tz.key,
        "printed": f"{now.astimezone(tz):%Y-%m-%d %H:%M %Z}",
        "has_events": any_event_between(session, site.id, start, end),
        "chain_broken": chain_broken_on(session, site.id, start, end),
        "deposits": counts[ev.DEPOSIT_CONFIRMED],
        "releases": [(event_words(k), counts[k]) for k in ev.RELEASE_KINDS if counts[k]],
        "overrides": [
            override_row(e, names, {}, tz)
            for e in shown_events(session, site.id, [e for e in events if e.kind in OVERRIDE_KINDS])
        ],
        "alerts": [
            _alert_row(a, names, tz, day) for a in alert_spans(session, site.id, raised, now)
        ],
        "shifts": [_shift_row(m, tz) for m in shift_minutes(session, site, day, day, now)],
        "previous": (day - timedelta(days=1)).isoformat(),
        "next": (day + timedelta(days=1)).isoformat(),
    }


def _alert_row(alert: AlertSpan, names: dict[int, str], tz: ZoneInfo, day: date) -> dict:
    ended = ""
    if alert.ended is not None:
        ended = f"{alert.how} {local_time(alert.ended, tz, day=day)} by {alert.ended_by}"
    return {
        "raised": local_time(alert.raised, tz, day=day),
        "alert": alert_words(alert.kind) if alert.kind else "Alert",
        "slot": alert.slot,
        "person": names.get(alert.person_id, "") if alert.person_id is not None else "",
        "message": alert.message,
        "ended": ended or "still open",
    }


def _shift_row(minutes: ShiftMinutes, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "person_id": minutes.person_id,
        "name": minutes.name,
        "shift": f"{minutes.start.astimezone(tz):%H:%M}-{minutes.end.astimezone(tz):%H:%M}",
        "on_shift": minutes.on_shift,
        "without_device": minutes.without_device,
    }
