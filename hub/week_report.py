"""The weekly group report: every visible site over one week, printable and as CSV.

Per site: the overrides by reason, the alerts by kind with how long they
stayed open, the minutes on shift without a device, and the days the hub
cannot vouch for (a broken chain, or no events at all). Each site's week runs
Monday to Sunday in its own time zone.

:func:`group_week` reads the daily totals kept at ingest (:mod:`hub.totals`):
five queries for the whole group, whatever its size. :func:`site_week_recounted`
rebuilds one site's week from its shipped events (:mod:`hub.site_report`,
:mod:`hub.shifts`) as the report did before: the tests check the two agree,
and the bench measures one against the other.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import HubAlert, Site, SiteAlertSpan, SiteDayCount, SiteDayMinutes
from hub.shifts import any_event_between, events_between, minutes_of_days, shift_minutes, site_tz
from hub.site_report import alert_spans, chain_broken_on
from hub.totals import FRESH_FOR, override_reason
from locker import events as ev
from locker.events import OVERRIDE_KINDS
from locker.log.exporter import spreadsheet_safe
from locker.rota import day_bounds
from web.words import alert_words

DAYS = 7
#: A day's minutes counted this long before the report are taken as they are: a site
#: that sends its snapshot every minute has today counted again every FRESH_FOR, so
#: only a silent site's today is counted again by the report.
TAKEN_AS_COUNTED = 2 * FRESH_FOR


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


def site_week_recounted(session: Session, site: Site, monday: date, now: datetime) -> SiteWeek:
    """``site``'s week from ``monday``, as of ``now``, recounted from its events."""
    tz = site_tz(site)
    sunday = monday + timedelta(days=DAYS - 1)
    start, end = day_bounds(monday, tz)[0], day_bounds(sunday, tz)[1]
    until = min(end, now)
    events = events_between(session, site.id, start, end, OVERRIDE_KINDS | {ev.ALERT_RAISED})
    minutes = shift_minutes(session, site, monday, sunday, now)
    reasons = Counter(override_reason(e, tz) for e in events if e.kind in OVERRIDE_KINDS)
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
    for day, day_start, day_end in days_begun(monday, tz, now):
        if chain_broken_on(session, site.id, day_start, day_end):
            broken.append(day)
        if not any_event_between(session, site.id, day_start, day_end):
            empty.append(day)
    return SiteWeek(
        site.name,
        tz.key,
        sum(reasons.values()),
        most_first(reasons),
        alerts,
        sum(m.on_shift for m in minutes),
        sum(m.without_device for m in minutes),
        broken,
        empty,
    )


def days_begun(
    monday: date, tz: ZoneInfo, now: datetime
) -> Iterator[tuple[date, datetime, datetime]]:
    """The week's days that have begun by ``now``, with their bounds (the days still
    to come are neither broken nor empty)."""
    for offset in range(DAYS):
        day = monday + timedelta(days=offset)
        start, end = day_bounds(day, tz)
        if start >= now:
            return
        yield day, start, end


def most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    """``(key, n)`` most frequent first, then by key (the same order however counted)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _visible_sites(session: Session, visible: set[int] | None) -> list[Site]:
    stmt = select(Site).order_by(Site.name)
    if visible is not None:
        stmt = stmt.where(Site.id.in_(visible))
    return list(session.scalars(stmt))


def group_week_recounted(
    session: Session, visible: set[int] | None, monday: date, now: datetime
) -> list[SiteWeek]:
    """:func:`group_week` recounted from every site's events, site by site (slow)."""
    return [site_week_recounted(session, s, monday, now) for s in _visible_sites(session, visible)]


def group_week(
    session: Session, visible: set[int] | None, monday: date, now: datetime
) -> list[SiteWeek]:
    """Every visible site's week from ``monday``, by site name, from the daily totals."""
    sites = _visible_sites(session, visible)
    sunday = monday + timedelta(days=DAYS - 1)
    totals = _WeekTotals(session, visible, monday, sunday)
    return [totals.site_week(site, monday, now) for site in sites]


