"""Fixtures for the badge reader: an emulated MFRC522, the real driver on it, a simulated clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware.mfrc522_emulator import MFRC522Emulator
from hardware.reader import BadgeReader, Mfrc522Factory
from hardware.sim_reader import emulated_driver_factory
from locker.clock import SimulatedClock

RESET_PIN = 25


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


@pytest.fixture
def chip() -> MFRC522Emulator:
    return MFRC522Emulator()


@pytest.fixture
def driver_factory(chip: MFRC522Emulator) -> Mfrc522Factory:
    return emulated_driver_factory(chip, reset_pin=RESET_PIN)


@pytest.fixture
def driver(driver_factory: Mfrc522Factory):
    """The real ``mfrc522.MFRC522`` driver, initialised, talking to ``chip``."""
    return driver_factory()


@pytest.fixture
def reader(driver_factory: Mfrc522Factory, clock: SimulatedClock) -> Iterator[BadgeReader]:
    badge_reader = BadgeReader(driver_factory, clock)
    yield badge_reader
    badge_reader.close()
