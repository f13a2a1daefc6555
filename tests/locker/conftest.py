"""Fixtures for the controller core tests."""

from __future__ import annotations

import pytest

from locker.clock import SimulatedClock
from locker.db import Database, migrate
from tests.locker.kit import MONDAY, Bank, at, make_config, make_roster


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(at(MONDAY, "07:30"))


@pytest.fixture
def bank(clock) -> Bank:
    return Bank(make_config(), make_roster(), clock)


@pytest.fixture
def db(tmp_path) -> Database:
    """A migrated SQLite file database, disposed of afterwards."""
    database = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    migrate(database.engine)
    yield database
    database.dispose()
