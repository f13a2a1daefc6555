"""The sites' shifts at the hub, and minutes on shift without a device.

The rota is not in a site's log, so the status snapshots carry it: the shifts
of the days since the last snapshot the hub took (a week after the worker
starts). :func:`store_shifts` replaces the hub's copy of those days.

"Minutes without a device" is the safeguarding figure: the minutes a person
was on shift, not on a break, and their own device was not in the locker's
keeping. It is rebuilt from the shipped events with the panel's own
:func:`web.timeline.timeline`, so the hub and the site's report agree on
when a device was in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.models import Site, SiteEvent, SiteShift
from locker.errors import InvalidRequest
from locker.log import format_ts
from locker.rota import day_bounds
from web.timeline import HELD, TIMELINE_KINDS, timeline

#: The most days of shifts a snapshot may carry (locker.shipping.MAX_SHIFT_DAYS).
MAX_SHIFT_DAYS = 31
#: How far before a day the timeline looks for where a device stood when it began.
LOOK_BACK = timedelta(days=1)


def site_tz(site: Site) -> ZoneInfo:
    """The site's time zone, as its snapshots say (UTC until one arrives)."""
    name = (site.snapshot or {}).get("timezone")
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def store_shifts(session: Session, site_id: int, snapshot: dict[str, Any]) -> set[date]:
    """Replace the site's shifts of the days ``snapshot`` covers; the days whose shifts
    changed (their minutes must be counted again).

    A snapshot without shifts (an older site) changes nothing. A malformed one
    raises :class:`InvalidRequest` naming the field.
    """
    if "shifts" not in snapshot:
        return set()
    first, last = _days(snapshot.get("shift_days"))
    shifts = snapshot["shifts"]
    if not isinstance(shifts, list):
        raise InvalidRequest("shifts must be a list")
    rows = [_shift_row(site_id, raw, i, first, last) for i, raw in enumerate(shifts)]
    if len({(r.day, r.person_id) for r in rows}) != len(rows):
        raise InvalidRequest("shifts: one shift a person and day")
    stored = shifts_of(session, site_id, first, last)
    session.execute(
        delete(SiteShift).where(
            SiteShift.site_id == site_id, SiteShift.day >= first, SiteShift.day <= last
        )
    )
    session.add_all(rows)
    session.flush()
    before, after = _by_day(stored), _by_day(rows)
    return {day for day in before.keys() | after.keys() if before.get(day) != after.get(day)}


def _by_day(shifts: Iterable[SiteShift]) -> dict[date, set[tuple]]:
    """What counts of each day's shifts, to see which days a snapshot changed."""
    days: dict[date, set[tuple]] = defaultdict(set)
    for s in shifts:
        breaks = tuple(tuple(b) for b in s.breaks)
        days[s.day].add((s.person_id, s.name, s.start, s.end, breaks))
    return days


def _days(raw: Any) -> tuple[date, date]:
    try:
        first, last = (date.fromisoformat(d) for d in raw)
    except (TypeError, ValueError):
        raise InvalidRequest('shift_days must be ["YYYY-MM-DD", "YYYY-MM-DD"]') from None
    if not timedelta(0) <= last - first < timedelta(days=MAX_SHIFT_DAYS):
        raise InvalidRequest(f"shift_days: from 1 to {MAX_SHIFT_DAYS} days, first to last")
    return first, last


def _moment(raw: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidRequest(f"{where}: a time with its UTC offset is needed")
    return moment


def _shift_row(site_id: int, raw: Any, i: int, first: date, last: date) -> SiteShift:
    where = f"shifts[{i}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where}: an object with day, id, name, start, end, breaks")
    try:
        day = date.fromisoformat(raw.get("day"))
    except (TypeError, ValueError):
        raise InvalidRequest(f"{where}.day: a date as YYYY-MM-DD is needed") from None
    if not first <= day <= last:
        raise InvalidRequest(f"{where}.day: {day} is outside shift_days")
    person = raw.get("id")
    if not isinstance(person, int) or isinstance(person, bool) or not 0 < person < 2**31:
        raise InvalidRequest(f"{where}.id: a person id is needed")
    name = raw.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 80:
        raise InvalidRequest(f"{where}.name: text of 1 to 80 characters is needed")
    start, end = (
        _moment(raw.get("start"), f"{where}.start"),
        _moment(raw.get("end"), f"{where}.end"),
    )
    if end <= start:
        raise InvalidRequest(f"{where}: the shift must end after it starts")
    breaks = raw.get("breaks")
    if not isinstance(breaks, list) or not all(isinstance(b, list) and len(b) == 2 for b in breaks):
        raise InvalidRequest(f"{where}.breaks: a list of [start, end] pairs is needed")
    windows = [
        [_moment(b[0], f"{where}.breaks").isoformat(), _moment(b[1], f"{where}.breaks").isoformat()]
        for b in breaks
    ]
    return SiteShift(
        site_id=site_id, day=day, person_id=person, name=name, start=start, end=end, breaks=windows
    )


