"""The gpiozero-backed slot devices, status lights and bank, on mock pins."""

from __future__ import annotations

import pytest
from fixtures_devices import clock, default_config, demo_config, factory, timers
from gpiozero import GPIOPinInUse
from gpiozero.pins.mock import MockFactory

from hardware.devices import (
    PATTERNS,
    DeviceSensor,
    DoorSwitch,
    SlotLED,
    SlotLock,
    StatusLights,
    build_bank,
)
from hardware.pins import (
    SimulatedPin,
    SimulatedPinFactory,
    load_pin_factory,
    make_pin_factory,
)
from locker.config import HardwareConfig
from locker.errors import HardwareError

__all__ = ["clock", "factory", "timers"]  # fixtures, imported for pytest to find


def make_lock(factory, clock, timers, *, lock_type="pulse", active_high=True, pin=17):
    return SlotLock(
        pin,
        lock_type=lock_type,
        unlock_pulse_s=0.5,
        max_energised_s=2.0,
        active_high=active_high,
        clock=clock,
        pin_factory=factory,
        timer_factory=timers,
    )


# Pin factories


def test_simulated_factory_has_gpios_beyond_the_pi_header():
    pin_factory = make_pin_factory(HardwareConfig(backend="simulated"))
    assert isinstance(pin_factory, SimulatedPinFactory)
    for name in (0, 40, 127, "GPIO99", "BCM64"):
        assert isinstance(pin_factory.pin(name), SimulatedPin)
    assert pin_factory.pin(40) is pin_factory.pin("GPIO40")
    pin_factory.close()


def test_simulated_factory_grows_for_a_pin_beyond_its_board():
    pin_factory = SimulatedPinFactory()
    low = pin_factory.pin(5)
    assert isinstance(pin_factory.pin(128), SimulatedPin)
    assert pin_factory.pin("GPIO700") is pin_factory.pin(700)
    assert pin_factory.pin(5) is low  # pins made on the smaller board stay
    with pytest.raises(ValueError, match="nosuch"):
        pin_factory.pin("nosuch")


def test_gpio_backend_loads_gpiozero_factory_by_name():
    pin_factory = make_pin_factory(HardwareConfig(backend="gpio", pin_factory="mock"))
    assert type(pin_factory) is MockFactory
    pin_factory.close()


def test_unknown_pin_factory_is_named():
    with pytest.raises(HardwareError, match="'nosuch'"):
        load_pin_factory("nosuch")


