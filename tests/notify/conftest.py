"""Fixtures for notifications: a real SMTP server and HTTP receiver on loopback,
a migrated database and a config whose ``[notify]`` points at them."""

from __future__ import annotations

import pytest

from locker.clock import SimulatedClock
from locker.db import Database, migrate
from locker.notify_policy import Destination
from tests.support.nursery import MONDAY, at, notify_config
from tests.support.receivers import HttpReceiver, SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = HttpReceiver()
    yield server
    server.stop()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(at(MONDAY, "10:00"))


@pytest.fixture
def config(tmp_path, smtp, receiver):
    return notify_config(
        tmp_path,
        Destination("office-email", smtp.url(), ("all",)),
        Destination("hook", receiver.url(), ("safety",)),
        quiet_hours="20:00-07:00",
    )


@pytest.fixture
def db(config):
    database = Database(config.db_url)
    migrate(database.engine)
    yield database
    database.dispose()
