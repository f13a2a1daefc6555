"""Fixtures for the controller core tests."""

from __future__ import annotations

import pytest

from locker.clock import SimulatedClock
from tests.locker.kit import MONDAY, Bank, at, make_config, make_roster


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(at(MONDAY, "07:30"))


@pytest.fixture
def bank(clock) -> Bank:
    return Bank(make_config(), make_roster(), clock)
