"""What the group's pages and API read: sites, alerts, overrides and one site's log.

Every read takes the caller's visible sites (``None`` = every site) and
filters in SQL, so an area manager's query never even reads another site's
rows. Log pages are keyset reads on the ``(site_id, seq)`` key, and the
overrides page reads the ``(kind, ts)`` index newest first: a page costs
the same at a million stored events as at ten million.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from hub.alerts import ALERT_KINDS, chain_broken_sites
from hub.models import HubAlert, Site, SiteEvent

#: The site events that are overrides: a person's device released outside the rules.
OVERRIDE_KINDS = (
    "grant.created",
    "grant.used",
    "approval.on_the_spot",
    "release.grant",
    "release.manager",
    "release.all",
)


@dataclass(frozen=True)
class SiteRow:
    """One line of the all-sites page and of ``GET /api/sites``."""

    name: str
    online: bool
    last_seen: datetime | None
    events: int
    chain_ok: bool
    clock_trusted: bool | None
    last_event: str
    last_event_at: str
    open_site_alerts: int
    #: Staff on shift now (not on a break), and how many of them have their device in.
    on_shift: int
    devices_in: int


def _only(stmt: Select, column: Any, visible: set[int] | None) -> Select:
    return stmt if visible is None else stmt.where(column.in_(visible))


def site_rows(
    session: Session,
    visible: set[int] | None,
    now: datetime,
    offline_after: timedelta,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[SiteRow]:
    """The visible sites with their state, by name: those after ``after``, at most ``limit``.

    A page is a keyset read of the sites' name index (no OFFSET, no COUNT), so
    the thousandth page costs what the first does.
    """
    # Each site's newest event, joined on its primary key: one index probe a site.
    newest = select(Site, SiteEvent.kind, SiteEvent.ts).outerjoin(
        SiteEvent, and_(SiteEvent.site_id == Site.id, SiteEvent.seq == Site.head_seq)
    )
    newest = _only(newest, Site.id, visible)
    if after is not None:
        newest = newest.where(Site.name > after)
    found = session.execute(newest.order_by(Site.name).limit(limit)).all()
    broken = chain_broken_sites(session)
    rows = []
    for site, kind, ts in found:
        snapshot = site.snapshot or {}
        rows.append(
            SiteRow(
                name=site.name,
                online=site.last_seen is not None and now - site.last_seen <= offline_after,
                last_seen=site.last_seen,
                events=site.events,
                chain_ok=site.id not in broken,
                clock_trusted=snapshot.get("clock_trusted"),
                last_event=kind or "",
                last_event_at=ts or "",
                open_site_alerts=len(snapshot.get("alerts", [])),
                on_shift=len(snapshot.get("on_shift", [])),
                devices_in=sum(1 for p in snapshot.get("on_shift", []) if p.get("device_in")),
            )
        )
    return rows


def site_names(session: Session, visible: set[int] | None) -> list[str]:
    """The visible sites' names, sorted."""
    return list(session.scalars(_only(select(Site.name), Site.id, visible).order_by(Site.name)))


def events_after(session: Session, site_id: int, after: int, limit: int) -> list[SiteEvent]:
    """Up to ``limit`` of the site's events with ids above ``after``, oldest first."""
    return list(
        session.scalars(
            select(SiteEvent)
            .where(SiteEvent.site_id == site_id, SiteEvent.seq > after)
            .order_by(SiteEvent.seq)
            .limit(limit)
        )
    )


def events_before(
    session: Session, site_id: int, before: int | None, limit: int
) -> list[SiteEvent]:
    """Up to ``limit`` of the site's events below ``before`` (newest first)."""
    stmt = select(SiteEvent).where(SiteEvent.site_id == site_id)
    if before is not None:
        stmt = stmt.where(SiteEvent.seq < before)
    return list(session.scalars(stmt.order_by(SiteEvent.seq.desc()).limit(limit)))


def event_json(event: SiteEvent) -> dict[str, Any]:
    """A shipped event as the API gives it (``sealed`` when its details stayed at the site)."""
    return {
        "id": event.seq,
        "ts": event.ts,
        "kind": event.kind,
        "actor": event.actor,
        "slot": event.slot,
        "person_id": event.person_id,
        "details": json.loads(event.details) if event.details is not None else None,
        "sealed": event.details is None,
        "hash": event.hash,
    }


