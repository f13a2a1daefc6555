"""The daily report for an inspector: each person's day as a picture, the overrides,
the alerts, and the log's seal (its verification and the day's checkpoints).

The seal verifies the day's own events when the report is made: the slice of
the chain from the day's first event through the checkpoint taken after the
day (or through the newest event, before there is one), a few thousand events
at most. The whole log is verified by the daemon once a day, in the
background; the report shows the newest result (``log.verified``).

Each person's day comes from the log alone (:mod:`web.timeline`) and is drawn
on the server as inline SVG (:mod:`web.timeline_picture`), so the page prints
the same with or without scripts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.events import OVERRIDE_KINDS
from locker.log import (
    VerifyReport,
    WholeLogCheck,
    checkpoints,
    format_ts,
    last_whole_check,
    parse_ts,
    verify_range,
)
from locker.log.personal import shown_events
from locker.models import Alert, Checkpoint, Custody, Event, Shift
from locker.rota import day_bounds, shifts_on
from web.context import controller_now, daemon_state, get_config, get_db, local_day
from web.log import parse_day
from web.log_query import day_span, parse_details
from web.log_rows import grants_of, local_time, names_of, override_row
from web.timeline import TIMELINE_KINDS, Segment, timeline
from web.timeline_picture import Axis, axis_for, picture, span_text
from web.words import ALERT_WORDS, SEGMENT_WORDS

bp = Blueprint("report", __name__)

# --------------------------------------------------------------------- report


@dataclass(frozen=True)
class DayCheck:
    """The verification of one day's slice of the chain."""

    report: VerifyReport
    #: The slice: the day's first event, and the last one it had to reach.
    first_id: int
    last_id: int | None
    #: The daily checkpoint taken after the day that closes the slice, if any yet.
    sealing: Checkpoint | None


def day_verification(session: Session, day: date, tz: ZoneInfo) -> DayCheck | None:
    """Verify ``day``'s events, or ``None`` when none were logged on it.

    The slice runs from the day's first event through the record of the first
    daily checkpoint taken after the day (so that checkpoint is checked against
    the chain too), or through the newest event while there is none.
    """
    span = day_span(session, day, tz)
    if span is None:
        return None
    _, day_end = day_bounds(day, tz)
    sealing = session.scalar(
        select(Checkpoint)
        .where(Checkpoint.kind == "daily", Checkpoint.created_at >= day_end)
        .order_by(Checkpoint.created_at, Checkpoint.id)
        .limit(1)
    )
    # A daily checkpoint of event E is followed by its log.checkpoint record E + 1.
    last_id = None if sealing is None else max(span[1], sealing.event_id + 1)
    report = verify_range(session, span[0], last_id)
    return DayCheck(report, span[0], last_id, sealing)


def day_events(session: Session, day: date, tz: ZoneInfo, kinds: frozenset[str]) -> list[Event]:
    """The day's events of ``kinds``, in log order (a range of ids, narrowed by time)."""
    span = day_span(session, day, tz)
    if span is None:
        return []
    start, end = day_bounds(day, tz)
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.id >= span[0],
                Event.id <= span[1],
                Event.ts >= format_ts(start),
                Event.ts < format_ts(end),
                Event.kind.in_(sorted(kinds)),
            )
            .order_by(Event.id)
        )
    )


def _carried_over(
    session: Session, person_id: int, since: datetime, day_start: datetime
) -> list[Event]:
    """A person's events from an earlier deposit still held when the day began."""
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.person_id == person_id,
                Event.ts >= format_ts(since),
                Event.ts < format_ts(day_start),
                Event.kind.in_(sorted(TIMELINE_KINDS)),
            )
            .order_by(Event.id)
        )
    )


