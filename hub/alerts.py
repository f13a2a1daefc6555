"""Hub alerts: one open alert per site and kind, resolved when the cause goes away."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import HubAlert, Site
from locker.errors import Conflict, InvalidRequest, NotFound

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


def acknowledge(session: Session, alert_id: int, by: str, note: str, at: datetime) -> HubAlert:
    """Resolve open ``chain`` alert ``alert_id``: a group admin looked, and says what they found.

    Only a chain alert is acknowledged by hand; an ``offline`` alert resolves
    itself when the site is heard from again, a ``gap`` alert stays as the record.
    """
    alert = session.get(HubAlert, alert_id)
    if alert is None:
        raise NotFound(f"no hub alert {alert_id}")
    if alert.kind != "chain":
        what = ALERT_KINDS.get(alert.kind, alert.kind)
        raise InvalidRequest(f"only a chain alert is acknowledged by hand, not {what!r}")
    if alert.resolved_at is not None:
        raise Conflict(
            f"alert {alert_id} was resolved already, by {alert.resolved_by or 'the hub'}"
        )
    alert.resolved_at, alert.resolved_by, alert.note = at, by, note
    return alert
