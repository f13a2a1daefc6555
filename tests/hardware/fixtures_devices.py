"""Fixtures for the device and simulated-world tests: a mock board, a clock, fake timers.

Imported explicitly by the test modules that use them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import pytest

from hardware.pins import SimulatedPinFactory
from locker.clock import SimulatedClock
from locker.config import Config, default_config_text, parse_config
from tests.support.timers import FakeTimer, FakeTimers  # noqa: F401 - fixtures use them


@pytest.fixture
def factory() -> Iterator[SimulatedPinFactory]:
    """A fresh simulated board, closed after the test."""
    pin_factory = SimulatedPinFactory()
    yield pin_factory
    pin_factory.close()


@pytest.fixture
def clock() -> SimulatedClock:
    """Simulated time: tests advance it rather than sleep."""
    return SimulatedClock()


@pytest.fixture
def timers() -> FakeTimers:
    """Hard-cap timers that tests fire by hand."""
    return FakeTimers()


def default_config(**hardware: str) -> Config:
    """The config ``locker init`` writes, optionally with other ``[hardware]`` keys."""
    raw = tomllib.loads(default_config_text())
    raw["hardware"].update(hardware)
    return parse_config(raw)


def demo_config(slots: int = 20, *, lock_type: str = "pulse", active_high: bool = True) -> Config:
    """A simulated bank of ``slots`` slots, four pins each, above GPIO27."""
    raw = tomllib.loads(default_config_text())
    raw["hardware"] = {"backend": "simulated"}
    raw["lock"]["type"] = lock_type
    if lock_type == "hold":
        raw["lock"]["fail_state"] = "open"
    raw["lock"]["active_high"] = active_high
    raw["slots"] = [
        {
            "number": n,
            "kind": "staff" if n <= slots - 2 else "visitor",
            "lock_pin": 30 + 4 * n,
            "door_pin": 31 + 4 * n,
            "sensor_pin": 32 + 4 * n,
            "led_pin": 33 + 4 * n,
        }
        for n in range(1, slots + 1)
    ]
    return parse_config(raw)
