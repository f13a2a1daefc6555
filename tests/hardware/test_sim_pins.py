"""The simulated pin board is as big as the config needs (it was 128 GPIOs, 32 slots)."""

from __future__ import annotations

import pytest
from fixtures_devices import demo_config
from gpiozero import DigitalInputDevice, GPIOPinInUse

from hardware.devices import build_bank
from hardware.pins import SIM_GPIO_LIMIT, SimulatedPinFactory
from locker.clock import SimulatedClock
from locker.errors import HardwareError
from tests.support.timers import FakeTimers


@pytest.mark.parametrize("slots", [32, 33, 100])
def test_a_bank_of_any_size_builds_on_the_simulated_board(slots):
    config = demo_config(slots)
    pin_factory = SimulatedPinFactory()
    bank = build_bank(config, pin_factory, SimulatedClock(), timer_factory=FakeTimers())
    try:
        last = config.slots[-1]
        assert len(bank.slots) == slots
        assert pin_factory.pin(last.led_pin).function == "output"
        pin_factory.pin(last.door_pin).drive_high()
    finally:
        bank.close()
        pin_factory.close()


def test_a_pin_beyond_the_first_board_is_still_reserved_once():
    pin_factory = SimulatedPinFactory()
    first = DigitalInputDevice(300, pin_factory=pin_factory)
    try:
        with pytest.raises(GPIOPinInUse):
            DigitalInputDevice("GPIO300", pin_factory=pin_factory)
    finally:
        first.close()
        pin_factory.close()


def test_a_mistyped_huge_pin_is_an_error_not_a_huge_board():
    pin_factory = SimulatedPinFactory()
    with pytest.raises(HardwareError, match=str(SIM_GPIO_LIMIT)):
        pin_factory.pin(10**9)
