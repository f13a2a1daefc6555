"""Hub alerts: one open alert per site and kind, resolved when the cause goes away."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import HubAlert, Site

ALERT_KINDS = {
    "chain": "log does not continue",
    "offline": "site offline",
    "gap": "events purged before shipping",
}


def open_alert(session: Session, site_id: int, kind: str, message: str, at: datetime) -> None:
    """Open a ``kind`` alert for the site unless one is open already."""
    already = session.scalar(
        select(HubAlert.id).where(
            HubAlert.site_id == site_id, HubAlert.kind == kind, HubAlert.resolved_at.is_(None)
        )
    )
    if already is None:
        session.add(HubAlert(site_id=site_id, kind=kind, message=message, opened_at=at))
        session.flush()


def resolve_alerts(session: Session, site_id: int, kind: str, at: datetime) -> None:
    """Resolve the site's open ``kind`` alerts (the cause has gone)."""
    session.execute(
        update(HubAlert)
        .where(HubAlert.site_id == site_id, HubAlert.kind == kind, HubAlert.resolved_at.is_(None))
        .values(resolved_at=at)
    )


def sweep_offline(session: Session, now: datetime, offline_after: timedelta) -> int:
    """Open an ``offline`` alert for every site silent for longer than ``offline_after``.

    A site never heard from counts from when it was added. Returns how many
    sites are offline.
    """
    cutoff = now - offline_after
    silent = session.scalars(
        select(Site).where(
            (Site.last_seen < cutoff) | (Site.last_seen.is_(None) & (Site.created_at < cutoff))
        )
    ).all()
    for site in silent:
        since = site.last_seen or site.created_at
        open_alert(
            session,
            site.id,
            "offline",
            f"{site.name} has not been heard from since {since:%Y-%m-%d %H:%M} UTC",
            now,
        )
    return len(silent)


def chain_broken_sites(session: Session) -> set[int]:
    """Sites with an open ``chain`` alert: their log did not continue its history."""
    rows = session.scalars(
        select(HubAlert.site_id).where(HubAlert.kind == "chain", HubAlert.resolved_at.is_(None))
    )
    return set(rows)
