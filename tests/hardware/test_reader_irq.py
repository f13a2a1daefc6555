"""IRQ mode: the reader waits for the MFRC522's IRQ pin and never reads CommIrqReg."""

from __future__ import annotations

import logging
import threading
import tomllib

import pytest

from hardware.backend import Backend
from hardware.mfrc522_emulator import COM_IRQ_REG, EmulatedCard, MFRC522Emulator
from hardware.pins import SimulatedPinFactory
from hardware.reader import BadgeReader, CardPresented, ReaderFault, ReaderRecovered
from hardware.reader_irq import IrqLine
from hardware.sim_reader import SimulatedReaderBench, emulated_driver_factory
from locker.config import default_config_text, parse_config
from locker.decisions import BadgeRead

IRQ_PIN = 4
UID_4 = "04A1B2C3"
UID_7 = "04112233445566"
UID_10 = "04112233445566778899"


@pytest.fixture
def pins():
    pin_factory = SimulatedPinFactory()
    yield pin_factory
    pin_factory.close()


@pytest.fixture
def bench(clock, pins):
    made = SimulatedReaderBench(clock, irq_pin=IRQ_PIN, pin_factory=pins)
    yield made
    made.close()


def poll_for(reader, clock, seconds: float) -> list:
    events = []
    for _ in range(round(seconds / 0.1)):
        events += reader.poll()
        clock.advance(0.1)
    return events


def test_an_empty_poll_reads_no_interrupt_register(bench, clock):
    bench.poll()
    chip = bench.chip
    transfers, irq_reads = chip.transfers, chip.register_reads[COM_IRQ_REG]
    assert poll_for(bench, clock, 1.0) == []
    assert chip.register_reads[COM_IRQ_REG] == irq_reads
    # Seven writes send REQA, the pin says it is over, one write ends it and
    # one read of FIFOLevelReg tells an answer from the timer.
    assert chip.transfers - transfers == 10 * 9


@pytest.mark.parametrize("uid", [UID_4, UID_7, UID_10])
def test_cards_of_every_size_are_read_once_and_rest_for_free(bench, clock, uid):
    bench.poll()
    bench.present(uid)
    assert poll_for(bench, clock, 0.2) == [CardPresented(uid)]
    chip = bench.chip
    transfers, irq_reads = chip.transfers, chip.register_reads[COM_IRQ_REG]
    assert poll_for(bench, clock, 10.0) == []
    # The driver's own calls read CommIrqReg; a resting card makes none of them.
    assert chip.register_reads[COM_IRQ_REG] == irq_reads
    assert (chip.transfers - transfers) / 10.0 <= 10 * 9 + 1  # an empty field's, health included
    bench.remove()
    poll_for(bench, clock, 1.5)
    bench.present(uid)
    assert poll_for(bench, clock, 0.3) == [CardPresented(uid)]


def test_an_unwired_irq_pin_is_logged_once_and_cards_still_read(clock, pins, caplog):
    chip = MFRC522Emulator()  # its IRQ pin is connected to nothing
    reader = BadgeReader(emulated_driver_factory(chip), clock, irq_pin=IRQ_PIN, pin_factory=pins)
    with caplog.at_level(logging.WARNING, logger="hardware.reader_field"):
        poll_for(reader, clock, 1.0)
        chip.present(EmulatedCard.from_hex(UID_4))
        assert poll_for(reader, clock, 0.2) == [CardPresented(UID_4)]
    warnings = [r for r in caplog.records if "IRQ" in r.getMessage()]
    assert len(warnings) == 1
    reader.close()


def test_irq_pin_needs_a_pin_factory(clock):
    with pytest.raises(ValueError, match="pin_factory"):
        BadgeReader(emulated_driver_factory(MFRC522Emulator()), clock, irq_pin=IRQ_PIN)


def test_the_line_wakes_on_the_pin_going_low_in_real_time(pins):
    line = IrqLine(IRQ_PIN, pin_factory=pins)
    pin = pins.pin(IRQ_PIN)
    assert not line.asserted  # pulled up: no interrupt
    timer = threading.Timer(0.02, pin.drive_low)
    timer.start()
    try:
        assert line.wait(5.0)
    finally:
        timer.cancel()
    pin.drive_high()
    assert not line.wait(0.01)
    line.close()


def test_a_late_edge_does_not_end_a_wait_while_the_pin_is_high(pins):
    line = IrqLine(IRQ_PIN, pin_factory=pins)
    pin = pins.pin(IRQ_PIN)
    pin.drive_low()
    pin.drive_high()  # an interrupt of the driver's own command, already cleared
    assert not line.wait(0.01)
    line.close()


def test_the_config_key_puts_the_demo_reader_on_its_irq_pin(tmp_path, clock):
    raw = tomllib.loads(default_config_text())
    raw["hardware"]["backend"] = "simulated"
    raw["reader"]["irq_pin"] = IRQ_PIN
    config = parse_config(raw)
    pins = SimulatedPinFactory()
    backend = Backend.from_config(
        config, clock, data_dir=tmp_path, pin_factory=pins, reader_clock=clock
    )
    try:
        chip = backend.reader.chip
        backend.poll_reader()
        reads = chip.register_reads[COM_IRQ_REG]
        for _ in range(10):
            clock.advance(0.1)
            assert backend.poll_reader() == []
        assert chip.register_reads[COM_IRQ_REG] == reads
        backend.world.present_card(UID_4)
        clock.advance(0.1)
        assert backend.poll_reader() == [BadgeRead(UID_4)]
    finally:
        backend.close()
        pins.close()


def test_an_irq_pin_already_in_use_is_a_reader_fault_not_a_crash(clock, pins):
    taken = IrqLine(IRQ_PIN, pin_factory=pins)
    reader = BadgeReader(
        emulated_driver_factory(MFRC522Emulator()), clock, irq_pin=IRQ_PIN, pin_factory=pins
    )
    [fault] = reader.poll()
    assert isinstance(fault, ReaderFault)
    assert f"GPIO{IRQ_PIN}" in fault.reason
    taken.close()
    clock.advance(5.0)
    assert reader.poll() == [ReaderRecovered()]
    reader.close()
