"""Fixtures for the panel tests here, built as ``tests/web/conftest.py`` builds them.

The panel runs on a migrated SQLite file with a simulated clock; the fake
daemon (a real :class:`~locker.controller.Controller` on the same database)
carries out each command as soon as the panel asks, without threads.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from locker.accounts import add_account, create_token
from locker.clock import SimulatedClock
from locker.db import Database, migrate
from locker.people import add_person
from locker.rota import set_shift
from tests.web.kit import MONDAY, PASSWORDS, SECRET, AuthActions, FakeDaemon, at, make_config
from web import create_app


@pytest.fixture
def cheap_hashes(monkeypatch):
    """Real argon2id hashes at the lowest cost, so hundreds of logins take no time."""
    monkeypatch.setattr("locker.accounts._hasher", PasswordHasher(1, 8, 1))


@pytest.fixture
def web_clock() -> SimulatedClock:
    """The panel's clock (sessions, logins, throttling)."""
    return SimulatedClock(at("07:30"))


@pytest.fixture
def web_config(tmp_path):
    return make_config(tmp_path)


@pytest.fixture
def web_db(web_config):
    database = Database(web_config.db_url)
    migrate(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def accounts(cheap_hashes, web_db, web_clock):
    """A manager, a viewer and an admin; their user names are their roles."""
    with web_db.write() as session:
        for role, password in PASSWORDS.items():
            add_account(session, role, role, password, at=web_clock.now(), actor="test")
        session.commit()
    return PASSWORDS


@pytest.fixture
def app(web_config, web_db, web_clock, accounts):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET}, config=web_config, clock=web_clock)
    yield app
    app.extensions["locker_db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def bearer(web_db, web_clock, accounts) -> dict[str, str]:
    """The ``Authorization`` header of a manager's API token."""
    with web_db.write() as session:
        value = create_token(session, "manager", at=web_clock.now(), actor="test")
        session.commit()
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def people(web_db, web_clock):
    """Alice and Bob (staff, 08:00-16:00, a break at noon) and Mary (manager)."""
    ids = {}
    with web_db.write() as session:
        for name, uid, role in (
            ("Alice", "A1A1A1A1", "staff"),
            ("Bob", "B0B0B0B0", "staff"),
            ("Mary", "4D4D4D4D", "manager"),
        ):
            person = add_person(
                session, name, role=role, badge=uid, at=web_clock.now(), actor="test"
            )
            ids[name] = person.id
        for name in ("Alice", "Bob"):
            set_shift(
                session,
                ids[name],
                MONDAY,
                at("08:00"),
                at("16:00"),
                [(at("12:00"), at("12:30"))],
                at=web_clock.now(),
                actor="test",
            )
        session.commit()
    return ids


@pytest.fixture
def daemon(web_config, web_db, web_clock, people, monkeypatch) -> FakeDaemon:
    fake = FakeDaemon(web_config, web_db, web_clock)
    monkeypatch.setattr("web.commands.wait_for_command", fake.wait_for_command)
    return fake
