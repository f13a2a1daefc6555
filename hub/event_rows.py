"""Shipped events as the hub's pages show them: in the panel's words, at the site's time.

A site's own log page says "Emergency release" and "for: a family emergency"
at the nursery's local time; the hub shows the same events, so it says them
the same way (:func:`web.log_rows.event_row`), with the names the hub may
hold (:class:`hub.people.Names`). Two things differ from the site: details a
site kept to itself (sealed) are said to be so, and a panel account's user
name is not shipped, so such an actor reads as a panel account.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Site, SiteEvent
from hub.people import Names, ShownEvent
from hub.shifts import site_tz
from locker.log.personal import ACCOUNT_ACTOR, ACTOR_KEY, FORMER_ACTOR, FORMER_STAFF
from web.log_rows import event_row

#: Details a site keeps to itself (not shipped to the hub).
SEALED = "(sealed at the site)"
#: How an event done through a panel account reads: its user name stays at the site.
ACCOUNT = "A manager's panel account"


def log_rows(session: Session, site: Site, events: Sequence[SiteEvent]) -> list[dict[str, Any]]:
    """One site's shipped ``events`` as rows of its log page."""
    names = Names(session, site.id).load(events)
    tz = site_tz(site)
    return [_row(event, names, tz) for event in events]


def override_rows(
    session: Session, rows: Sequence[tuple[str, SiteEvent]]
) -> list[tuple[str, dict[str, Any]]]:
    """``(site name, event)`` rows of several sites as rows of the overrides page."""
    ids = sorted({event.site_id for _, event in rows})
    sites = session.scalars(select(Site).where(Site.id.in_(ids))).all() if ids else []
    zones = {site.id: site_tz(site) for site in sites}
    by_site: dict[int, list[SiteEvent]] = {}
    for _, event in rows:
        by_site.setdefault(event.site_id, []).append(event)
    names = Names.for_sites(session, by_site)
    return [
        (name, _row(event, names[event.site_id], zones.get(event.site_id, ZoneInfo("UTC"))))
        for name, event in rows
    ]


def _row(event: SiteEvent, names: Names, tz: ZoneInfo) -> dict[str, Any]:
    shown = names.shown(event)
    if shown.details is not None and event.actor in (ACCOUNT_ACTOR, FORMER_ACTOR):
        # The account's (or leaver's) name is the actor, not a detail to show again.
        shown = _without_actor(shown)
    people = {event.person_id: names.name_of(event.person_id)} if event.person_id else {}
    row = event_row(shown, people, tz)
    if shown.details is None:
        row["summary"] = SEALED
    row["actor"] = _actor(shown.actor)
    return row


def _actor(actor: str) -> str:
    if actor == ACCOUNT_ACTOR:
        return ACCOUNT
    if actor == FORMER_ACTOR:
        return FORMER_STAFF
    return actor


def _without_actor(shown: ShownEvent) -> ShownEvent:
    details = json.loads(shown.details)
    if isinstance(details, dict):
        details.pop(ACTOR_KEY, None)
    return dataclasses.replace(shown, details=json.dumps(details))
