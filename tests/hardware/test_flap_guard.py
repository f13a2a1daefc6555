"""The flap guard: one input's changes passed on until it flaps, then one fault and quiet."""

from __future__ import annotations

import logging
from functools import partial

import pytest
from fixtures_devices import clock, demo_config, factory, timers

from hardware.backend import Backend
from hardware.flap import (
    CLEAR_S,
    MAX_CHANGES,
    SETTLE_S,
    WINDOW_S,
    FlapGuard,
    door_guard,
    sensor_guard,
)
from locker.decisions import DeviceChanged, DoorChanged, Fault, HardwareRecovered

__all__ = ["clock", "factory", "timers"]  # fixtures, used by name


class Wire:
    """An input, flipped by the test, and what its guard sent on.

    ``value`` is in the rules' terms; the wire stands in for a door switch
    (``value``: open) or a device sensor (``value``: present).
    """

    def __init__(self, value: bool = False):
        self.value = value
        self.sent: list[object] = []

    @property
    def is_closed(self) -> bool:
        return not self.value

    @property
    def is_present(self) -> bool:
        return self.value

    def flip(self, guard: FlapGuard, times: int = 1) -> None:
        """Change the input ``times`` times, telling the guard each time."""
        for _ in range(times):
            self.value = not self.value
            guard.changed(self.value)

    def faults(self) -> list[Fault]:
        return [e for e in self.sent if isinstance(e, Fault)]

    def readings(self) -> list[object]:
        return [e for e in self.sent if not isinstance(e, Fault)]

    def take(self) -> list[object]:
        """What was sent since the last call."""
        sent = list(self.sent)
        self.sent.clear()
        return sent


def door(wire: Wire, clock) -> FlapGuard:
    """Slot 1's door switch guard over ``wire``, passing on to ``wire.sent``."""
    guard = door_guard(1, wire, clock)
    guard.start(wire.sent.append)
    return guard


def sensor(wire: Wire, clock) -> FlapGuard:
    """Slot 2's device sensor guard over ``wire``, passing on to ``wire.sent``."""
    guard = sensor_guard(2, wire, clock)
    guard.start(wire.sent.append)
    return guard


def test_changes_under_the_threshold_all_pass_through(clock):
    wire = Wire()
    guard = door(wire, clock)
    wire.flip(guard, MAX_CHANGES)  # all at once, but no more than allowed
    assert wire.take() == [DoorChanged(1, n % 2 == 0) for n in range(MAX_CHANGES)]
    assert not guard.flapping


def test_a_brisk_person_never_trips_it(clock):
    # Open, shut, open, shut: four changes a second for a minute.
    wire = Wire()
    guard = door(wire, clock)
    for _ in range(240):
        wire.flip(guard)
        clock.advance(0.25)
        guard.update()
    assert len(wire.readings()) == 240 and not wire.faults()


def test_the_window_slides_with_the_clock(clock):
    # MAX_CHANGES changes every window, back to back: never more than that in any one.
    wire = Wire()
    guard = sensor(wire, clock)
    for _ in range(5):
        wire.flip(guard, MAX_CHANGES)
        clock.advance(WINDOW_S)
    assert len(wire.readings()) == 5 * MAX_CHANGES and not wire.faults()


def test_crossing_the_threshold_raises_one_fault_and_holds_the_rest_back(clock, caplog):
    wire = Wire(value=True)
    guard = sensor(wire, clock)
    with caplog.at_level(logging.WARNING, logger="hardware.flap"):
        wire.flip(guard, 500)
    assert guard.flapping
    assert wire.readings() == [DeviceChanged(2, n % 2 == 1) for n in range(MAX_CHANGES)]
    assert wire.faults() == [
        Fault(
            "slot 2 device sensor",
            f"flapping, {MAX_CHANGES + 1} changes in 1 s; ignored until it settles",
            slot=2,
        )
    ]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "slot 2 device sensor: flapping" in caplog.text


def test_a_flapping_door_is_taken_as_shut(clock):
    wire = Wire(value=True)
    guard = door(wire, clock)
    wire.flip(guard, MAX_CHANGES)  # shut, open, ... open: the rules last heard "open"
    wire.take()
    wire.flip(guard, 50)
    fault, shut = wire.take()
    assert "taken as shut" in fault.message
    assert shut == DoorChanged(1, False)
    assert guard.reading() is False  # what a reconciliation reads meanwhile
    wire.value = True
    assert guard.reading() is False


def test_a_door_already_shut_for_the_rules_is_not_told_again(clock):
    wire = Wire()
    guard = door(wire, clock)
    wire.flip(guard, MAX_CHANGES)  # open, shut, ... shut
    wire.take()
    wire.flip(guard, 50)
    assert [type(e) for e in wire.take()] == [Fault]


def test_settling_reports_the_current_state_once(clock, caplog):
    wire = Wire()
    guard = sensor(wire, clock)
    wire.flip(guard, 101)  # ends with a device present
    wire.take()
    clock.advance(SETTLE_S - 0.5)
    guard.update()
    assert wire.take() == [] and guard.flapping  # not still long enough yet
    with caplog.at_level(logging.INFO, logger="hardware.flap"):
        clock.advance(0.5)
        guard.update()
    assert wire.take() == [DeviceChanged(2, True)]
    assert not guard.flapping
    assert "slot 2 device sensor settled" in caplog.text and "holding a device" in caplog.text
    for _ in range(3):
        clock.advance(SETTLE_S)
        guard.update()
    assert wire.take() == []


def test_a_change_during_the_flap_restarts_the_settle_time(clock):
    wire = Wire()
    guard = door(wire, clock)
    wire.flip(guard, 100)
    clock.advance(SETTLE_S - 1)
    wire.flip(guard)  # one more twitch: the door now reads open
    clock.advance(SETTLE_S - 1)
    guard.update()
    assert guard.flapping
    wire.take()
    clock.advance(1)
    guard.update()
    assert wire.take() == [DoorChanged(1, True)]