@dataclass(frozen=True)
class AlertRow:
    """An open alert: the hub's own (chain, offline, gap) or one a site reports."""

    site: str
    kind: str
    message: str
    since: str
    safety: bool
    #: The hub's own alert's id when a group admin may acknowledge it (a chain alert).
    acknowledge_id: int | None = None


def open_alerts(
    session: Session, visible: set[int] | None, *, after: str | None = None, limit: int = 50
) -> tuple[list[AlertRow], str | None]:
    """Open alerts of the visible sites, a page of ``limit`` sites at a time by name: each
    site's own hub alerts (newest first), then the safety alerts it reports. Returns the
    rows and the name to give as ``after`` for the next page (``None`` on the last).

    A page is a keyset read of the sites with something open, after ``after``:
    no OFFSET, so the last page of a big group costs what the first does.
    """
    open_hub = (
        select(HubAlert.id)
        .where(HubAlert.site_id == Site.id, HubAlert.resolved_at.is_(None))
        .exists()
    )
    reported = func.coalesce(func.jsonb_array_length(Site.snapshot["alerts"]), 0) > 0
    stmt = _only(select(Site), Site.id, visible).where(open_hub | reported)
    if after is not None:
        stmt = stmt.where(Site.name > after)
    found = list(session.scalars(stmt.order_by(Site.name).limit(limit + 1)))
    later = found[limit - 1].name if len(found) > limit else None
    found = found[:limit]
    hub_alerts: dict[int, list[HubAlert]] = {}
    for alert in session.scalars(
        select(HubAlert)
        .where(HubAlert.site_id.in_([site.id for site in found]), HubAlert.resolved_at.is_(None))
        .order_by(HubAlert.opened_at.desc(), HubAlert.id.desc())
    ):
        hub_alerts.setdefault(alert.site_id, []).append(alert)
    rows = []
    for site in found:
        for alert in hub_alerts.get(site.id, []):
            rows.append(
                AlertRow(
                    site.name,
                    ALERT_KINDS.get(alert.kind, alert.kind),
                    alert.message,
                    alert.opened_at.strftime("%Y-%m-%d %H:%M UTC"),
                    alert.kind == "chain",
                    alert.id if alert.kind == "chain" else None,
                )
            )
        for alert in (site.snapshot or {}).get("alerts", []):
            rows.append(
                AlertRow(
                    site.name,
                    str(alert.get("kind", "")),
                    str(alert.get("message", "")),
                    str(alert.get("raised_at", "")),
                    bool(alert.get("safety", False)),
                )
            )
    return rows, later


def overrides(
    session: Session,
    visible: set[int] | None,
    *,
    site_id: int | None = None,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
    before: tuple[str, int, int] | None = None,
    limit: int = 200,
) -> list[tuple[str, SiteEvent]]:
    """Override events across the visible sites, newest first, with their site's name.

    ``before`` is the ``(ts, site_id, seq)`` of the last row of the page before:
    the next page is a keyset read from there (ties in time broken by site and id).
    """
    kinds = [kind] if kind else list(OVERRIDE_KINDS)
    # The kinds are written into the SQL, not bound, so that PostgreSQL sees they
    # match the partial indexes' condition whatever plan it keeps.
    stmt = _only(
        select(Site.name, SiteEvent).join(Site, Site.id == SiteEvent.site_id),
        SiteEvent.site_id,
        visible,
    ).where(SiteEvent.kind.in_(bindparam("kinds", kinds, expanding=True, literal_execute=True)))
    if site_id is not None:
        stmt = stmt.where(SiteEvent.site_id == site_id)
    if since:
        stmt = stmt.where(SiteEvent.ts >= since)
    if until:
        stmt = stmt.where(SiteEvent.ts < until)
    if before is not None:
        stmt = stmt.where(tuple_(SiteEvent.ts, SiteEvent.site_id, SiteEvent.seq) < tuple_(*before))
    stmt = stmt.order_by(SiteEvent.ts.desc(), SiteEvent.site_id.desc(), SiteEvent.seq.desc()).limit(
        limit
    )
    return [(name, event) for name, event in session.execute(stmt)]
