"""The event log in the panel: every event, the override log, and exports of both.

The reads are :mod:`web.log_query`'s (keyset pages, no OFFSET, no COUNT); the
rows in words are :mod:`web.log_rows`'s. This module reads the request's
filter and cursor and draws the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from werkzeug.exceptions import BadRequest

from locker import events as ev
from locker.events import ALL_KINDS, OVERRIDE_KINDS
from locker.log import export_chunks
from locker.log.personal import shown_events
from locker.rota import day_bounds, day_problem
from web import uids
from web.api import query_int
from web.context import MAX_ID, daemon_state, get_config, get_db
from web.log_query import LogFilter, Page, fetch_page
from web.log_rows import event_row, grants_of, kind_text, names_of, override_row, people_choices

bp = Blueprint("log", __name__)

#: Events the panel stamps with real time, whatever the controller's clock says.
REAL_TIME_KINDS = frozenset({ev.AUTH_LOGIN, ev.AUTH_FAILED, ev.AUTH_LOGOUT})

#: Events read per batch while an export streams.
EXPORT_BATCH = 1000


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


def cursor() -> tuple[int | None, int | None]:
    """``(before_id, after_id)`` from the query; at most one of them."""
    before = query_int("before_id", 0, 1, MAX_ID) or None
    after = query_int("after_id", -1, 0, MAX_ID)
    if before is not None and after >= 0:
        raise BadRequest("give before_id or after_id, not both")
    return before, (after if after >= 0 else None)


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
        shown = shown_events(session, page.events)
    rows = [event_row(e, names, tz) for e in shown]
    simulated = daemon_state().simulated
    for row in rows:
        # In the demo the panel's own events (logins) are stamped with real time,
        # everything else with the simulated clock: say which is which.
        row["real_time"] = simulated and row["kind"] in REAL_TIME_KINDS
    return render_template(
        "log.html",
        simulated=simulated,
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
        shown = shown_events(session, page.events)
    rows = [override_row(e, names, grants, tz) for e in shown]
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
