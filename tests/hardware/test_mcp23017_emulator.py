"""The MCP23017 emulator answers as the datasheet says (DS20001952C)."""

from __future__ import annotations

import errno

import pytest

from hardware.mcp23017_emulator import (
    IOCON_BANK,
    IOCON_MIRROR,
    IOCON_ODR,
    IOCON_SEQOP,
    REGISTERS,
    EmulatedI2CBus,
    MCP23017Emulator,
    register_address,
)

ADDR = 0x20
IODIRA, IODIRB = 0x00, 0x01
IPOLA = 0x02
GPINTENA, GPINTENB = 0x04, 0x05
DEFVALA = 0x06
INTCONA = 0x08
IOCON = 0x0A
GPPUA = 0x0C
INTFA, INTFB = 0x0E, 0x0F
INTCAPA = 0x10
GPIOA, GPIOB = 0x12, 0x13
OLATA, OLATB = 0x14, 0x15


@pytest.fixture
def bus() -> EmulatedI2CBus:
    bus = EmulatedI2CBus()
    bus.attach(ADDR, MCP23017Emulator())
    return bus


def chip(bus: EmulatedI2CBus) -> MCP23017Emulator:
    return bus.chip(ADDR)


def test_power_on_state_every_line_an_input_and_every_other_register_zero(bus):
    values = bus.read_i2c_block_data(ADDR, 0x00, 0x16)
    assert values[:2] == [0xFF, 0xFF]
    assert values[2:] == [0] * 20
    assert not any(chip(bus).is_output(line) for line in range(16))


def test_bank0_addresses_interleave_ports_and_bank1_splits_them():
    assert register_address("GPIO", "A") == 0x12
    assert register_address("GPIO", "B") == 0x13
    assert register_address("GPIO", "A", bank=True) == 0x09
    assert register_address("GPIO", "B", bank=True) == 0x19
    assert register_address("OLAT", "B", bank=True) == 0x1A


def test_bank1_moves_the_registers(bus):
    bus.write_byte_data(ADDR, IOCON, IOCON_BANK)
    bus.write_byte_data(ADDR, 0x1A, 0x5A)  # OLATB under BANK = 1
    assert chip(bus).register("OLAT", "B") == 0x5A
    # IOCON answers at both of its BANK = 1 addresses.
    assert bus.read_byte_data(ADDR, 0x05) == IOCON_BANK
    assert bus.read_byte_data(ADDR, 0x15) == IOCON_BANK


def test_iocon_bit0_is_unimplemented(bus):
    bus.write_byte_data(ADDR, IOCON, 0xFF & ~IOCON_BANK)
    assert bus.read_byte_data(ADDR, IOCON) == 0x7E


def test_sequential_mode_walks_the_map_and_byte_mode_toggles_a_and_b(bus):
    bus.write_i2c_block_data(ADDR, OLATA, [0x11, 0x22])
    assert (chip(bus).register("OLAT", "A"), chip(bus).register("OLAT", "B")) == (0x11, 0x22)
    # From the last register the pointer wraps to IODIRA.
    assert bus.read_i2c_block_data(ADDR, OLATB, 2) == [0x22, 0xFF]
    bus.write_byte_data(ADDR, IOCON, IOCON_SEQOP)
    assert bus.read_i2c_block_data(ADDR, OLATA, 4) == [0x11, 0x22, 0x11, 0x22]


def test_outputs_read_their_latch_and_inputs_their_pull_or_drive(bus):
    bus.write_byte_data(ADDR, IODIRA, 0xFE)  # A0 an output
    bus.write_byte_data(ADDR, OLATA, 0x01)
    bus.write_byte_data(ADDR, GPPUA, 0x02)  # A1 pulled up
    emulated = chip(bus)
    assert emulated.level(0) is True
    assert emulated.level(1) is True
    assert emulated.level(2) is False  # floating
    emulated.drive(1, False)
    assert bus.read_byte_data(ADDR, GPIOA) == 0x01
    # A write to GPIO writes the latch.
    bus.write_byte_data(ADDR, GPIOA, 0x00)
    assert chip(bus).register("OLAT", "A") == 0x00


