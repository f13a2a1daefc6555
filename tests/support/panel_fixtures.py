"""Fixtures for the panel: an app on a migrated SQLite file, accounts, a fake daemon.

Used by ``tests/web`` and ``tests/reliability`` (their conftests import them).

The fake daemon is a real :class:`~locker.controller.Controller` on the same
database and simulated clock; it carries out each command as soon as the
panel would start waiting for it, so actions run end to end without threads.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from locker.accounts import add_account, create_token
from locker.clock import SimulatedClock
from locker.config import Config
from locker.db import Database, migrate
from tests.support.nursery import add_on_shift
from tests.support.panel import (
    PASSWORDS,
    SECRET,
    AuthActions,
    FakeDaemon,
    World,
    at,
    make_config,
)
from web import create_app


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """Real argon2id hashes at the lowest cost, so a hundred logins take no time."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr("locker.accounts._hasher", cheap)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(at("07:30"))


@pytest.fixture
def config(tmp_path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def db(config):
    database = Database(config.db_url)
    migrate(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def accounts(db, clock):
    """A manager, a viewer and an admin; their usernames are their roles."""
    with db.write() as session:
        for role, password in PASSWORDS.items():
            add_account(session, role, role, password, at=clock.now(), actor="test")
        session.commit()
    return PASSWORDS


@pytest.fixture
def app(config, db, clock, accounts):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET}, config=config, clock=clock)
    yield app
    app.extensions["locker_db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def quick_app(config, db, clock, accounts):
    """The panel with a short wait for the write lock, as a test can afford."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": SECRET, "LOCKER_DB_BUSY_TIMEOUT_S": 0.1},
        config=config,
        clock=clock,
    )
    yield app
    app.extensions["locker_db"].dispose()


@pytest.fixture
def token(db, clock, accounts):
    """``token(username)``: the ``Authorization`` header of a new API token for that account."""

    def make(username: str = "manager") -> dict[str, str]:
        with db.write() as session:
            value = create_token(session, username, at=clock.now(), actor="test")
            session.commit()
        return {"Authorization": f"Bearer {value}"}

    return make


@pytest.fixture
def people(db, clock):
    """Alice and Bob (staff, badges, 08:00-16:00 with a break at noon); Mary (manager)."""
    with db.write() as session:
        ids = {
            name: add_on_shift(session, name, uid, role, now=clock.now(), shift=role == "staff")
            for name, uid, role in (
                ("Alice", "A1A1A1A1", "staff"),
                ("Bob", "B0B0B0B0", "staff"),
                ("Mary", "4D4D4D4D", "manager"),
            )
        }
        session.commit()
    return ids


@pytest.fixture
def daemon(config, db, clock, people, monkeypatch) -> FakeDaemon:
    fake = FakeDaemon(config, db, clock)
    monkeypatch.setattr("web.commands.wait_for_command", fake.wait_for_command)
    return fake


@pytest.fixture
def world(config, db, clock, people, monkeypatch, tmp_path) -> World:
    """The real daemon on simulated hardware, running each command the panel sends."""
    simulated = World(config, db, clock, tmp_path)
    monkeypatch.setattr("web.commands.wait_for_command", simulated.wait_for_command)
    yield simulated
    simulated.close()
