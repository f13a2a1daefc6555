"""Expander lines as gpiozero pins: the same device tests on native and expander pins,
inputs by interrupt, a missed edge caught, an expander that stops answering."""

from __future__ import annotations

import tomllib

import pytest
from fixtures_devices import clock, timers
from gpiozero import GPIOPinInUse
from gpiozero.exc import PinInvalidPull

from hardware.devices import DeviceSensor, DoorSwitch, SlotLock
from hardware.expander_sim import SimulatedExpanders
from hardware.expanders import expander_factory
from hardware.pins import SimulatedPinFactory
from locker.config import default_config_text, parse_config

__all__ = ["clock", "timers"]  # fixtures, imported for pytest to find


def expander_config():
    raw = tomllib.loads(default_config_text())
    raw["hardware"] = {"backend": "simulated"}
    raw["expanders"] = [{"name": "mcp0", "address": 0x20, "interrupt_pin": 4}]
    raw["slots"][0].update(lock_pin="mcp0:A0", door_pin="mcp0:B0", sensor_pin="mcp0:B1")
    return parse_config(raw)


class Board:
    """Pins to build devices on, and the wire side of those pins, native or expander."""

    def __init__(self, kind: str, clock):
        self.base = SimulatedPinFactory()
        self.sim = None
        if kind == "native":
            self.factory = self.base
            self.names = {"lock": 17, "door": 5, "sensor": 16}
        else:
            config = expander_config()
            self.sim = SimulatedExpanders(config, self.base)
            self.factory = expander_factory(config, self.base, self.sim.buses, clock.monotonic)
            self.names = {"lock": "mcp0:A0", "door": "mcp0:B0", "sensor": "mcp0:B1"}

    def wire(self, role: str):
        name = self.names[role]
        return self.base.pin(name) if self.sim is None else self.sim.line(name)

    def close(self):
        self.factory.close()


@pytest.fixture(params=["native", "expander"])
def board(request, clock):
    board = Board(request.param, clock)
    yield board
    board.close()


@pytest.fixture
def expander(clock):
    board = Board("expander", clock)
    yield board
    board.close()


def make_lock(board, clock, timers, lock_type="pulse"):
    return SlotLock(
        board.names["lock"],
        lock_type=lock_type,
        unlock_pulse_s=0.5,
        max_energised_s=2.0,
        clock=clock,
        pin_factory=board.factory,
        timer_factory=timers,
    )


# The contract: the same device behaviour on either kind of pin.


@pytest.mark.parametrize(("lock_type", "safe_level"), [("pulse", False), ("hold", True)])
def test_a_lock_starts_safe(board, clock, timers, lock_type, safe_level):
    lock = make_lock(board, clock, timers, lock_type)
    assert board.wire("lock").function == "output"
    assert bool(board.wire("lock").state) is safe_level
    lock.close()


def test_a_pulse_energises_then_ends_on_the_clock(board, clock, timers):
    lock = make_lock(board, clock, timers)
    assert lock.unlock()
    assert board.wire("lock").state
    clock.advance(0.6)
    lock.update()
    assert not board.wire("lock").state
    assert board.wire("lock").rises == 1
    lock.close()


def test_a_closed_lock_lets_go_of_its_line(board, clock, timers):
    make_lock(board, clock, timers).close()
    assert board.wire("lock").function == "input"


def test_a_door_switch_reads_and_calls_back(board):
    door = DoorSwitch(board.names["door"], pin_factory=board.factory)
    seen = []
    door.on_change(seen.append)
    board.wire("door").wire(False)
    assert door.is_closed
    board.wire("door").wire(True)
    assert not door.is_closed
    assert seen == [True, False]
    door.close()


def test_a_sensor_reads_a_device(board):
    sensor = DeviceSensor(board.names["sensor"], pin_factory=board.factory)
    board.wire("sensor").wire(False)
    assert sensor.is_present
    sensor.close()


def test_a_pin_in_use_is_refused(board):
    door = DoorSwitch(board.names["door"], pin_factory=board.factory)
    with pytest.raises(GPIOPinInUse):
        DoorSwitch(board.names["door"], pin_factory=board.factory)
    door.close()


# Expander only: interrupts, bus cost, faults.


def test_an_edge_costs_one_transaction_and_an_idle_bank_none(expander, clock):
    door = DoorSwitch("mcp0:B0", pin_factory=expander.factory)
    before = expander.sim.transactions
    expander.wire("door").wire(False)
    assert expander.sim.transactions - before == 1
    before = expander.sim.transactions
    for _ in range(100):
        assert door.is_closed
    clock.advance(1)
    expander.factory.update()
    assert expander.sim.transactions == before
    door.close()


def test_the_consistency_read_is_one_transaction_per_expander_every_check(expander, clock):
    DoorSwitch("mcp0:B0", pin_factory=expander.factory)
    before = expander.sim.transactions
    for _ in range(60):
        clock.advance(1)
        expander.factory.update()
    assert expander.sim.transactions - before == 60 // expander.factory.check_s


def test_a_missed_edge_is_caught_by_the_consistency_read(expander):
    door = DoorSwitch("mcp0:B0", pin_factory=expander.factory)
    seen = []
    door.on_change(seen.append)
    # The interrupt wire is cut: the Pi never hears of the next change.
    expander.sim.cut.add(4)
    expander.wire("door").wire(False)
    assert seen == []
    expander.factory.check()
    assert seen == [True]
    door.close()


def test_an_expander_that_stops_answering_is_a_fault_and_comes_back(expander, clock, timers):
    faults = []
    expander.factory.on_fault = faults.append
    lock = make_lock(expander, clock, timers, "hold")
    chip = expander.sim.chips["mcp0"]
    chip.disconnect()
    lock.unlock()  # the write fails on the bus: a fault, not a crash
    assert faults
    assert not expander.factory.answering("mcp0")
    assert len(faults) == 1 and "mcp0" in faults[0] and "unknown" in faults[0]
    chip.reconnect()  # power-on state: every line an input, the lock let go
    assert expander.wire("lock").function == "input"
    expander.factory.check()
    assert expander.factory.answering("mcp0")
    # Re-initialised as the driver left it: a hold lock is driven again.
    assert expander.wire("lock").function == "output"
    lock.close()


def test_a_reset_expander_is_reinitialised_and_reported(expander, clock, timers):
    faults = []
    expander.factory.on_fault = faults.append
    lock = make_lock(expander, clock, timers, "hold")
    expander.sim.chips["mcp0"].reset()
    expander.factory.check()
    assert expander.wire("lock").state is True
    assert faults and "re-initialised" in faults[0]
    lock.close()


def test_an_expander_has_no_pull_down(expander):
    pin = expander.factory.pin("mcp0:B3")
    with pytest.raises(PinInvalidPull):
        pin.pull = "down"