def events_between(
    session: Session,
    site_id: int,
    start: datetime,
    end: datetime,
    kinds: Iterable[str] | None = None,
) -> list[SiteEvent]:
    """The site's events logged from ``start`` to before ``end``, in log order.

    One range of the ``(site_id, ts)`` index.
    """
    stmt = select(SiteEvent).where(
        SiteEvent.site_id == site_id,
        SiteEvent.ts >= format_ts(start),
        SiteEvent.ts < format_ts(end),
    )
    if kinds is not None:
        stmt = stmt.where(SiteEvent.kind.in_(sorted(kinds)))
    return list(session.scalars(stmt.order_by(SiteEvent.seq)))


def any_event_between(session: Session, site_id: int, start: datetime, end: datetime) -> bool:
    """Whether the hub holds any event the site logged from ``start`` to before ``end``."""
    found = session.scalar(
        select(SiteEvent.seq)
        .where(
            SiteEvent.site_id == site_id,
            SiteEvent.ts >= format_ts(start),
            SiteEvent.ts < format_ts(end),
        )
        .limit(1)
    )
    return found is not None


def shifts_of(session: Session, site_id: int, first: date, last: date) -> list[SiteShift]:
    """The site's shifts of days ``first`` to ``last``, by day and start."""
    return list(
        session.scalars(
            select(SiteShift)
            .where(SiteShift.site_id == site_id, SiteShift.day >= first, SiteShift.day <= last)
            .order_by(SiteShift.day, SiteShift.start, SiteShift.person_id)
        )
    )


@dataclass(frozen=True)
class ShiftMinutes:
    """One person's shift: minutes on it (breaks left out) and of those without a device."""

    person_id: int
    name: str
    day: date
    start: datetime
    end: datetime
    on_shift: int
    without_device: int


def shift_minutes(
    session: Session, site: Site, first: date, last: date, now: datetime
) -> list[ShiftMinutes]:
    """Every shift of days ``first`` to ``last`` at ``site``, counted up to ``now``."""
    tz = site_tz(site)
    shifts = shifts_of(session, site.id, first, last)
    if not shifts:
        return []
    since = day_bounds(first, tz)[0] - LOOK_BACK
    until = min(day_bounds(last, tz)[1], now)
    by_person: dict[int, list[SiteEvent]] = defaultdict(list)
    for event in events_between(session, site.id, since, max(until, since), TIMELINE_KINDS):
        if event.person_id is not None:
            by_person[event.person_id].append(event)
    return [_counted(shift, by_person[shift.person_id], now) for shift in shifts]


def minutes_of_days(
    session: Session, site: Site, days: Iterable[date], now: datetime
) -> dict[date, tuple[int, int]]:
    """``day -> (minutes on shift, of those without a device)`` for those of ``days`` with
    shifts, each day counted as :func:`shift_minutes` counts that one day (its events
    from :data:`LOOK_BACK` before it), but with one read of the events for them all."""
    days = sorted(set(days))
    if not days:
        return {}
    tz = site_tz(site)
    wanted = set(days)
    shifts = [s for s in shifts_of(session, site.id, days[0], days[-1]) if s.day in wanted]
    if not shifts:
        return {}
    since = day_bounds(days[0], tz)[0] - LOOK_BACK
    until = min(day_bounds(days[-1], tz)[1], now)
    by_person: dict[int, list[SiteEvent]] = defaultdict(list)
    for event in events_between(session, site.id, since, max(until, since), TIMELINE_KINDS):
        if event.person_id is not None:
            by_person[event.person_id].append(event)
    totals: dict[date, tuple[int, int]] = {}
    for shift in shifts:
        day_start, day_end = day_bounds(shift.day, tz)
        low, high = format_ts(day_start - LOOK_BACK), format_ts(min(day_end, now))
        events = [e for e in by_person[shift.person_id] if low <= e.ts < high]
        counted = _counted(shift, events, now)
        on_shift, without = totals.get(shift.day, (0, 0))
        totals[shift.day] = (on_shift + counted.on_shift, without + counted.without_device)
    return totals


def _counted(shift: SiteShift, events: Sequence[SiteEvent], now: datetime) -> ShiftMinutes:
    end = min(shift.end, max(now, shift.start))
    held = [(seg.start, seg.end) for seg in timeline(events, shift.start, end) if seg.kind == HELD]
    breaks = [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in shift.breaks]
    on_shift = _minus([(shift.start, end)], breaks)
    without = _minus(on_shift, held)
    return ShiftMinutes(
        shift.person_id,
        shift.name,
        shift.day,
        shift.start,
        shift.end,
        _minutes(on_shift),
        _minutes(without),
    )


def _minus(
    spans: list[tuple[datetime, datetime]], cuts: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """``spans`` with every moment of ``cuts`` taken out."""
    for cut_start, cut_end in cuts:
        kept = []
        for start, end in spans:
            if cut_end <= start or end <= cut_start:
                kept.append((start, end))
                continue
            if start < cut_start:
                kept.append((start, cut_start))
            if cut_end < end:
                kept.append((cut_end, end))
        spans = kept
    return spans


def _minutes(spans: list[tuple[datetime, datetime]]) -> int:
    return round(sum((end - start).total_seconds() for start, end in spans) / 60)
