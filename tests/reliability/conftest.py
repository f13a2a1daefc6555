"""Fixtures for the panel tests here: the panel's own (``tests/web/fixtures.py``).

The panel runs on a migrated SQLite file with a simulated clock; the fake
daemon (a real :class:`~locker.controller.Controller` on the same database)
carries out each command as soon as the panel asks, without threads.
"""

from __future__ import annotations

import pytest

from tests.web.fixtures import (  # noqa: F401 - pytest finds fixtures by name here
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
