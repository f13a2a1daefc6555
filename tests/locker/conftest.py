"""Fixtures for the controller core tests: the rules on a simulated clock (``bank``), a
migrated database, the controller on it with Alice and Mary on shift, and the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from locker.clock import SimulatedClock
from locker.controller import Controller
from locker.db import Database, migrate
from locker.decisions import SensorReading
from locker_app.cli import main
from tests.support.nursery import MONDAY, Bank, add_on_shift, at, make_config, make_roster


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


@pytest.fixture
def people(db, clock) -> dict[str, int]:
    """Alice (staff) and Mary (the manager), both on the nursery's Monday shift."""
    with db.write() as session:
        ids = {
            "alice": add_on_shift(session, "Alice", "A1A1A1A1", now=clock.now()),
            "mary": add_on_shift(session, "Mary", "4D4D4D4D", "manager", now=clock.now()),
        }
        session.commit()
    return ids


@pytest.fixture
def config():
    return make_config()


@pytest.fixture
def controller(config, db, clock, people) -> Controller:
    """The controller on ``db``, started with every door shut and every slot empty."""
    ctl = Controller(config, db, clock)
    ctl.start({s.number: SensorReading(False, False) for s in config.slots})
    return ctl


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``cli(*args)``: ``locker`` run in-process on a fresh ``locker init`` in ``tmp_path``."""
    monkeypatch.setenv("LOCKER_CONFIG", str(tmp_path / "config.toml"))
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    assert run("init").exit_code == 0
    return run