def test_default_factory_falls_through_to_one_that_works(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr("hardware.pins.DEFAULT_FACTORY_ORDER", ("nosuch", "mock"))
    assert type(make_pin_factory(HardwareConfig(backend="gpio"))) is MockFactory


def test_empty_factory_name_honours_gpiozero_environment(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert type(make_pin_factory(HardwareConfig(backend="gpio"))) is MockFactory


def test_default_factory_names_every_failure(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr("hardware.pins.DEFAULT_FACTORY_ORDER", ("nosuch", "lgpio"))
    with pytest.raises(HardwareError, match="'nosuch'.*'lgpio'"):
        make_pin_factory(HardwareConfig(backend="gpio"))


def test_simulated_pin_counts_edges_and_wiring_beats_the_pull(factory):
    pin = factory.pin(50)
    pin.wire(False)
    door = DoorSwitch(50, pin_factory=factory)
    assert door.is_closed, "the pull-up must not override a switch holding the pin low"
    pin.wire(True)
    pin.wire(False)
    assert (pin.rises, pin.falls) == (2, 2)  # pull-up then switch, then the wire() pair
    door.close()


# SlotLock: start-up


@pytest.mark.parametrize(
    ("lock_type", "active_high", "level"),
    [
        ("pulse", True, False),
        ("pulse", False, True),
        ("hold", True, True),
        ("hold", False, False),
    ],
)
def test_lock_starts_locked_safe(factory, clock, timers, lock_type, active_high, level):
    lock = make_lock(factory, clock, timers, lock_type=lock_type, active_high=active_high)
    assert lock.energised is (lock_type == "hold")
    assert not lock.driven_open
    assert factory.pin(17).state == level
    assert lock.unlock_count == 0


def test_active_low_pulse_lock_never_energises_at_start(factory, clock, timers):
    pin = factory.pin(17)
    pin.clear_states()
    make_lock(factory, clock, timers, active_high=False)
    # Only one change: from the idle input level straight to high (off).
    pin.assert_states([False, True])
    assert len(pin.states) == 2


# SlotLock: pulse


def test_pulse_lasts_unlock_pulse_s_on_the_clock(factory, clock, timers):
    lock = make_lock(factory, clock, timers)
    pin = factory.pin(17)
    assert lock.unlock()
    assert pin.state and lock.energised and lock.driven_open
    clock.advance(0.49)
    lock.update()
    assert lock.energised
    clock.advance(0.01)
    lock.update()
    assert not lock.energised
    pin.assert_states([False, True, False])
    assert timers.last.cancelled, "the hard-cap timer goes once the pulse ends"


def test_pulse_respects_active_low(factory, clock, timers):
    lock = make_lock(factory, clock, timers, active_high=False)
    pin = factory.pin(17)
    lock.unlock()
    assert lock.energised and pin.state is False
    clock.advance(0.5)
    lock.update()
    assert not lock.energised and pin.state is True


def test_hard_cap_timer_ends_a_pulse_when_the_loop_hangs(factory, clock, timers):
    lock = make_lock(factory, clock, timers)
    lock.unlock()
    timer = timers.last
    assert timer.interval == 2.0 and timer.started and timer.daemon
    # Nobody calls update() and the clock does not move: only the timer acts.
    timer.fire()
    assert not lock.energised
    assert factory.pin(17).state is False


def test_stale_hard_cap_timer_does_not_cut_a_newer_pulse(factory, clock, timers):
    lock = make_lock(factory, clock, timers)
    lock.unlock()
    first = timers.last
    clock.advance(0.5)
    lock.update()
    lock.unlock()
    # The first timer lost the race with its cancel() and runs anyway.
    first.function()
    assert lock.energised
    timers.last.fire()
    assert not lock.energised


def test_unlock_during_a_pulse_does_not_lengthen_it(factory, clock, timers):
    lock = make_lock(factory, clock, timers)
    assert lock.unlock()
    clock.advance(0.3)
    assert not lock.unlock()
    clock.advance(0.2)
    lock.update()
    assert not lock.energised
    assert lock.unlock_count == 1
    assert len(timers.made) == 1


def test_lock_ends_a_pulse_at_once(factory, clock, timers):
    lock = make_lock(factory, clock, timers)
    lock.unlock()
    lock.lock()
    assert not lock.energised
    assert timers.last.cancelled


def test_unlock_count_counts_each_pulse(factory, clock, timers):
    lock = make_lock(factory, clock, timers)
    for _ in range(3):
        lock.unlock()
        clock.advance(1)
        lock.update()
    assert lock.unlock_count == 3
    factory.pin(17).assert_states([False, True, False, True, False, True, False])


def test_pulse_longer_than_the_cap_is_refused(factory, clock, timers):
    with pytest.raises(ValueError, match="max_energised_s"):
        SlotLock(
            17,
            lock_type="pulse",
            unlock_pulse_s=3.0,
            max_energised_s=2.0,
            clock=clock,
            pin_factory=factory,
            timer_factory=timers,
        )


# SlotLock: hold


@pytest.mark.parametrize("active_high", [True, False])
def test_hold_lock_opens_by_de_energising(factory, clock, timers, active_high):
    lock = make_lock(factory, clock, timers, lock_type="hold", active_high=active_high)
    pin = factory.pin(17)
    assert lock.unlock()
    assert not lock.energised and lock.driven_open
    assert pin.state is (not active_high)
    clock.advance(60)
    lock.update()
    assert not lock.energised, "a hold lock stays open until told to lock"
    assert not lock.unlock()
    lock.lock()
    assert lock.energised and not lock.driven_open
    assert pin.state is active_high
    assert lock.unlock_count == 1
    assert timers.made == [], "a hold lock has no pulse to cap"


@pytest.mark.parametrize(("lock_type", "level"), [("pulse", False), ("hold", True)])
def test_close_leaves_the_lock_safe(factory, clock, timers, lock_type, level):
    lock = make_lock(factory, clock, timers, lock_type=lock_type)
    lock.unlock()
    lock.close()
    lock.close()  # idempotent
    assert factory.pin(17).state is level
    assert factory.pin(17).function == "input"


# Inputs


@pytest.mark.parametrize(("cls", "prop"), [(DoorSwitch, "is_closed"), (DeviceSensor, "is_present")])
def test_input_reads_low_as_active_and_calls_back(factory, cls, prop):
    device = cls(5, pin_factory=factory)
    pin = factory.pin(5)
    assert pin.pull == "up"
    assert getattr(device, prop) is False, "pulled up: open door / no device"
    seen = []
    device.on_change(seen.append)
    pin.drive_low()
    assert getattr(device, prop) is True
    pin.drive_high()
    pin.drive_high()  # no edge, no call
    assert seen == [True, False]
    device.on_change(None)
    pin.drive_low()
    assert seen == [True, False]
    device.close()


def test_input_passes_bounce_time_to_the_pin(factory):
    DoorSwitch(5, pin_factory=factory, bounce_time=0.05)
    assert factory.pin(5).bounce == 0.05


def test_closed_input_stops_calling_back(factory):
    door = DoorSwitch(5, pin_factory=factory)
    seen = []
    door.on_change(seen.append)
    door.close()
    factory.pin(5).drive_low()
    assert seen == []


def test_slot_led(factory):
    led = SlotLED(9, pin_factory=factory)
    pin = factory.pin(9)
    assert not led.is_lit and pin.state is False
    led.on()
    led.toggle()
    led.toggle()
    led.off()
    pin.assert_states([False, True, False, True, False])
    led.close()
    led.close()


# Status lights


@pytest.fixture
def lights(factory, clock):
    status = StatusLights(24, 26, 18, clock=clock, pin_factory=factory)
    yield status
    status.close()


class Timeline:
    """Looks at the lights at given offsets from when a signal was shown."""

    def __init__(self, lights, clock):
        self.lights = lights
        self.clock = clock
        self.start = clock.monotonic()

    def at(self, offset):
        """Tick the lights at ``offset`` seconds (ticks move forward only) and read them."""
        self.clock.advance(self.start + offset - self.clock.monotonic())
        self.lights.update()
        return self.lights.state()


def show(lights, clock, signal):
    lights.show(signal)
    return Timeline(lights, clock)


OFF = {"green": False, "red": False, "buzzer": False}


def test_lights_start_off(lights, factory):
    assert lights.state() == OFF
    for pin in (24, 26, 18):
        assert factory.pin(pin).state is False


def test_granted_is_green_for_two_seconds_and_one_beep(lights, clock, factory):
    seen = show(lights, clock, "granted")
    assert lights.state() == {"green": True, "red": False, "buzzer": True}
    assert seen.at(0.05) == {"green": True, "red": False, "buzzer": True}
    assert seen.at(0.15) == {"green": True, "red": False, "buzzer": False}
    assert seen.at(1.95) == {"green": True, "red": False, "buzzer": False}
    assert seen.at(2.05) == OFF
    factory.pin(18).assert_states([False, True, False])
    assert len(factory.pin(18).states) == 3


def test_refused_is_red_for_two_seconds_and_two_beeps(lights, clock, factory):
    seen = show(lights, clock, "refused")
    beeps = [seen.at(t)["buzzer"] for t in (0.05, 0.15, 0.25, 0.35, 1.0)]
    assert beeps == [True, False, True, False, False]
    assert seen.at(1.95) == {"green": False, "red": True, "buzzer": False}
    assert seen.at(2.05) == OFF
    factory.pin(18).assert_states([False, True, False, True, False])
    assert len(factory.pin(18).states) == 5
    factory.pin(26).assert_states([False, True, False])
    assert len(factory.pin(24).states) == 1, "green never lit"


def test_steps_missed_by_a_slow_loop_still_happen_in_order(lights, clock, factory):
    seen = show(lights, clock, "refused")
    assert seen.at(5) == OFF
    factory.pin(18).assert_states([False, True, False, True, False])
    assert len(factory.pin(18).states) == 5


def test_deposited_is_green_for_one_second(lights, clock, factory):
    seen = show(lights, clock, "deposited")
    assert seen.at(0.95) == {"green": True, "red": False, "buzzer": False}
    assert seen.at(1.05) == OFF
    assert len(factory.pin(18).states) == 1, "no beep"


def test_alert_keeps_red_until_cleared(lights, clock):
    seen = show(lights, clock, "alert")
    assert lights.state() == {"green": False, "red": True, "buzzer": True}
    assert seen.at(0.95)["buzzer"], "the alert beep is long"
    assert seen.at(1.05) == {"green": False, "red": True, "buzzer": False}
    assert seen.at(3600) == {"green": False, "red": True, "buzzer": False}
    assert lights.alert
    seen = show(lights, clock, "granted")
    assert lights.state() == {"green": True, "red": False, "buzzer": True}
    assert seen.at(2.05) == {"green": False, "red": True, "buzzer": False}, "red comes back"
    lights.show("clear")
    assert lights.state() == OFF
    assert not lights.alert


@pytest.mark.parametrize("signal", ["clear", "idle"])
def test_clear_and_idle_switch_everything_off(lights, signal):
    lights.show("refused")
    lights.show(signal)
    assert lights.state() == OFF


def test_unknown_signal_is_refused(lights):
    with pytest.raises(ValueError, match="'party'"):
        lights.show("party")


def test_lights_close_switches_off(factory, clock):
    status = StatusLights(24, 26, 18, clock=clock, pin_factory=factory)
    status.show("alert")
    status.close()
    status.close()
    for pin in (24, 26, 18):
        assert factory.pin(pin).state is False


def test_every_pattern_lasts_at_most_two_seconds():
    for steps in PATTERNS.values():
        assert sum(step[0] for step in steps) <= 2.0


# The bank


def test_build_bank_from_the_default_config(factory, clock, timers):
    config = default_config()
    bank = build_bank(config, factory, clock, timer_factory=timers)
    try:
        assert sorted(bank.slots) == [1, 2, 3, 4]
        slot = bank.slots[2]
        assert slot.number == 2 and slot.led is None
        factory.pin(config.slot(2).door_pin).drive_low()
        assert slot.door.is_closed
        factory.pin(config.slot(2).sensor_pin).drive_low()
        assert slot.sensor.is_present
        slot.lock.unlock()
        assert factory.pin(config.slot(2).lock_pin).state is True
        clock.advance(0.5)
        bank.update()
        assert factory.pin(config.slot(2).lock_pin).state is False
        bank.lights.show("deposited")
        assert factory.pin(config.bank.green_led_pin).state is True
    finally:
        bank.close()


def test_build_bank_over_twenty_simulated_slots(clock, timers):
    config = demo_config(20, lock_type="hold")
    pin_factory = make_pin_factory(config.hardware)
    bank = build_bank(config, pin_factory, clock, timer_factory=timers)
    try:
        assert sorted(bank.slots) == list(range(1, 21))
        assert max(s.lock_pin for s in config.slots) > 27
        for number, slot in bank.slots.items():
            assert slot.lock.energised, f"hold lock {number} starts locked"
            assert slot.led is not None and not slot.led.is_lit
        bank.slots[20].lock.unlock()
        assert pin_factory.pin(config.slot(20).lock_pin).state is False
    finally:
        bank.close()
    for slot in config.slots:
        assert pin_factory.pin(slot.lock_pin).state is True


def test_bank_close_leaves_locks_safe_even_when_a_close_raises(factory, clock, timers, monkeypatch):
    config = demo_config(3)
    bank = build_bank(config, factory, clock, timer_factory=timers)
    for slot in bank.slots.values():
        slot.lock.unlock()

    def broken_close():
        raise OSError("pin driver gone")

    monkeypatch.setattr(bank.slots[1].door, "close", broken_close)
    with pytest.raises(OSError, match="pin driver gone"):
        bank.close()
    for slot in config.slots:
        assert factory.pin(slot.lock_pin).state is False
        assert factory.pin(slot.lock_pin).function == "input", "every lock was released"
    assert factory.pin(config.slot(3).door_pin).function == "input"
    assert factory.pin(config.bank.green_led_pin).function == "input"


def test_bank_close_still_closes_pins_when_making_safe_fails(factory, clock, timers, monkeypatch):
    bank = build_bank(demo_config(2), factory, clock, timer_factory=timers)

    def broken_safe():
        raise OSError("relay board fault")

    monkeypatch.setattr(bank.slots[1].lock, "safe", broken_safe)
    with pytest.raises(OSError, match="relay board fault"):
        bank.close()
    config = demo_config(2)
    assert factory.pin(config.slot(2).lock_pin).state is False
    for slot in config.slots:
        assert factory.pin(slot.lock_pin).function == "input"
        assert factory.pin(slot.door_pin).function == "input"


def test_failed_build_releases_what_was_built(factory, clock, timers):
    config = demo_config(2)
    squatter = DoorSwitch(config.slot(2).sensor_pin, pin_factory=factory)
    with pytest.raises(GPIOPinInUse):
        build_bank(config, factory, clock, timer_factory=timers)
    squatter.close()
    # Everything the failed build took is free again.
    bank = build_bank(config, factory, clock, timer_factory=timers)
    bank.close()


def test_the_bank_is_busy_only_while_a_pulse_or_a_pattern_needs_the_loop(factory, clock, timers):
    bank = build_bank(default_config(), factory, clock, timer_factory=timers)
    try:
        assert not bank.busy  # the daemon may then wait longer between passes
        bank.slots[1].lock.unlock()
        assert bank.busy and bank.slots[1].lock.pulsing
        clock.advance(0.5)
        bank.update()
        assert not bank.busy
        bank.lights.show("granted")
        assert bank.busy and bank.lights.showing
        clock.advance(2.1)
        bank.update()
        assert not bank.busy
    finally:
        bank.close()
