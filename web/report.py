"""The daily report for an inspector: each person's day as a picture, the overrides,
the alerts, and the log's seal (its verification and the day's checkpoints).

The seal verifies the day's own events when the report is made: the slice of
the chain from the day's first event through the checkpoint taken after the
day (or through the newest event, before there is one), a few thousand events
at most. The whole log is verified by the daemon once a day, in the
background; the report shows the newest result (``log.verified``).

Everything is drawn on the server: the timelines are inline SVG, so the page
prints the same with or without scripts. Each person's picture comes from the
log alone, through :func:`timeline`.

How a device that is late back shows: a break or a grant has a time it is due
back. From that time until ``rules.overdue_grace_min`` later the device is
*late* (the grace the rules allow, no alert yet); after that it is *overdue*,
which is when the controller raises its ``overdue`` alert. Both end when the
device is deposited again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.custody import FINAL_REASONS, TEMPORARY_REASONS
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
from locker.models import Alert, Checkpoint, Custody, Event, Shift
from locker.rota import day_bounds, shifts_on
from web.context import controller_now, daemon_state, get_config, get_db, local_day
from web.log import (
    day_span,
    grants_of,
    local_time,
    names_of,
    override_row,
    parse_day,
    parse_details,
)
from web.words import ALERT_WORDS, RELEASE_WORDS, SEGMENT_LABELS, SEGMENT_WORDS

bp = Blueprint("report", __name__)

# ---------------------------------------------------------------- the timeline

HELD = "held"
BREAK = "break"
RELEASE = "release"
LATE = "late"
OVERDUE = "overdue"
TAMPER = "tamper"

#: The kinds :func:`timeline` reads.
TIMELINE_KINDS = frozenset(
    {
        ev.DEPOSIT_CONFIRMED,
        ev.RELEASE_BREAK,
        ev.RELEASE_GRANT,
        ev.SLOT_UNLOCKED,
        ev.SLOT_LOCKED,
        ev.RELEASE_TIMEOUT,
        ev.DEVICE_REMOVED,
        ev.RELEASE_CLOSING,
    }
)


class LoggedEvent(Protocol):
    """What :func:`timeline` needs of an event (a stored :class:`Event` will do)."""

    ts: str
    kind: str
    slot: int | None
    details: str


@dataclass(frozen=True)
class Segment:
    """A stretch of one person's day during which their device was in one condition."""

    kind: str
    start: datetime
    end: datetime
    #: Why a device was out: ``break``, ``grant``, ``on_the_spot``, ``manager``, ``all``
    #: or ``tamper``; ``None`` while it is in the locker.
    reason: str | None = None
    #: When a device that was out was due back, if it had a time.
    due: datetime | None = None