class _WeekTotals:
    """The group's totals of one week, read in a few queries and split by site."""

    def __init__(self, session: Session, visible: set[int] | None, monday: date, sunday: date):
        def rows(*columns, table, where=None, group_by=()):
            # Plain rows (no ORM objects): a thousand sites' week is tens of thousands.
            stmt = select(*columns).where(table.day >= monday, table.day <= sunday)
            if where is not None:
                stmt = stmt.where(where)
            if visible is not None:
                stmt = stmt.where(table.site_id.in_(visible))
            return session.execute(stmt.group_by(*group_by))

        self.session = session
        self.overrides: dict[int, Counter] = defaultdict(Counter)
        for site_id, reason, n in rows(
            SiteDayCount.site_id,
            SiteDayCount.key,
            func.sum(SiteDayCount.n),
            table=SiteDayCount,
            where=SiteDayCount.measure == "override",
            group_by=(SiteDayCount.site_id, SiteDayCount.key),
        ):
            self.overrides[site_id][reason] += n
        self.days: dict[int, set[date]] = defaultdict(set)
        for site_id, day in rows(
            SiteDayCount.site_id,
            SiteDayCount.day,
            table=SiteDayCount,
            where=SiteDayCount.measure == "events",
        ):
            self.days[site_id].add(day)
        self.minutes: dict[int, dict[date, Any]] = defaultdict(dict)
        for row in rows(*SiteDayMinutes.__table__.c, table=SiteDayMinutes):
            self.minutes[row.site_id][row.day] = row
        self.spans: dict[int, list[Any]] = defaultdict(list)
        for span in rows(*SiteAlertSpan.__table__.c, table=SiteAlertSpan).all():
            self.spans[span.site_id].append(span)
        for spans in self.spans.values():
            spans.sort(key=lambda span: span.seq)
        # Chain alerts open at some time of the week, in any zone (a day either side).
        low, high = (
            day_bounds(monday - timedelta(days=1), UTC)[0],
            day_bounds(sunday + timedelta(days=1), UTC)[1],
        )
        self.chain: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for site_id, opened, resolved in session.execute(
            select(HubAlert.site_id, HubAlert.opened_at, HubAlert.resolved_at).where(
                HubAlert.kind == "chain",
                HubAlert.opened_at < high,
                HubAlert.resolved_at.is_(None) | (HubAlert.resolved_at >= low),
            )
        ):
            self.chain[site_id].append((opened, resolved))

    def site_week(self, site: Site, monday: date, now: datetime) -> SiteWeek:
        tz = site_tz(site)
        sunday = monday + timedelta(days=DAYS - 1)
        until = min(day_bounds(sunday, tz)[1], now)
        reasons = self.overrides[site.id]
        by_kind: dict[str, list[Any]] = defaultdict(list)
        for span in self.spans[site.id]:
            by_kind[span.kind].append(span)
        alerts = []
        for kind, spans in sorted(by_kind.items()):
            ends = [
                s.ended_at if s.ended_at is not None and s.ended_at < until else None for s in spans
            ]
            minutes = [
                _open_minutes(s.raised_at, end or until) for s, end in zip(spans, ends, strict=True)
            ]
            alerts.append(
                AlertKind(
                    alert_words(kind) if kind else "Alert",
                    len(spans),
                    max(minutes),
                    sum(minutes),
                    sum(1 for end in ends if end is None),
                )
            )
        broken, empty = [], []
        for day, day_start, day_end in days_begun(monday, tz, now):
            if any(
                opened < day_end and (resolved is None or resolved >= day_start)
                for opened, resolved in self.chain[site.id]
            ):
                broken.append(day)
            if day not in self.days[site.id]:
                empty.append(day)
        on_shift, without = self._minutes(site, monday, now)
        return SiteWeek(
            site.name,
            tz.key,
            sum(reasons.values()),
            most_first(reasons),
            alerts,
            on_shift,
            without,
            broken,
            empty,
        )

    def _minutes(self, site: Site, monday: date, now: datetime) -> tuple[int, int]:
        """The week's minutes on shift and without a device: a day counted after it
        ended (or up to ``now``) as stored, a day counted earlier again now (the
        site's shift went on after its last batch or snapshot: today, or an
        offline site's last day)."""
        tz = site_tz(site)
        on_shift = without = 0
        stale = []
        for day, row in self.minutes[site.id].items():
            if row.counted_at >= min(day_bounds(day, tz)[1], now) - TAKEN_AS_COUNTED:
                on_shift, without = on_shift + row.on_shift, without + row.without_device
            else:
                stale.append(day)
        for counted_on, counted_without in minutes_of_days(self.session, site, stale, now).values():
            on_shift, without = on_shift + counted_on, without + counted_without
        return on_shift, without


def _open_minutes(raised: datetime, end: datetime) -> int:
    """Minutes from ``raised`` to ``end``, as :meth:`AlertSpan.open_minutes` counts them."""
    return max(0, round((end - raised).total_seconds() / 60))


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
    return str(spreadsheet_safe(text))
