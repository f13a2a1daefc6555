"""Hub fixtures: one real PostgreSQL cluster per run, a fresh database per test.

PostgreSQL is a real part here: when its server is not installed the hub
tests fail (never skip) and say how to install it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from hub.accounts import add_account, add_site, create_token
from hub.app import create_app
from hub.cluster import ThrowawayCluster
from hub.db import HubDatabase
from locker.clock import SimulatedClock
from tests.support.hub import PASSWORD, Site, hub_config, start_cluster, utc

_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayCluster]:
    cluster = start_cluster()
    template = HubDatabase(cluster.create_database("hub_template"))
    template.migrate()
    template.dispose()
    yield cluster
    cluster.stop()


@pytest.fixture
def hub_db(pg_cluster) -> Iterator[HubDatabase]:
    name = f"hub_{next(_numbers)}"
    db = HubDatabase(pg_cluster.create_database(name, template="hub_template"))
    yield db
    db.dispose()


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """Real argon2id hashes at the lowest cost, so logins take no time."""
    monkeypatch.setattr("locker.accounts._hasher", PasswordHasher(1, 8, 1))


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(utc("2026-03-02T07:00"))


@pytest.fixture
def sites(hub_db, clock) -> dict[str, str]:
    """Two registered sites, ``oak`` and ``elm``: name -> token."""
    with hub_db.session() as s:
        return {name: add_site(s, name, clock.now()) for name in ("oak", "elm")}


@pytest.fixture
def hub_accounts(hub_db, sites, clock) -> dict[str, str]:
    """A group admin and an area manager of ``oak`` only: name -> API token."""
    with hub_db.session() as s:
        add_account(s, "gina", "group_admin", PASSWORD, [], clock.now())
        add_account(s, "arthur", "area_manager", PASSWORD, ["oak"], clock.now())
    with hub_db.session() as s:
        return {name: create_token(s, name, clock.now()) for name in ("gina", "arthur")}


@pytest.fixture
def hub_app(hub_db, clock):
    return create_app(
        hub_config(str(hub_db.engine.url)),
        hub_db,
        clock=clock,
        secret_key="test " * 8,
        test_config={"TESTING": True},
    )


@pytest.fixture
def site_factory(tmp_path, clock):
    """Make a site's real (SQLite) log: ``site_factory("oak")``."""
    return lambda name: Site(tmp_path / name, clock)
