"""A site's daily totals, kept at ingest: what the weekly group report sums.

Reading every site's week of events made the weekly report cost one pass over
the whole group's history per request (about 23 s for 1,000 sites). Instead
each batch adds its new events to per-day totals in its own transaction:

- ``site_day_counts``: events, deposits, releases by kind, overrides by reason;
- ``site_alert_spans``: each alert raised, and when it was acknowledged or resolved;
- ``site_day_minutes``: minutes on shift and of those without a device. The
  rota arrives with the snapshots and the custody events with the batches;
  counting minutes runs every person's timeline, too slow for a batch's
  transaction, so a batch marks the days its custody events touch and the
  site's next snapshot (a minute later) counts them again, with the days whose
  shifts it changed, any day counted before it ended, and today every
  :data:`FRESH_FOR`. Until then the weekly report counts a marked day itself.

Only new events are counted (a re-sent batch adds nothing). A day is the
site's local day, in the zone its snapshots name; a site whose zone changes
(its first snapshot after its first batch, say) is counted again from its
stored events by :func:`recount_site`, which is also how migration h0003
filled the totals of a hub that already held events.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hub.models import Site, SiteAlertSpan, SiteDayCount, SiteDayMinutes, SiteEvent, SiteShift
from hub.shifts import minutes_of_days, site_tz
from locker import events as ev
from locker.events import OVERRIDE_KINDS
from web.log_query import moment_of, parse_details
from web.log_rows import override_row
from web.timeline import TIMELINE_KINDS

#: Events that end an alert: a manager acknowledged it, or its cause ended.
ALERT_ENDS = frozenset({ev.ALERT_ACKNOWLEDGED, ev.ALERT_RESOLVED})
#: Events read at a time when a site is counted again.
RECOUNT_CHUNK = 20_000
#: Days of minutes counted at a time when a site is counted again (one read of events each).
MINUTES_CHUNK = 31
#: How old a count of today's minutes may be: a snapshot counts today again after
#: this, and the weekly report takes a count this recent as it is.
FRESH_FOR = timedelta(minutes=5)
#: ``counted_at`` of a day whose minutes new events have made stale.
NOT_COUNTED = datetime(1970, 1, 1, tzinfo=UTC)


def local_day(ts: str, tz: ZoneInfo) -> date | None:
    """The site's local day of an event logged at ``ts`` (``None`` if unreadable)."""
    moment = moment_of(ts)
    return moment.astimezone(tz).date() if moment is not None else None


def override_reason(event: Any, tz: ZoneInfo) -> str:
    """What the weekly report counts an override under: its reason in words, else what it was."""
    row = override_row(event, {}, {}, tz)
    return row["reason"] or row["what"]


def day_counts(events: Iterable[Any], tz: ZoneInfo) -> Counter[tuple[date, str, str]]:
    """``(day, measure, key) -> n`` for ``events`` (rows with an event's attributes)."""
    counts: Counter[tuple[date, str, str]] = Counter()
    for event in events:
        day = local_day(event.ts, tz)
        if day is None:
            continue
        counts[day, "events", ""] += 1
        if event.kind == ev.DEPOSIT_CONFIRMED:
            counts[day, "deposit", ""] += 1
        if event.kind in ev.RELEASE_KINDS:
            counts[day, "release", event.kind] += 1
        if event.kind in OVERRIDE_KINDS:
            counts[day, "override", override_reason(event, tz)] += 1
    return counts