def build_report(session: Session, day: date, now: datetime) -> dict[str, Any]:
    """Everything the daily report for ``day`` shows, as of ``now``."""
    config = get_config()
    tz = config.tz
    day_start, day_end = day_bounds(day, tz)
    until = min(max(now, day_start), day_end)
    shifts = {s.person_id: s for s in shifts_on(session, day)}
    stays = list(
        session.scalars(
            select(Custody).where(
                Custody.person_id.is_not(None),
                Custody.deposited_at < day_end,
                or_(Custody.ended_at.is_(None), Custody.ended_at >= day_start),
            )
        )
    )
    events = day_events(session, day, tz, TIMELINE_KINDS | OVERRIDE_KINDS | {ev.ALERT_RAISED})
    person_ids = set(shifts) | {s.person_id for s in stays if s.person_id is not None}
    alerts = _alerts(session, day_start, day_end)
    names = names_of(
        session,
        [*person_ids, *(e.person_id for e in events), *(a.person_id for a in alerts)],
    )
    carried_from = {
        s.person_id: s.deposited_at
        for s in stays
        if s.person_id is not None and s.deposited_at < day_start
    }
    grace = timedelta(minutes=config.rules.overdue_grace_min)
    by_person: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.person_id is not None and event.kind != ev.ALERT_RAISED:
            by_person[event.person_id].append(event)
    timelines = {}
    moments: list[datetime] = []
    for pid in person_ids:
        mine = [e for e in by_person[pid] if e.kind in TIMELINE_KINDS]
        if pid in carried_from:
            mine = _carried_over(session, pid, carried_from[pid], day_start) + mine
        timelines[pid] = timeline(mine, day_start, until, grace=grace)
        moments += [m for seg in timelines[pid] for m in (seg.start, seg.end)]
        if pid in shifts:
            moments += [shifts[pid].start, shifts[pid].end]
    axis = axis_for(day, tz, moments, config.rules.closing)
    order = sorted(
        person_ids,
        key=lambda pid: (
            shifts[pid].start if pid in shifts else day_end,
            names.get(pid, "").casefold(),
        ),
    )
    alert_marks: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for event in events:
        if event.kind == ev.ALERT_RAISED and event.person_id is not None:
            alert = (parse_details(event.details) or {}).get("alert")
            words = ALERT_WORDS.get(alert, str(alert)) if isinstance(alert, str) else "Alert"
            alert_marks[event.person_id].append((parse_ts(event.ts), words))
    people = [
        _person(pid, names, shifts.get(pid), timelines[pid], alert_marks[pid], axis, tz)
        for pid in order
    ]
    overrides = [e for e in events if e.kind in OVERRIDE_KINDS]
    grants = grants_of(session, overrides)
    day_check = day_verification(session, day, tz)
    next_start, next_end = day_bounds(day + timedelta(days=1), tz)
    return {
        "day": day,
        "day_text": f"{day:%A} {day.day} {day:%B %Y}",
        "printed": _long_time(now, tz),
        "timezone": config.timezone,
        "site_name": config.site_name,
        "axis": axis,
        "still_to_come": now <= day_start,
        "until_now": day_start < now < day_end,
        "until_text": f"{until.astimezone(tz):%H:%M}",
        "people": people,
        "overrides": [override_row(e, names, grants, tz) for e in shown_events(session, overrides)],
        "alerts": [_alert(a, names, tz, day) for a in alerts],
        "verification": _day_check(day_check, tz),
        "whole": _whole_check(last_whole_check(session), tz),
        "checkpoints": [_checkpoint(c, tz) for c in checkpoints(session, day_start, day_end)],
        "sealing": [_checkpoint(c, tz) for c in checkpoints(session, next_start, next_end)],
        "previous_url": url_for("report.index", day=(day - timedelta(days=1)).isoformat()),
        "next_url": url_for("report.index", day=(day + timedelta(days=1)).isoformat()),
    }


def _person(
    pid: int,
    names: dict[int, str],
    shift: Shift | None,
    segments: list[Segment],
    alerts: list[tuple[datetime, str]],
    axis: Axis,
    tz: ZoneInfo,
) -> dict[str, Any]:
    drawn = picture(segments, shift, alerts, axis, tz)
    shift_text = "No shift on the rota"
    if shift is not None:
        shift_text = f"Shift {span_text(shift.start, shift.end, tz)}"
        if shift.breaks:
            shift_text += "; breaks " + ", ".join(
                span_text(b.start, b.end, tz) for b in shift.breaks
            )
    return {
        "id": pid,
        "name": names.get(pid, f"person {pid}"),
        "shift_text": shift_text,
        **drawn,
    }