def test_settling_reports_even_a_state_the_rules_already_hold(clock):
    # The rules ignore a reading they already hold; a resync that is sure beats a clever one.
    wire = Wire()
    guard = door(wire, clock)
    wire.flip(guard, 100)  # ends shut, as the rules were told
    wire.take()
    clock.advance(SETTLE_S)
    guard.update()
    assert wire.take() == [DoorChanged(1, False)]


def flap_and_settle(wire: Wire, guard: FlapGuard, clock) -> None:
    """The input flaps, then is still until the flap is over; forget what was sent."""
    wire.flip(guard, 100)
    clock.advance(SETTLE_S)
    guard.update()
    wire.take()


def test_a_second_flap_before_the_fault_is_over_is_the_same_fault(clock):
    wire = Wire()
    guard = sensor(wire, clock)
    flap_and_settle(wire, guard, clock)
    clock.advance(60)
    wire.flip(guard, MAX_CHANGES)  # the first changes after a flap pass again
    assert len(wire.readings()) == MAX_CHANGES and not wire.faults()
    wire.flip(guard, 100)
    assert guard.flapping and not wire.faults()  # a burst of the same fault, no new alert


def test_the_fault_is_over_once_the_input_has_not_flapped_for_the_clear_time(clock):
    wire = Wire()
    guard = door(wire, clock)
    flap_and_settle(wire, guard, clock)  # the clear time runs from the settling
    clock.advance(CLEAR_S - 1)
    wire.flip(guard, 2)  # a person opens and shuts the door: not a flap
    guard.update()
    assert not recoveries(wire.take())
    clock.advance(1)
    guard.update()
    (over,) = recoveries(wire.take())
    assert over == HardwareRecovered(
        "slot 1 door switch", why="the slot 1 door switch has not flapped for 10 minutes"
    )
    clock.advance(CLEAR_S)
    guard.update()
    assert wire.take() == []  # over once
    wire.flip(guard, 100)
    assert len(wire.faults()) == 1  # a flap after that is a new fault


def test_a_flap_restarts_the_clear_time(clock):
    wire = Wire()
    guard = sensor(wire, clock)
    flap_and_settle(wire, guard, clock)
    clock.advance(CLEAR_S - 60)
    flap_and_settle(wire, guard, clock)  # flapping again before it was over
    clock.advance(CLEAR_S - 1)
    guard.update()
    assert not recoveries(wire.take())
    clock.advance(1)
    guard.update()
    assert len(recoveries(wire.take())) == 1


def test_a_start_reports_a_fault_left_by_the_last_run_over_after_the_clear_time(clock):
    wire = Wire()
    guard = sensor(wire, clock)  # started: it cannot know what the last run left open
    clock.advance(CLEAR_S)
    guard.update()
    assert len(recoveries(wire.take())) == 1


def recoveries(sent: list[object]) -> list[HardwareRecovered]:
    return [e for e in sent if isinstance(e, HardwareRecovered)]


def test_two_inputs_are_independent(clock):
    door_wire, sensor_wire = Wire(), Wire()
    door_switch, device_sensor = door(door_wire, clock), sensor(sensor_wire, clock)
    door_wire.flip(door_switch, 200)
    sensor_wire.flip(device_sensor, 3)
    assert door_switch.flapping and not device_sensor.flapping
    assert sensor_wire.take() == [DeviceChanged(2, v) for v in (True, False, True)]
    assert len(door_wire.faults()) == 1


@pytest.mark.parametrize(
    "limits", [{"window_s": 0}, {"settle_s": -1}, {"clear_s": 0}, {"max_changes": 0}], ids=str
)
def test_nonsense_limits_are_refused(clock, limits):
    with pytest.raises(ValueError):
        FlapGuard(
            "slot 1 door switch",
            1,
            read=lambda: False,
            make_input=partial(DoorChanged, 1),
            clock=clock,
            words=("shut", "open"),
            **limits,
        )


# ------------------------------------------------------------ through the backend


@pytest.fixture
def backend(tmp_path, factory, clock, timers):
    backend = Backend.from_config(
        demo_config(2),
        clock,
        data_dir=tmp_path,
        pin_factory=factory,
        timer_factory=timers,
        reader_clock=clock,
    )
    yield backend
    backend.close()


def toggle(pin, times: int) -> None:
    for _ in range(times):
        if pin.state:
            pin.drive_low()
        else:
            pin.drive_high()


def test_the_backend_guards_each_door_and_sensor_on_its_own(backend, factory, clock):
    config = demo_config(2)
    sent: list[object] = []
    backend.start(sent.append, reader_thread=False)
    door_1 = factory.pin(config.slot(1).door_pin)
    toggle(door_1, 301)  # starts shut (low), ends open
    toggle(factory.pin(config.slot(1).sensor_pin), 2)  # empty: a device goes in, comes out
    toggle(factory.pin(config.slot(2).door_pin), 2)
    faults = [e for e in sent if isinstance(e, Fault)]
    assert [(f.component, f.slot) for f in faults] == [("slot 1 door switch", 1)]
    assert sent[-4:] == [
        DeviceChanged(1, True),
        DeviceChanged(1, False),
        DoorChanged(2, True),
        DoorChanged(2, False),
    ]
    # A reconciliation meanwhile (a restart) takes the flapping door as shut.
    assert door_1.state and backend.read_sensors()[1].door_open is False
    sent.clear()
    clock.advance(SETTLE_S)
    backend.update()
    assert sent == [DoorChanged(1, True)]
    assert backend.read_sensors()[1].door_open is True