#: One round trip for all a batch adds (each statement costs a wait for the server on a
#: busy hub, more than its work): the counts, the alerts raised, the ends of alerts
#: raised by earlier batches, and the days whose minutes must be counted again.
#: (The CTEs see the table as it was before the statement: the ends of alerts raised
#: in the same batch are set on their rows in Python, see :func:`alert_spans`.)
_ADD_TO_TOTALS = text(
    """
    WITH counted AS (
        INSERT INTO site_day_counts (site_id, day, measure, key, n)
        SELECT :site_id, c.day, c.measure, c.key, c.n
        FROM jsonb_to_recordset(CAST(:counts AS jsonb))
            AS c(day date, measure text, key text, n bigint)
        ON CONFLICT (site_id, day, measure, key)
            DO UPDATE SET n = site_day_counts.n + excluded.n
        RETURNING 1
    ), raised AS (
        INSERT INTO site_alert_spans (site_id, seq, alert_id, kind, day, raised_at, ended_at)
        SELECT :site_id, r.seq, r.alert_id, r.kind, r.day, r.raised_at, r.ended_at
        FROM jsonb_to_recordset(CAST(:raised AS jsonb)) AS r(
            seq bigint, alert_id bigint, kind text, day date,
            raised_at timestamptz, ended_at timestamptz
        )
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), ended AS (
        UPDATE site_alert_spans AS s SET ended_at = e.ended_at
        FROM jsonb_to_recordset(CAST(:ends AS jsonb)) AS e(alert_id bigint, ended_at timestamptz)
        WHERE s.site_id = :site_id AND s.alert_id = e.alert_id AND s.ended_at IS NULL
        RETURNING 1
    ), marked AS (
        UPDATE site_day_minutes SET counted_at = :not_counted
        WHERE site_id = :site_id AND day = ANY(CAST(:days AS date[]))
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM counted), (SELECT count(*) FROM raised),
           (SELECT count(*) FROM ended), (SELECT count(*) FROM marked)
    """
)


def count_in(
    session: Session, site: Site, events: Sequence[Any], now: datetime, *, minutes: bool = True
) -> None:
    """Add ``events`` (new to the hub, in log order) to ``site``'s totals; with
    ``minutes``, mark the days their custody events touch to be counted again.

    Counting minutes runs each person's timeline: too slow for the batch's
    transaction (a week's backlog ran at a third of the rate). The marked days
    are counted by the site's next snapshot, a minute later, and by the weekly
    report itself until then.
    """
    tz = site_tz(site)
    counts = day_counts(events, tz)
    raised, ends = alert_spans(events, tz)
    touched: set[date] = set()
    if minutes:
        for event in events:
            if event.kind in TIMELINE_KINDS and event.person_id is not None:
                day = local_day(event.ts, tz)
                # Where a device stood at midnight carries into the next day's minutes.
                touched.update({day, day + timedelta(days=1)} if day else ())
    if not (counts or raised or ends or touched):
        return
    session.execute(
        _ADD_TO_TOTALS,
        {
            "site_id": site.id,
            "counts": json.dumps(
                [
                    {"day": day.isoformat(), "measure": measure, "key": key, "n": n}
                    for (day, measure, key), n in counts.items()
                ]
            ),
            "raised": json.dumps(raised),
            "ends": json.dumps([{"alert_id": a, "ended_at": t} for a, t in ends.items()]),
            "not_counted": NOT_COUNTED,
            "days": sorted(touched),
        },
    )


def alert_spans(events: Sequence[Any], tz: ZoneInfo) -> tuple[list[dict], dict[int, str]]:
    """The alerts ``events`` raise (as ``site_alert_spans`` rows, in JSON's types), and
    ``alert id -> when`` for the alerts raised earlier that they end.

    The first acknowledgement or resolution ends an alert; later ones change nothing.
    """
    raised: dict[int, dict] = {}
    ends: dict[int, str] = {}
    for event in events:
        if event.kind != ev.ALERT_RAISED and event.kind not in ALERT_ENDS:
            continue
        details = parse_details(event.details) or {}
        alert_id = details.get("alert_id") if type(details.get("alert_id")) is int else None
        moment = moment_of(event.ts)
        if moment is None:
            continue
        if event.kind == ev.ALERT_RAISED:
            row = {
                "seq": event.seq,
                "alert_id": alert_id,
                "kind": str(details.get("alert", ""))[:40],
                "day": moment.astimezone(tz).date().isoformat(),
                "raised_at": moment.isoformat(),
                "ended_at": None,
            }
            raised[alert_id if alert_id is not None else -event.seq] = row
        elif alert_id in raised:
            if raised[alert_id]["ended_at"] is None:
                raised[alert_id]["ended_at"] = moment.isoformat()
        elif alert_id is not None:
            ends.setdefault(alert_id, moment.isoformat())
    return list(raised.values()), ends


