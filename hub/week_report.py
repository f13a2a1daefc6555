"""The weekly group report: every visible site over one week, printable and as CSV.

Per site: the overrides by reason, the alerts by kind with how long they
stayed open, the minutes on shift without a device, and the days the hub
cannot vouch for (a broken chain, or no events at all). Each site's week runs
Monday to Sunday in its own time zone; everything is rebuilt from what the
site shipped (:mod:`hub.site_report`, :mod:`hub.shifts`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Site
from hub.shifts import any_event_between, events_between, shift_minutes, site_tz
from hub.site_report import alert_spans, chain_broken_on, names_at
from locker import events as ev
from locker.events import OVERRIDE_KINDS
from locker.log.exporter import _FORMULA_START as FORMULA_START
from locker.rota import day_bounds
from web.log_rows import override_row
from web.words import alert_words

DAYS = 7


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class AlertKind:
    """The alerts of one kind a site raised in the week."""

    words: str
    count: int
    #: Minutes from raised to acknowledged or resolved (to the week's end while open).
    longest_open: int
    total_open: int
    still_open: int


@dataclass(frozen=True)
class SiteWeek:
    """One site's line of the weekly report."""

    site: str
    timezone: str
    overrides: int
    #: (reason in words, count), most frequent first.
    overrides_by_reason: list[tuple[str, int]]
    alerts: list[AlertKind]
    minutes_on_shift: int
    minutes_without_device: int
    #: The site's local days with a broken chain, and with no event shipped.
    broken_days: list[date]
    empty_days: list[date]


def site_week(session: Session, site: Site, monday: date, now: datetime) -> SiteWeek:
    """``site``'s week from ``monday``, as of ``now``."""
    tz = site_tz(site)
    sunday = monday + timedelta(days=DAYS - 1)
    start, end = day_bounds(monday, tz)[0], day_bounds(sunday, tz)[1]
    until = min(end, now)
    events = events_between(session, site.id, start, end, OVERRIDE_KINDS | {ev.ALERT_RAISED})
    minutes = shift_minutes(session, site, monday, sunday, now)
    names = names_at(session, site, [])
    reasons = Counter(
        row["reason"] or row["what"]
        for row in (override_row(e, names, {}, tz) for e in events if e.kind in OVERRIDE_KINDS)
    )
    raised = [e for e in events if e.kind == ev.ALERT_RAISED]
    by_kind = defaultdict(list)
    for alert in alert_spans(session, site.id, raised, until):
        by_kind[alert.kind].append(alert)
    alerts = [
        AlertKind(
            alert_words(kind) if kind else "Alert",
            len(spans),
            max(a.open_minutes(until) for a in spans),
            sum(a.open_minutes(until) for a in spans),
            sum(1 for a in spans if a.ended is None),
        )
        for kind, spans in sorted(by_kind.items())
    ]
    broken, empty = [], []
    for offset in range(DAYS):
        day = monday + timedelta(days=offset)
        day_start, day_end = day_bounds(day, tz)
        if day_start >= now:
            break  # the days still to come are neither broken nor empty
        if chain_broken_on(session, site.id, day_start, day_end):
            broken.append(day)
        if not any_event_between(session, site.id, day_start, day_end):
            empty.append(day)
    return SiteWeek(
        site.name,
        tz.key,
        sum(reasons.values()),
        reasons.most_common(),
        alerts,
        sum(m.on_shift for m in minutes),
        sum(m.without_device for m in minutes),
        broken,
        empty,
    )


def group_week(
    session: Session, visible: set[int] | None, monday: date, now: datetime
) -> list[SiteWeek]:
    """Every visible site's week from ``monday``, by site name."""
    stmt = select(Site).order_by(Site.name)
    if visible is not None:
        stmt = stmt.where(Site.id.in_(visible))
    return [site_week(session, site, monday, now) for site in session.scalars(stmt)]


CSV_COLUMNS = (
    "site",
    "timezone",
    "week_from",
    "overrides",
    "overrides_by_reason",
    "alerts",
    "alerts_by_kind",
    "alerts_still_open",
    "minutes_on_shift",
    "minutes_without_device",
    "days_chain_broken",
    "days_without_data",
)


def week_csv(rows: list[SiteWeek], monday: date) -> str:
    """The report as CSV, one line a site (lists inside a cell joined with ``; ``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                _safe(row.site),
                row.timezone,
                monday.isoformat(),
                row.overrides,
                _safe(reasons_text(row)),
                sum(a.count for a in row.alerts),
                _safe(alerts_text(row)),
                sum(a.still_open for a in row.alerts),
                row.minutes_on_shift,
                row.minutes_without_device,
                " ".join(d.isoformat() for d in row.broken_days),
                " ".join(d.isoformat() for d in row.empty_days),
            )
        )
    return out.getvalue()


def reasons_text(row: SiteWeek) -> str:
    """``medical: 2; family: 1``."""
    return "; ".join(f"{reason}: {count}" for reason, count in row.overrides_by_reason)


def alerts_text(row: SiteWeek) -> str:
    """``Overdue: 3 (open 42 min in all, 25 at most)``."""
    return "; ".join(
        f"{a.words}: {a.count} (open {a.total_open} min in all, {a.longest_open} at most)"
        for a in row.alerts
    )


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (names and reasons are typed in)."""
    return "'" + text if text.startswith(FORMULA_START) else text
