"""Debounce on an expander pin: a door switch that bounces as it shuts gives one change,
as it would on a native pin. The pins' ticks follow the simulated clock, so the
bounce window is crossed by moving the clock, never by waiting."""

from __future__ import annotations

import tomllib

import pytest
from fixtures_devices import clock

from hardware.devices import DoorSwitch
from hardware.expander_sim import SimulatedExpanders
from hardware.expanders import expander_factory
from hardware.pins import SimulatedPinFactory
from locker.config import default_config_text, parse_config

__all__ = ["clock"]  # a fixture, imported for pytest to find

BOUNCE_S = 0.05
DOOR = "mcp0:B0"


class ClockedPins(SimulatedPinFactory):
    """The simulated board, its ticks on the simulated clock (gpiozero's debounce reads them)."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def ticks(self):  # noqa: ANN201 - gpiozero's signature
        return self.clock.monotonic()

    def ticks_diff(self, later, earlier):  # noqa: ANN001, ANN201 - gpiozero's signature
        return later - earlier


@pytest.fixture
def wired(clock):
    """A door switch on expander line B0 with debounce, and the wire side of that line."""
    raw = tomllib.loads(default_config_text())
    raw["hardware"] = {"backend": "simulated"}
    raw["expanders"] = [{"name": "mcp0", "address": 0x20, "interrupt_pin": 4}]
    raw["slots"][0].update(lock_pin="mcp0:A0", door_pin=DOOR, sensor_pin="mcp0:B1")
    config = parse_config(raw)
    base = ClockedPins(clock)
    sim = SimulatedExpanders(config, base)
    factory = expander_factory(config, base, sim.buses, clock.monotonic)
    door = DoorSwitch(DOOR, pin_factory=factory, bounce_time=BOUNCE_S)
    seen: list[bool] = []
    door.on_change(seen.append)
    yield door, sim.line(DOOR), seen
    door.close()
    factory.close()


def test_a_bouncing_door_switch_gives_one_change(wired, clock):
    door, wire, seen = wired
    wire.wire(True)  # open, and settled
    clock.advance(1)
    seen.clear()
    # Shutting: the contact bounces five times within a few milliseconds.
    for level in (False, True, False, True, False):
        wire.wire(level)
        clock.advance(0.002)
    assert seen == [True]  # one change: closed
    assert door.is_closed  # and the level read is the settled one


def test_changes_further_apart_than_the_window_all_count(wired, clock):
    door, wire, seen = wired
    wire.wire(True)
    clock.advance(1)
    seen.clear()
    for level in (False, True, False):
        wire.wire(level)
        clock.advance(BOUNCE_S * 2)
    assert seen == [True, False, True]
    assert door.is_closed