def refresh_minutes(session: Session, site: Site, days: Iterable[date], now: datetime) -> None:
    """Count ``site``'s minutes on shift (and without a device) again for ``days``, to ``now``.

    Days counted before they ended and ended since (the shift went on after
    the last count) are counted again too, so a past day's minutes are final,
    and today if its count is older than :data:`FRESH_FOR`.
    """
    tz = site_tz(site)
    today = now.astimezone(tz).date()
    counted_on = func.date(func.timezone(tz.key, SiteDayMinutes.counted_at))
    unfinished = session.scalars(
        select(SiteDayMinutes.day).where(
            SiteDayMinutes.site_id == site.id,
            ((SiteDayMinutes.day < today) & (SiteDayMinutes.day >= counted_on))
            | ((SiteDayMinutes.day == today) & (SiteDayMinutes.counted_at < now - FRESH_FOR)),
        )
    )
    days = sorted(set(days) | set(unfinished))
    if not days:
        return
    session.execute(
        delete(SiteDayMinutes).where(
            SiteDayMinutes.site_id == site.id, SiteDayMinutes.day.in_(days)
        )
    )
    rows = [
        {
            "site_id": site.id,
            "day": day,
            "on_shift": on_shift,
            "without_device": without,
            "counted_at": now,
        }
        for day, (on_shift, without) in minutes_of_days(session, site, days, now).items()
    ]
    if rows:
        session.execute(insert(SiteDayMinutes).values(rows))


def after_snapshot(session: Session, site: Site, changed: set[date], now: datetime) -> None:
    """Keep ``site``'s totals right after a snapshot: count it all again if its zone
    changed, else the minutes of the days whose shifts ``changed``, of the days its
    batches marked, and of today if counted more than :data:`FRESH_FOR` ago."""
    if site_tz(site).key != site.totals_tz:
        recount_site(session, site, now)
    else:
        refresh_minutes(session, site, changed, now)


def recount_site(session: Session, site: Site, now: datetime) -> None:
    """Count all of ``site``'s totals again from the events the hub stores."""
    for table in (SiteDayCount, SiteAlertSpan, SiteDayMinutes):
        session.execute(delete(table).where(table.site_id == site.id))
    after = 0
    while True:
        rows = session.execute(
            select(*_EVENT_COLUMNS)
            .where(SiteEvent.site_id == site.id, SiteEvent.seq > after)
            .order_by(SiteEvent.seq)
            .limit(RECOUNT_CHUNK)
        ).all()
        if not rows:
            break
        events = [SimpleNamespace(id=row.seq, **row._asdict()) for row in rows]
        count_in(session, site, events, now, minutes=False)
        after = events[-1].seq
    shift_days = sorted(
        session.scalars(select(SiteShift.day).where(SiteShift.site_id == site.id).distinct())
    )
    for low in range(0, len(shift_days), MINUTES_CHUNK):
        refresh_minutes(session, site, shift_days[low : low + MINUTES_CHUNK], now)
    site.totals_tz = site_tz(site).key


_EVENT_COLUMNS = (
    SiteEvent.seq,
    SiteEvent.ts,
    SiteEvent.kind,
    SiteEvent.actor,
    SiteEvent.slot,
    SiteEvent.person_id,
    SiteEvent.details,
)


def shipped_rows(events: Sequence[dict[str, Any]]) -> list[SimpleNamespace]:
    """A batch's events (decoded JSON) as rows with a stored event's attributes."""
    return [
        SimpleNamespace(
            seq=e["id"],
            id=e["id"],
            ts=e["ts"],
            kind=e["kind"],
            actor=e["actor"],
            slot=e.get("slot"),
            person_id=e.get("person_id"),
            details=e.get("details"),
        )
        for e in events
    ]