def timeline(
    events: Iterable[LoggedEvent],
    day_start: datetime,
    day_end: datetime,
    *,
    grace: timedelta = timedelta(0),
) -> list[Segment]:
    """One person's device through ``day_start``..``day_end``, from their logged events.

    ``events`` are that person's events in log order; ones before
    ``day_start`` only set where the device stands when the day begins. A
    ``deposit.confirmed`` puts the device in the locker. A ``device.removed``
    after the slot was unlocked for a release takes it out for that reason
    (``slot.unlocked`` carries it; ``release.break`` and ``release.grant``
    carry when it is due back); after a shift-end or closing release it has
    gone home and the picture is blank. A removal nobody unlocked for is
    ``tamper``. A release that was never collected (``slot.locked`` or
    ``release.timeout``) changes nothing. A device out past its due time is
    ``late`` for ``grace``, then ``overdue``. Blank time (no segment) means
    the device was not in the bank's keeping: not yet deposited, or gone home.
    """
    changes: list[tuple[datetime, str | None, str | None, datetime | None]] = []
    due_for: dict[int | None, datetime | None] = {}
    opened_for: dict[int | None, tuple[str, datetime | None]] = {}
    state: str | None = None
    for event in events:
        try:
            at = parse_ts(event.ts)
        except (TypeError, ValueError):
            continue  # altered out of shape: `locker log verify` names it
        details = _details(event.details)
        slot, kind = event.slot, event.kind
        change: tuple[str | None, str | None, datetime | None]
        if kind == ev.DEPOSIT_CONFIRMED:
            change = (HELD, None, None)
        elif kind == ev.RELEASE_BREAK:
            due_for[slot] = _moment(details.get("break_end"))
            continue
        elif kind == ev.RELEASE_GRANT:
            due_for[slot] = _moment(details.get("return_due"))
            continue
        elif kind == ev.SLOT_UNLOCKED:
            reason = details.get("reason")
            if reason in TEMPORARY_REASONS or reason in FINAL_REASONS:
                opened_for[slot] = (reason, due_for.pop(slot, None))
            else:
                opened_for.pop(slot, None)
            continue
        elif kind in (ev.SLOT_LOCKED, ev.RELEASE_TIMEOUT):
            opened_for.pop(slot, None)
            continue
        elif kind == ev.DEVICE_REMOVED:
            opened = opened_for.pop(slot, None)
            if opened is None:
                if state != HELD:
                    continue  # not the device this person left with the bank
                change = ("out", TAMPER, None)
            elif opened[0] == "checkout":
                continue  # one of the setting's devices, not the person's own
            elif opened[0] in FINAL_REASONS:
                change = (None, None, None)
            else:
                change = ("out", opened[0], opened[1])
        elif kind == ev.RELEASE_CLOSING and details.get("device_out"):
            change = (None, None, None)
        else:
            continue
        changes.append((at, *change))
        state = change[0]
    segments: list[Segment] = []
    for index, (start, what, reason, due) in enumerate(changes):
        end = changes[index + 1][0] if index + 1 < len(changes) else day_end
        if what == HELD:
            parts = [Segment(HELD, start, end)]
        elif what == "out":
            parts = _out(start, end, reason or RELEASE, due, grace)
        else:
            parts = []
        for part in parts:
            _add(segments, part, day_start, day_end)
    return segments


def _out(
    start: datetime, end: datetime, reason: str, due: datetime | None, grace: timedelta
) -> list[Segment]:
    """A device out from ``start`` to ``end``: its reason, then late, then overdue."""
    kind = BREAK if reason == "break" else TAMPER if reason == TAMPER else RELEASE
    if due is None:
        return [Segment(kind, start, end, reason)]
    overdue_from = due + grace
    return [
        Segment(kind, start, min(end, due), reason, due),
        Segment(LATE, max(start, due), min(end, overdue_from), reason, due),
        Segment(OVERDUE, max(start, overdue_from), end, reason, due),
    ]


def _add(segments: list[Segment], part: Segment, day_start: datetime, day_end: datetime) -> None:
    """Append ``part`` cut to the day, joining it to the last one if it continues it."""
    start, end = max(part.start, day_start), min(part.end, day_end)
    if end <= start:
        return
    last = segments[-1] if segments else None
    if (
        last is not None
        and last.end == start
        and (last.kind, last.reason, last.due) == (part.kind, part.reason, part.due)
    ):
        segments[-1] = Segment(last.kind, last.start, end, last.reason, last.due)
    else:
        segments.append(Segment(part.kind, start, end, part.reason, part.due))


