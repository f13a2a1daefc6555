"""docs/log-migration.md's procedure for a site that shipped to a hub before migration 0006,
tried end to end: the upgraded site is refused and alerted, then registered again it ships.

0006 (and 0007) give the events they move a new hash; the hub holds the old ones, so it
refuses the site's next batch (409, "site's log does not continue its history"). The
procedure: register the site again under a new name and give it the new token; the
whole upgraded log ships there and verifies, and the old name keeps what it had until
it is removed, names in clear with it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.accounts import add_site, remove_site
from hub.ingest import DOES_NOT_CONTINUE
from hub.models import HubAlert, Site, SiteEvent
from locker import events as ev
from locker.decisions import LogEntry
from locker.log import append, verify, write_checkpoint
from locker.log import chain as chain_module
from locker.models import Event
from locker_app.hub_sync import HubRefused
from tests.support.hub import Site as SiteLog
from tests.support.hub import serving

NAME = "Ben Early"


@pytest.fixture
def old_site(tmp_path, clock, monkeypatch):
    """A site at revision 0005 whose log its release wrote: a name in clear in the details."""
    site = SiteLog(tmp_path / "oak", clock, revision="0005")
    with monkeypatch.context() as patch:
        # The release's append, which hashed details as given.
        patch.setattr(chain_module, "private_entry", lambda session, entry, event_id: entry)
        with site.db.write() as session:
            append(session, LogEntry(ev.SYSTEM_STARTED, "daemon", details={}), clock.now())
            changed = LogEntry(ev.CONFIG_CHANGED, "cli:root", None, 1, {"name": NAME})
            append(session, changed, clock.now())
            write_checkpoint(session, clock.now())
            session.commit()
        site.log(5)
    return site


def stored(hub_db, site: str) -> list[tuple[int, str]]:
    with hub_db.session() as s:
        return [
            tuple(r)
            for r in s.execute(
                select(SiteEvent.seq, SiteEvent.hash)
                .join(Site, Site.id == SiteEvent.site_id)
                .where(Site.name == site)
                .order_by(SiteEvent.seq)
            )
        ]


def site_log(site: SiteLog) -> list[tuple[int, str]]:
    with site.db.read() as session:
        return [tuple(r) for r in session.execute(select(Event.id, Event.hash).order_by(Event.id))]


def test_a_site_shipping_before_0006_ships_again_under_a_new_registration(
    hub_db, sites, old_site, clock
):
    with serving(hub_db, clock) as hub:
        before = old_site.worker(hub.url, sites["oak"])
        assert before.run_once().shipped == 8
        shipped_before = site_log(old_site)
        assert stored(hub_db, "oak") == shipped_before

        old_site.upgrade()  # 0006 and 0007 move the events: new hashes
        with old_site.db.read() as session:
            assert verify(session).ok
        moved = site_log(old_site)
        assert moved != shipped_before
        old_site.log(2)  # the upgraded site goes on logging
        with pytest.raises(HubRefused):
            old_site.worker(hub.url, sites["oak"]).run_once()
        with hub_db.session() as s:
            alert = s.scalar(select(HubAlert.message).where(HubAlert.resolved_at.is_(None)))
        assert alert is not None and DOES_NOT_CONTINUE in alert

        # The procedure: a new registration, its token in the site's [hub] config.
        with hub_db.session() as s:
            token = add_site(s, "oak-upgraded", clock.now())
        report = old_site.worker(hub.url, token).run_once()
        assert report.shipped == len(site_log(old_site)) == 10
        assert stored(hub_db, "oak-upgraded") == site_log(old_site)
        assert stored(hub_db, "oak") == shipped_before  # the old name keeps what it had
        with hub_db.session() as s:
            oak = s.scalar(select(Site).where(Site.name == "oak-upgraded"))
            assert oak.head_seq == 10

    # Step 5: the old name goes, and with it the name its release shipped in clear.
    # (The new registration holds it beside the chain, where an erasure reaches it.)
    assert in_clear(hub_db) == ["oak"]
    with hub_db.session() as s:
        remove_site(s, "oak")
    assert in_clear(hub_db) == []
    assert stored(hub_db, "oak-upgraded") == site_log(old_site)


def in_clear(hub_db) -> list[str]:
    """The sites whose stored events hold the name itself, not a commitment to it."""
    with hub_db.session() as s:
        return list(
            s.scalars(
                select(Site.name)
                .join(SiteEvent, SiteEvent.site_id == Site.id)
                .where(SiteEvent.details.contains(NAME))
                .distinct()
            )
        )
