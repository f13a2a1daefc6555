"""The event log in the panel: every event, the override log, and exports of both.

Pages run newest first and turn by keyset (``?before_id=`` for older events,
``?after_id=`` for newer ones): a page is one index range read of at most
``PAGE_SIZE + 1`` rows (one per kind for the override log), however long the
log is. There is no OFFSET and no COUNT. A day filter first reads the range
of ids the day's events span from the ``ts`` index, so the page's read stays
a range of the primary key (or of the person or kind index) instead of a
sort of everything that matched.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from locker import events as ev
from locker.events import ALL_KINDS, OVERRIDE_KINDS
from locker.log import export_chunks, format_ts, parse_ts
from locker.models import Event, Grant, Person
from locker.rota import day_bounds, day_problem
from web import uids
from web.api import query_int
from web.context import MAX_ID, get_config, get_db
from web.words import DETAIL_WORDS, OVERRIDE_WHAT, alert_words, event_words, reason_words

bp = Blueprint("log", __name__)

#: Events on one page of the log.
PAGE_SIZE = 50
#: Events read per batch while an export streams.
EXPORT_BATCH = 1000


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
_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


# ------------------------------------------------------------------ filters


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


def parse_filter(scope: frozenset[str] | None = None) -> LogFilter:
    """The filter in the request's query (``person``, ``kind``, ``day``), or a 400."""
    person = query_int("person", 0, 1, MAX_ID) or None
    kind = request.args.get("kind") or None
    allowed = scope if scope is not None else ALL_KINDS
    if kind is not None and kind not in allowed:
        raise BadRequest(f"kind {kind!r} is not one of the kinds shown here")
    return LogFilter(person, kind, parse_day(request.args.get("day")), scope)


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` query value as a date (empty means none), or a 400.

    Days outside 2000-2100 are refused too: nothing was logged then, and a day
    next to ``date.max`` overflows when the page works out where it ends.
    """
    if not text:
        return None
    day, why = day_problem(text)
    if day is None:
        raise BadRequest(why)
    return day


# ------------------------------------------------------------------- paging


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


def cursor() -> tuple[int | None, int | None]:
    """``(before_id, after_id)`` from the query; at most one of them."""
    before = query_int("before_id", 0, 1, MAX_ID) or None
    after = query_int("after_id", -1, 0, MAX_ID)
    if before is not None and after >= 0:
        raise BadRequest("give before_id or after_id, not both")
    return before, (after if after >= 0 else None)


# ---------------------------------------------------------------- in words


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
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _value(key: str, value: Any, kind: str, tz: ZoneInfo, day: date | None) -> str:
    if key == "uid":
        return str(uids.shown(value))
    if key == "alert" and isinstance(value, str):
        return alert_words(value)
    if key in ("reason", "action") and kind in CODED_REASON_KINDS and isinstance(value, str):
        return reason_words(value)
    if key == "return_minutes":
        return f"{value} min"
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


# -------------------------------------------------------------------- views


@bp.get("/log")
def index():
    """Every logged event, newest first, by person, kind and day."""
    flt = parse_filter()
    before_id, after_id = cursor()
    tz = get_config().tz
    with get_db().read() as session:
        page = fetch_page(session, flt, tz, before_id=before_id, after_id=after_id)
        names = names_of(session, (e.person_id for e in page.events))
        people = people_choices(session)
    rows = [event_row(e, names, tz) for e in page.events]
    return render_template(
        "log.html",
        rows=_with_person_links(rows, "log.index", flt),
        links=_links("log.index", flt, page, before_id or after_id, "all"),
        flt=flt,
        people=people,
        kinds=_kind_choices(ALL_KINDS),
        tz_name=get_config().timezone,
    )


@bp.get("/log/overrides")
def overrides():
    """Grants, on-the-spot approvals and manager releases, newest first."""
    flt = parse_filter(OVERRIDE_KINDS)
    before_id, after_id = cursor()
    tz = get_config().tz
    with get_db().read() as session:
        page = fetch_page(session, flt, tz, before_id=before_id, after_id=after_id)
        names = names_of(session, (e.person_id for e in page.events))
        grants = grants_of(session, page.events)
        people = people_choices(session)
    rows = [override_row(e, names, grants, tz) for e in page.events]
    return render_template(
        "log_overrides.html",
        rows=_with_person_links(rows, "log.overrides", flt),
        links=_links("log.overrides", flt, page, before_id or after_id, "overrides"),
        flt=flt,
        people=people,
        kinds=_kind_choices(OVERRIDE_KINDS),
        tz_name=get_config().timezone,
    )


def _with_person_links(
    rows: list[dict[str, Any]], endpoint: str, flt: LogFilter
) -> list[dict[str, Any]]:
    """Give each row with a person a link to the same view filtered to that person."""
    for row in rows:
        if row["person_id"] is not None:
            row["person_url"] = url_for(endpoint, **{**flt.args(), "person": row["person_id"]})
    return rows


def _links(
    endpoint: str, flt: LogFilter, page: Page, cursored: int | None, view: str
) -> dict[str, str | None]:
    """The pager's and the exports' addresses, keeping the filter."""
    args = flt.args()
    export_args = {**args, **({"view": view} if view != "all" else {})}
    return {
        "newest": url_for(endpoint, **args) if cursored is not None else None,
        "newer": url_for(endpoint, **args, after_id=page.newer) if page.newer else None,
        "older": url_for(endpoint, **args, before_id=page.older) if page.older else None,
        "csv": url_for("log.export", **export_args),
        "jsonl": url_for("log.export", **export_args, format="jsonl"),
        "clear": url_for(endpoint),
    }


def _kind_choices(kinds: Iterable[str]) -> list[tuple[str, str]]:
    return sorted(((k, kind_text(k)) for k in kinds), key=lambda choice: choice[1])


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


@bp.get("/log/export.csv")
def export():
    """The events the filter selects as a CSV (or ``?format=jsonl``) download, oldest first."""
    fmt = request.args.get("format") or "csv"
    if fmt not in EXPORT_TYPES:
        raise BadRequest("format must be csv or jsonl")
    view = request.args.get("view") or "all"
    if view not in ("all", "overrides"):
        raise BadRequest("view must be all or overrides")
    flt = parse_filter(OVERRIDE_KINDS if view == "overrides" else None)
    since, until = day_bounds(flt.day, get_config().tz) if flt.day else (None, None)
    db = get_db()
    # Decided now: the download streams after the request's context has gone.
    redact = None if uids.may_see_whole() else uids.shown_details_text

    def chunks() -> Iterator[str]:
        with db.read() as session:
            yield from export_chunks(
                session,
                fmt=fmt,
                since=since,
                until=until,
                kinds=flt.kinds,
                person_id=flt.person_id,
                batch=EXPORT_BATCH,
                redact=redact,
            )

    name = "-".join(
        part
        for part in (
            "locker-log" if view == "all" else "locker-overrides",
            flt.day.isoformat() if flt.day else "",
            f"person{flt.person_id}" if flt.person_id else "",
            flt.kind.replace(".", "_") if flt.kind else "",
        )
        if part
    )
    return Response(
        stream_with_context(chunks()),
        content_type=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