def _details(stored: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(stored, dict):
        return stored
    return parse_details(stored) or {}


def _moment(value: Any) -> datetime | None:
    """A time the controller logged with ``isoformat()``, or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# -------------------------------------------------------------------- drawing

#: Width of every timeline picture, in SVG units.
WIDTH = 800
#: The opening day drawn at least: these local hours.
FIRST_HOUR = 7
LAST_HOUR = 19
BAR_Y = 30
BAR_HEIGHT = 28
#: Bars narrower than this carry no label (the text beside the picture still says it all).
LABEL_MIN_WIDTH = 56


@dataclass(frozen=True)
class Axis:
    """The hours a day's pictures show, and where a moment falls on them."""

    start: datetime
    end: datetime
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def x(self, moment: datetime) -> float:
        """Where ``moment`` falls, from 0 to ``WIDTH``."""
        span = (self.end - self.start).total_seconds()
        offset = (moment - self.start).total_seconds()
        return round(min(max(offset / span, 0.0), 1.0) * WIDTH, 1)


def axis_for(
    day: date, tz: ZoneInfo, moments: Iterable[datetime], closing: time | None = None
) -> Axis:
    """Whole local hours covering the opening day (07:00-19:00 at least), closing time
    and every moment drawn; never beyond the day itself."""
    day_start, day_end = day_bounds(day, tz)
    first = _local(day, time(FIRST_HOUR), tz)
    last = _local(day, time(LAST_HOUR), tz)
    if closing is not None:
        last = max(last, _ceil_hour(_local(day, closing, tz), tz))
    for moment in moments:
        first = min(first, _floor_hour(moment, tz))
        last = max(last, _ceil_hour(moment, tz))
    first, last = max(first, day_start), min(last, day_end)
    axis = Axis(first, last)
    tick = first
    while tick <= last:
        axis.ticks.append((axis.x(tick), tick.astimezone(tz).strftime("%H:%M")))
        tick += timedelta(hours=1)
    return axis


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _floor_hour(moment: datetime, tz: ZoneInfo) -> datetime:
    local = moment.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _ceil_hour(moment: datetime, tz: ZoneInfo) -> datetime:
    floor = _floor_hour(moment, tz)
    return floor if floor == moment else floor + timedelta(hours=1)


def _span_text(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    return f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M}"


def _duration(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def picture(
    segments: Sequence[Segment],
    shift: Shift | None,
    alerts: Sequence[tuple[datetime, str]],
    axis: Axis,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """The shapes of one person's timeline, and the same facts as text."""
    bars = []
    for seg in segments:
        x1, x2 = axis.x(seg.start), axis.x(seg.end)
        width = max(round(x2 - x1, 1), 1.0)
        text = f"{SEGMENT_WORDS[seg.kind]} {_span_text(seg.start, seg.end, tz)}"
        if seg.reason and seg.kind != HELD:
            text += f" ({RELEASE_WORDS.get(seg.reason, seg.reason)})"
        bars.append(
            {
                "kind": seg.kind,
                "x": x1,
                "w": width,
                "mid": round(x1 + width / 2, 1),
                "label": SEGMENT_LABELS[seg.kind] if width >= LABEL_MIN_WIDTH else "",
                "title": text,
            }
        )
    markers = []
    breaks = []
    if shift is not None:
        markers = [
            {"x": axis.x(shift.start), "label": f"Start {shift.start.astimezone(tz):%H:%M}"},
            {"x": axis.x(shift.end), "label": f"End {shift.end.astimezone(tz):%H:%M}"},
        ]
        for pause in shift.breaks:
            x1, x2 = axis.x(pause.start), axis.x(pause.end)
            breaks.append(
                {
                    "x": x1,
                    "w": max(round(x2 - x1, 1), 2.0),
                    "title": f"Planned break {_span_text(pause.start, pause.end, tz)}",
                }
            )
    totals: dict[str, timedelta] = {}
    for seg in segments:
        totals[seg.kind] = totals.get(seg.kind, timedelta(0)) + (seg.end - seg.start)
    return {
        "bars": bars,
        "markers": markers,
        "breaks": breaks,
        "alerts": [
            {"x": axis.x(at), "title": f"Alert at {at.astimezone(tz):%H:%M}: {words}"}
            for at, words in alerts
        ],
        "rows": [
            {
                "kind": seg.kind,
                "span": _span_text(seg.start, seg.end, tz),
                "words": SEGMENT_WORDS[seg.kind],
                "why": RELEASE_WORDS.get(seg.reason, seg.reason) if seg.reason else "",
                "due": f"{seg.due.astimezone(tz):%H:%M}" if seg.due else "",
                "length": _duration(seg.end - seg.start),
            }
            for seg in segments
        ],
        "totals": [
            (words, _duration(totals[kind]))
            for kind, words in SEGMENT_WORDS.items()
            if kind in totals
        ],
    }


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
        "overrides": [override_row(e, names, grants, tz) for e in overrides],
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
        shift_text = f"Shift {_span_text(shift.start, shift.end, tz)}"
        if shift.breaks:
            shift_text += "; breaks " + ", ".join(
                _span_text(b.start, b.end, tz) for b in shift.breaks
            )
    return {
        "id": pid,
        "name": names.get(pid, f"person {pid}"),
        "shift_text": shift_text,
        **drawn,
    }


def _alerts(session: Session, day_start: datetime, day_end: datetime) -> list[Alert]:
    """Alerts raised on the day, or raised before it and acknowledged on it."""
    return list(
        session.scalars(
            select(Alert)
            .where(
                or_(
                    and_(Alert.raised_at >= day_start, Alert.raised_at < day_end),
                    and_(Alert.acknowledged_at >= day_start, Alert.acknowledged_at < day_end),
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
    }


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