def test_ipol_inverts_inputs_only(bus):
    bus.write_byte_data(ADDR, IODIRA, 0xFE)
    bus.write_byte_data(ADDR, OLATA, 0x01)
    bus.write_byte_data(ADDR, IPOLA, 0x03)
    assert bus.read_byte_data(ADDR, GPIOA) == 0x03  # A0 output high, A1 floating low inverted


def test_interrupt_on_change_captures_the_first_change_until_cleared(bus):
    emulated = chip(bus)
    bus.write_byte_data(ADDR, GPPUA, 0xFF)
    bus.write_byte_data(ADDR, GPINTENA, 0xFF)
    emulated.drive(3, False)
    assert bus.read_byte_data(ADDR, INTFA) == 0x08
    emulated.drive(5, False)  # not captured: the first interrupt still stands
    assert bus.read_byte_data(ADDR, INTFA) == 0x08
    assert bus.read_byte_data(ADDR, INTCAPA) == 0xF7
    assert bus.read_byte_data(ADDR, INTFA) == 0
    assert bus.read_byte_data(ADDR, GPIOA) == 0xD7


def test_reading_gpio_clears_the_interrupt(bus):
    emulated = chip(bus)
    bus.write_byte_data(ADDR, GPINTENB, 0x01)
    emulated.drive(8, True)
    assert bus.read_byte_data(ADDR, INTFB) == 0x01
    bus.read_byte_data(ADDR, GPIOB)
    assert bus.read_byte_data(ADDR, INTFB) == 0


def test_defval_comparison_interrupts_again_while_the_mismatch_stays(bus):
    emulated = chip(bus)
    bus.write_byte_data(ADDR, GPPUA, 0x01)
    bus.write_byte_data(ADDR, DEFVALA, 0x01)
    bus.write_byte_data(ADDR, INTCONA, 0x01)
    bus.write_byte_data(ADDR, GPINTENA, 0x01)
    emulated.drive(0, False)
    bus.read_byte_data(ADDR, GPIOA)
    assert bus.read_byte_data(ADDR, INTFA) == 0x01
    emulated.drive(0, True)
    bus.read_byte_data(ADDR, GPIOA)
    assert bus.read_byte_data(ADDR, INTFA) == 0


def test_int_outputs_per_port_mirrored_and_open_drain(bus):
    emulated = chip(bus)
    seen: list[tuple[str, bool | None]] = []
    emulated.connect_int(lambda port, level: seen.append((port, level)))
    bus.write_byte_data(ADDR, GPINTENB, 0x01)
    emulated.drive(8, True)
    # Active low (INTPOL = 0), port B only.
    assert (emulated.int_level("A"), emulated.int_level("B")) == (True, False)
    bus.read_byte_data(ADDR, GPIOB)
    bus.write_byte_data(ADDR, IOCON, IOCON_MIRROR | IOCON_ODR)
    assert (emulated.int_level("A"), emulated.int_level("B")) == (None, None)
    emulated.drive(8, False)
    assert (emulated.int_level("A"), emulated.int_level("B")) == (False, False)
    assert ("B", False) in seen and ("A", False) in seen


def test_a_chip_that_stops_answering_fails_like_smbus_and_comes_back_reset(bus):
    bus.write_byte_data(ADDR, IODIRA, 0x00)
    chip(bus).disconnect()
    with pytest.raises(OSError) as failure:
        bus.read_byte_data(ADDR, IODIRA)
    assert failure.value.errno == errno.EREMOTEIO
    chip(bus).reconnect()
    assert bus.read_byte_data(ADDR, IODIRA) == 0xFF


def test_nothing_answers_at_an_empty_address(bus):
    with pytest.raises(OSError):
        bus.read_byte_data(0x21, IODIRA)


def test_every_transaction_is_counted(bus):
    before = bus.transactions
    bus.read_i2c_block_data(ADDR, INTFA, 6)
    bus.write_byte_data(ADDR, OLATB, 0)
    assert bus.transactions == before + 2


def test_the_map_has_eleven_registers_per_port():
    assert len(REGISTERS) == 11


def test_addresses_outside_the_straps_are_refused():
    with pytest.raises(ValueError, match="0x28"):
        EmulatedI2CBus().attach(0x28, MCP23017Emulator())
