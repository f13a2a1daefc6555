"""Fixtures for the tests here: the panel's own (``tests/support/panel_fixtures.py``), and
the daemon stepped by hand on a :class:`~tests.support.bench.Bench` (``bench``, and ``held``
with Alice's phone locked in slot 1).

The panel runs on a migrated SQLite file with a simulated clock; the fake
daemon (a real :class:`~locker.controller.Controller` on the same database)
carries out each command as soon as the panel asks, without threads.
"""

from __future__ import annotations

import pytest

from tests.support.bench import ALICE, Bench
from tests.support.panel_fixtures import (  # noqa: F401 - pytest finds fixtures by name here
    accounts,
    app,
    auth,
    cheap_password_hashes,
    client,
    clock,
    config,
    daemon,
    db,
    people,
    token,
)


@pytest.fixture
def bearer(request) -> dict[str, str]:
    """The ``Authorization`` header of a manager's API token (the ``token`` fixture's)."""
    return request.getfixturevalue("token")("manager")


@pytest.fixture
def bench(tmp_path):
    bench = Bench(tmp_path)
    yield bench
    bench.close()


@pytest.fixture
def held(bench):
    """Alice's phone is locked in slot 1."""
    bench.go_to("07:55")
    bench.deposit(ALICE, 1)
    return bench
