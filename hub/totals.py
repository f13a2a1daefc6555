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

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, DateTime, column, delete, func, select, update, values
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


def count_in(
    session: Session, site: Site, events: Sequence[Any], now: datetime, *, minutes: bool = True
) -> None:
    """Add ``events`` (new to the hub, in log order) to ``site``'s totals; with
    ``minutes``, count again the minutes of the days their custody events touch."""
    tz = site_tz(site)
    counts = day_counts(events, tz)
    if counts:
        stmt = insert(SiteDayCount).values(
            [
                {"site_id": site.id, "day": day, "measure": measure, "key": key, "n": n}
                for (day, measure, key), n in counts.items()
            ]
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["site_id", "day", "measure", "key"],
                set_={"n": SiteDayCount.n + stmt.excluded.n},
            )
        )
    _spans_in(session, site.id, events, tz)
    if not minutes:
        return
    touched = set()
    for event in events:
        if event.kind in TIMELINE_KINDS and event.person_id is not None:
            day = local_day(event.ts, tz)
            # Where a device stood at midnight carries into the next day's minutes.
            touched.update({day, day + timedelta(days=1)} if day else ())
    if touched:
        # Counting minutes runs each person's timeline: too slow for the batch's
        # transaction (a week's backlog ran at a third of the rate). The days are
        # marked to count again: the site's next snapshot, a minute later, does it,
        # and the report counts a marked day itself until then.
        session.execute(
            update(SiteDayMinutes)
            .where(SiteDayMinutes.site_id == site.id, SiteDayMinutes.day.in_(sorted(touched)))
            .values(counted_at=NOT_COUNTED)
        )


def _spans_in(session: Session, site_id: int, events: Sequence[Any], tz: ZoneInfo) -> None:
    raised, ends = [], []
    for event in events:
        if event.kind != ev.ALERT_RAISED and event.kind not in ALERT_ENDS:
            continue
        details = parse_details(event.details) or {}
        alert_id = details.get("alert_id") if type(details.get("alert_id")) is int else None
        moment = moment_of(event.ts)
        if moment is None:
            continue
        if event.kind == ev.ALERT_RAISED:
            raised.append(
                {
                    "site_id": site_id,
                    "seq": event.seq,
                    "alert_id": alert_id,
                    "kind": str(details.get("alert", ""))[:40],
                    "day": moment.astimezone(tz).date(),
                    "raised_at": moment,
                }
            )
        elif alert_id is not None:
            ends.append((alert_id, moment))
    if raised:
        session.execute(insert(SiteAlertSpan).values(raised).on_conflict_do_nothing())
    first_ends: dict[int, datetime] = {}
    for alert_id, moment in ends:
        # The first acknowledgement or resolution ends it; later ones change nothing.
        first_ends.setdefault(alert_id, moment)
    if first_ends:
        ending = values(
            column("alert_id", BigInteger), column("ended", DateTime(timezone=True)), name="ends"
        ).data(list(first_ends.items()))
        session.execute(
            update(SiteAlertSpan)
            .where(
                SiteAlertSpan.site_id == site_id,
                SiteAlertSpan.alert_id == ending.c.alert_id,
                SiteAlertSpan.ended_at.is_(None),
            )
            .values(ended_at=ending.c.ended)
        )


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
