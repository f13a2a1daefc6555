"""Which events the log pages show, read by keyset: no Flask, only SQLAlchemy.

Pages run newest first and turn by keyset (``before_id`` for older events,
``after_id`` for newer ones): a page is one index range read of at most
``PAGE_SIZE + 1`` rows (one per kind for the override log), however long the
log is. There is no OFFSET and no COUNT. A day filter first reads the range
of ids the day's events span from the ``ts`` index, so the page's read stays
a range of the primary key (or of the person or kind index) instead of a
sort of everything that matched.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from locker.log import format_ts, parse_ts
from locker.models import Event
from locker.rota import day_bounds

#: Events on one page of the log.
PAGE_SIZE = 50


@dataclass(frozen=True)
class LogFilter:
    """Which events a page or an export shows."""

    person_id: int | None = None
    #: The one kind chosen in the filter, if any.
    kind: str | None = None
    day: date | None = None
    #: The kinds this view shows at most (the override log's); ``None`` for all.
    scope: frozenset[str] | None = None

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds to read, or ``None`` for every kind."""
        return frozenset({self.kind}) if self.kind else self.scope

    def args(self) -> dict[str, str]:
        """The filter as query arguments, for links that keep it."""
        args = {}
        if self.person_id is not None:
            args["person"] = str(self.person_id)
        if self.kind:
            args["kind"] = self.kind
        if self.day:
            args["day"] = self.day.isoformat()
        return args


@dataclass(frozen=True)
class Page:
    """One page of events, newest first, and the cursors of its neighbours."""

    events: list[Event]
    #: ``after_id`` of the page of newer events, if there is one.
    newer: int | None
    #: ``before_id`` of the page of older events, if there is one.
    older: int | None


def day_span(session: Session, day: date, tz: ZoneInfo) -> tuple[int, int] | None:
    """The first and last id of the events timed on local ``day``, or ``None`` if none are.

    One read of the ``ts`` index (which also holds the id). Times may run
    backwards after a clock jump, so the span can hold events of other days:
    it bounds a read, and the time conditions still apply within it.
    """
    start, end = day_bounds(day, tz)
    low, high = session.execute(
        select(func.min(Event.id), func.max(Event.id)).where(
            Event.ts >= format_ts(start), Event.ts < format_ts(end)
        )
    ).one()
    return None if low is None else (low, high)


def statements(
    flt: LogFilter,
    tz: ZoneInfo,
    *,
    lower: int | None,
    upper: int | None,
    newest_first: bool,
    limit: int,
) -> list[Select]:
    """The reads for events with ``lower < id < upper`` that ``flt`` selects, ``limit`` each.

    One statement per kind when several kinds are wanted, so each is a range
    of the kind index already in id order; the caller merges them.
    """
    conditions: list[Any] = []
    if lower is not None:
        conditions.append(Event.id > lower)
    if upper is not None:
        conditions.append(Event.id < upper)
    if flt.person_id is not None:
        conditions.append(Event.person_id == flt.person_id)
    if flt.day is not None:
        start, end = day_bounds(flt.day, tz)
        conditions += [Event.ts >= format_ts(start), Event.ts < format_ts(end)]
    order = Event.id.desc() if newest_first else Event.id.asc()
    kinds: list[str | None] = sorted(flt.kinds) if flt.kinds is not None else [None]
    return [
        select(Event)
        .where(*conditions, *([Event.kind == kind] if kind else []))
        .order_by(order)
        .limit(limit)
        for kind in kinds
    ]


def _read(
    session: Session,
    flt: LogFilter,
    tz: ZoneInfo,
    lower: int | None,
    upper: int | None,
    *,
    newest_first: bool,
    limit: int,
) -> list[Event]:
    """At most ``limit`` events between the bounds, merged across kinds, in id order."""
    if lower is not None and upper is not None and upper - lower <= 1:
        return []
    reads = [
        list(session.scalars(stmt))
        for stmt in statements(
            flt, tz, lower=lower, upper=upper, newest_first=newest_first, limit=limit
        )
    ]
    merged = heapq.merge(*reads, key=lambda e: e.id, reverse=newest_first)
    return list(islice(merged, limit))


def fetch_page(
    session: Session,
    flt: LogFilter,
    tz: ZoneInfo,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> Page:
    """The page of events ``flt`` selects just older than ``before_id``, or newer than
    ``after_id``, or the newest page when neither is given."""
    limit = limit or PAGE_SIZE
    lower: int | None = None
    upper: int | None = None
    if flt.day is not None:
        span = day_span(session, flt.day, tz)
        if span is None:
            return Page([], None, None)
        lower, upper = span[0] - 1, span[1] + 1

    def read(low: int | None, high: int | None, newest_first: bool, n: int) -> list[Event]:
        return _read(session, flt, tz, low, high, newest_first=newest_first, limit=n)

    if after_id is not None:
        rows = read(_max(lower, after_id), upper, False, limit + 1)
        more_newer = len(rows) > limit
        rows = rows[:limit][::-1]
        more_older = bool(rows) and bool(read(lower, rows[-1].id, True, 1))
    else:
        rows = read(lower, _min(upper, before_id), True, limit + 1)
        more_older = len(rows) > limit
        rows = rows[:limit]
        more_newer = (
            before_id is not None and bool(rows) and bool(read(rows[0].id, upper, False, 1))
        )
    return Page(
        rows,
        rows[0].id if more_newer else None,
        rows[-1].id if more_older else None,
    )


def _max(a: int | None, b: int) -> int:
    return b if a is None else max(a, b)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return b if a is None else a
    return min(a, b)


def parse_details(stored: str) -> dict[str, Any] | None:
    """An event's details as a dict, or ``None`` if they are not a JSON object."""
    try:
        parsed = json.loads(stored)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def moment_of(ts: str) -> datetime | None:
    """An event's stored time, or ``None`` if it was altered out of shape."""
    try:
        return parse_ts(ts)
    except (TypeError, ValueError):
        return None


def logged_moment(value: Any) -> datetime | None:
    """A time the controller logged in details with ``isoformat()``, or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
