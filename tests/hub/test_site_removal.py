"""Removing a site from the hub: a setting that closed, or the old name of a site
registered again after its upgrade (docs/log-migration.md), goes with everything
the hub holds of it, and nothing of another site goes with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from hub.accounts import find_site, remove_site
from hub.alerts import sweep_offline
from hub.models import HubAccount
from locker.errors import NotFound
from tests.support.hub import serving

# From PostgreSQL's own catalogue, not from the models: a table a migration adds
# with a site column but the removal does not know of is found here.
SITE_TABLES = text(
    """
    SELECT DISTINCT kcu.table_name, kcu.column_name
    FROM information_schema.table_constraints tc
    JOIN information_schema.key_column_usage kcu
      ON kcu.constraint_name = tc.constraint_name
    JOIN information_schema.constraint_column_usage ccu
      ON ccu.constraint_name = tc.constraint_name
    WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'sites'
    ORDER BY 1
    """
)


def held(hub_db, site_id: int) -> dict[str, int]:
    """Rows of each table that refers to a site, for site ``site_id``."""
    with hub_db.session() as s:
        tables = s.execute(SITE_TABLES).all()
        return {
            table: s.scalar(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": site_id}
            )
            for table, column in tables
        }


@pytest.fixture
def shipped(hub_db, sites, hub_accounts, site_factory, clock) -> dict[str, int]:
    """Both sites shipped a log naming someone, then fell silent (an alert each); the
    area manager sees oak. Site name -> id."""
    with serving(hub_db, clock) as hub:
        for name in sites:
            site = site_factory(name)
            site.log(6, name="Ben Early")
            assert site.worker(hub.url, sites[name]).run_once().shipped == 6
    clock.advance(3 * 3600)
    with hub_db.session() as s:
        assert sweep_offline(s, clock.now(), timedelta(minutes=10)) == 2
        return {name: find_site(s, name).id for name in sites}


def test_removing_a_site_deletes_all_the_hub_holds_of_it_and_nothing_else(hub_db, shipped):
    oak, elm = held(hub_db, shipped["oak"]), held(hub_db, shipped["elm"])
    for table in ("site_events", "site_personal_values", "hub_alerts", "hub_account_sites"):
        assert oak[table] > 0, table  # the removal has something to remove

    with hub_db.session() as s:
        removed = remove_site(s, "oak")

    assert removed == oak  # every table with a site column, each row counted
    assert set(held(hub_db, shipped["oak"]).values()) == {0}
    assert held(hub_db, shipped["elm"]) == elm
    with hub_db.session() as s:
        with pytest.raises(NotFound, match="no site called 'oak'"):
            find_site(s, "oak")
        # The area manager stays (a group admin gives her another site).
        assert s.scalar(select(HubAccount.name).where(HubAccount.name == "arthur"))


def test_removing_a_site_that_is_not_there_names_it(hub_db, sites):
    with hub_db.session() as s, pytest.raises(NotFound, match="no site called 'ash'"):
        remove_site(s, "ash")