def _alerts(session: Session, day_start: datetime, day_end: datetime) -> list[Alert]:
    """Alerts raised on the day, or raised before it and acknowledged or resolved on it."""
    return list(
        session.scalars(
            select(Alert)
            .where(
                or_(
                    and_(Alert.raised_at >= day_start, Alert.raised_at < day_end),
                    and_(Alert.acknowledged_at >= day_start, Alert.acknowledged_at < day_end),
                    and_(Alert.resolved_at >= day_start, Alert.resolved_at < day_end),
                )
            )
            .order_by(Alert.raised_at, Alert.id)
        )
    )


def _alert(alert: Alert, names: dict[int, str], tz: ZoneInfo, day: date) -> dict[str, Any]:
    person = names.get(alert.person_id, "") if alert.person_id is not None else ""
    acknowledged = ""
    if alert.acknowledged_at is not None:
        acknowledged = (
            f"{local_time(alert.acknowledged_at, tz, day=day)} by {alert.acknowledged_by or '?'}"
        )
    return {
        "id": alert.id,
        "raised": local_time(alert.raised_at, tz, day=day),
        "alert": ALERT_WORDS.get(alert.alert, alert.alert.replace("_", " ")),
        "slot": alert.slot,
        "person": person,
        "message": str((alert.details or {}).get("message", "")),
        "acknowledged": acknowledged,
        "resolved": _resolved(alert, tz, day),
    }


def _resolved(alert: Alert, tz: ZoneInfo, day: date) -> str:
    """When and why the alert's condition ended, in words ("" while it goes on)."""
    if alert.resolved_at is None:
        return ""
    why = alert.resolved_why or "its condition ended"
    return f"{local_time(alert.resolved_at, tz, day=day)}: {why}"


def _long_time(moment: datetime, tz: ZoneInfo) -> str:
    """E.g. ``Monday 5 January 2026 at 17:00 GMT``."""
    local = moment.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y at %H:%M %Z}"


def _day_check(check: DayCheck | None, tz: ZoneInfo) -> dict[str, Any] | None:
    if check is None:
        return None
    report = check.report
    return {
        "ok": report.ok,
        "checked": report.checked,
        "first_id": check.first_id,
        "first_bad_id": report.first_bad_id,
        "reason": report.reason,
        "head_id": report.head_id,
        "head_hash": report.head_hash,
        "sealed_by": _checkpoint(check.sealing, tz) if check.sealing is not None else None,
    }


def _whole_check(check: WholeLogCheck | None, tz: ZoneInfo) -> dict[str, Any] | None:
    if check is None:
        return None
    report = check.report
    return {
        "event_id": check.event_id,
        "at": _long_time(check.at, tz) if check.at is not None else "an unreadable time",
        "readable": report is not None,
        "ok": report is not None and report.ok,
        "checked": report.checked if report else 0,
        "through_id": report.head_id if report else None,
        "first_bad_id": report.first_bad_id if report else None,
        "reason": report.reason if report else "",
    }


def _checkpoint(checkpoint: Checkpoint, tz: ZoneInfo) -> dict[str, Any]:
    taken = checkpoint.created_at.astimezone(tz)
    return {
        "taken": f"{taken:%a} {taken.day} {taken:%b %Y %H:%M:%S %Z}",
        "event_id": checkpoint.event_id,
        "hash": checkpoint.hash,
    }


# ---------------------------------------------------------------------- view


@bp.get("/report")
def index():
    """The printable daily report (``?day=YYYY-MM-DD``; today at the locker by default)."""
    day = parse_day(request.args.get("day"))
    with get_db().read() as session:
        now = controller_now(daemon_state(session))
        report = build_report(session, day or local_day(now), now)
    return render_template("report.html", report=report, legend=list(SEGMENT_WORDS.items()))
