"""The emulated MFRC522: its SPI register protocol, and the real driver running on it."""

from __future__ import annotations

import sys
import threading

import pytest

from hardware import mfrc522_card as iso
from hardware import mfrc522_emulator as emu
from hardware.mfrc522_emulator import (
    EmulatedCard,
    EmulatedGPIO,
    MFRC522Emulator,
    bcc,
    crc_a,
    load_mfrc522_driver,
)

MI_OK, MI_ERR = 0, 2
RESET_PIN = 25  # as wired by the conftest's factory
CARD_4 = EmulatedCard(bytes.fromhex("04A1B2C3"))
CARD_7 = EmulatedCard(bytes.fromhex("04112233445566"))


def read(chip: MFRC522Emulator, register: int) -> int:
    return chip.xfer2([((register << 1) & 0x7E) | 0x80, 0])[1]


def write(chip: MFRC522Emulator, register: int, value: int) -> None:
    chip.xfer2([(register << 1) & 0x7E, value])


@pytest.fixture
def bus(chip: MFRC522Emulator) -> MFRC522Emulator:
    chip.open(0, 0)
    return chip


def start_transceive(chip: MFRC522Emulator, frame: list[int], last_bits: int = 0) -> None:
    """What MFRC522_ToCard does, by hand, up to StartSend."""
    write(chip, emu.COM_IRQ_REG, 0x7F)
    write(chip, emu.FIFO_LEVEL_REG, 0x80)
    for byte in frame:
        write(chip, emu.FIFO_DATA_REG, byte)
    write(chip, emu.COMMAND_REG, emu.CMD_TRANSCEIVE)
    write(chip, emu.BIT_FRAMING_REG, 0x80 | last_bits)


def init_like_the_driver(chip: MFRC522Emulator) -> None:
    write(chip, emu.T_MODE_REG, 0x8D)
    write(chip, emu.T_PRESCALER_REG, 0x3E)
    write(chip, emu.T_RELOAD_REG_L, 30)
    write(chip, emu.T_RELOAD_REG_H, 0)
    write(chip, emu.MODE_REG, 0x3D)
    write(chip, emu.TX_CONTROL_REG, 0x83)


# The register protocol ------------------------------------------------------


def test_version_register_reads_0x92(bus):
    assert read(bus, emu.VERSION_REG) == 0x92


def test_a_burst_read_returns_each_named_register_one_byte_later(bus):
    answer = bus.xfer2([0x80 | (emu.VERSION_REG << 1), 0x80 | (emu.CONTROL_REG << 1), 0])
    assert answer == [0, 0x92, 0x10]


def test_plain_registers_read_back_and_read_only_ones_ignore_writes(bus):
    write(bus, emu.MODE_REG, 0x3D)
    write(bus, emu.VERSION_REG, 0x00)
    assert read(bus, emu.MODE_REG) == 0x3D
    assert read(bus, emu.VERSION_REG) == 0x92


def test_the_fifo_keeps_bytes_in_order_and_flushes(bus):
    for byte in (1, 2, 3):
        write(bus, emu.FIFO_DATA_REG, byte)
    assert read(bus, emu.FIFO_LEVEL_REG) == 3
    assert read(bus, emu.FIFO_DATA_REG) == 1
    write(bus, emu.FIFO_LEVEL_REG, 0x80)
    assert read(bus, emu.FIFO_LEVEL_REG) == 0


def test_a_full_fifo_reports_buffer_overflow_until_flushed(bus):
    for byte in range(65):
        write(bus, emu.FIFO_DATA_REG, byte)
    assert read(bus, emu.FIFO_LEVEL_REG) == 64
    assert read(bus, emu.ERROR_REG) & emu.BUFFER_OVFL
    write(bus, emu.FIFO_LEVEL_REG, 0x80)
    assert not read(bus, emu.ERROR_REG) & emu.BUFFER_OVFL


def test_com_irq_bit_7_chooses_between_setting_and_clearing(bus):
    write(bus, emu.COM_IRQ_REG, 0x7F)
    assert read(bus, emu.COM_IRQ_REG) == 0
    write(bus, emu.COM_IRQ_REG, 0x80 | 0x21)
    assert read(bus, emu.COM_IRQ_REG) == 0x21
    write(bus, emu.COM_IRQ_REG, 0x01)
    assert read(bus, emu.COM_IRQ_REG) == 0x20


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        ("0000", "a01e"),  # ISO/IEC 14443-3 annex B examples
        ("1234", "26cf"),
        ("5000", "57cd"),  # HLTA as sent on the air
        ("3000", "02a8"),  # READ block 0
    ],
)
def test_crc_a_matches_the_standard_vectors(data, crc):
    assert crc_a(bytes.fromhex(data)).hex() == crc


def test_calc_crc_puts_crc_a_in_crc_result_reg(bus):
    write(bus, emu.MODE_REG, 0x3D)  # CRCPreset 01: 0x6363, as the driver sets it
    frame = [0x93, 0x70, 0x04, 0xA1, 0xB2, 0xC3, bcc(b"\x04\xa1\xb2\xc3")]
    write(bus, emu.DIV_IRQ_REG, 0x04)
    for byte in frame:
        write(bus, emu.FIFO_DATA_REG, byte)
    write(bus, emu.COMMAND_REG, emu.CMD_CALC_CRC)
    assert read(bus, emu.DIV_IRQ_REG) & emu.CRC_IRQ
    result = bytes([read(bus, emu.CRC_RESULT_REG_L), read(bus, emu.CRC_RESULT_REG_H)])
    assert result == crc_a(frame)


def test_calc_crc_starts_from_the_mode_reg_preset(bus):
    # At reset ModeReg holds CRCPreset 11 (0xFFFF), which is not CRC_A.
    write(bus, emu.FIFO_DATA_REG, 0x12)
    write(bus, emu.FIFO_DATA_REG, 0x34)
    write(bus, emu.COMMAND_REG, emu.CMD_CALC_CRC)
    result = bytes([read(bus, emu.CRC_RESULT_REG_L), read(bus, emu.CRC_RESULT_REG_H)])
    assert result == crc_a(b"\x12\x34", preset=0xFFFF) != crc_a(b"\x12\x34")


def test_status1_shows_crc_ok_for_data_followed_by_its_crc(bus):
    write(bus, emu.MODE_REG, 0x3D)
    frame = b"\x30\x08"
    for byte in frame + crc_a(frame):
        write(bus, emu.FIFO_DATA_REG, byte)
    write(bus, emu.COMMAND_REG, emu.CMD_CALC_CRC)
    status = read(bus, emu.STATUS1_REG)
    assert status & 0x20  # CRCReady
    assert status & 0x40  # CRCOk: the residue is zero
    assert status & 0x01  # LoAlert: the FIFO went to the CRC coprocessor


# The empty field and the timer ------------------------------------------------


def test_empty_field_transceive_ends_only_with_timer_irq(bus):
    init_like_the_driver(bus)
    start_transceive(bus, [iso.REQA], last_bits=7)
    seen = [read(bus, emu.COM_IRQ_REG) for _ in range(3000)]
    assert seen[0] & emu.TX_IRQ and not seen[0] & emu.TIMER_IRQ
    first_timer = next(i for i, irq in enumerate(seen) if irq & emu.TIMER_IRQ)
    # ~15.5 ms of timer at 30 us a two-byte transfer: 16 us of clock at 1 MHz
    # and a Pi's spidev call. (It was ~1,000 reads while a transfer cost only
    # its bits on the wire, which is twice as fast as a Pi can go.)
    assert 500 < first_timer < 540
    assert not any(irq & (emu.RX_IRQ | emu.IDLE_IRQ) for irq in seen)


def test_a_transfer_takes_its_bits_and_the_spidev_overhead(chip):
    quick = MFRC522Emulator(transfer_overhead_s=0.0)
    for bus in (chip, quick):
        bus.open(0, 0)
        read(bus, emu.VERSION_REG)
    assert chip.wire_time_s == pytest.approx(16e-6 + emu.SPIDEV_OVERHEAD_S)
    assert quick.wire_time_s == pytest.approx(16e-6)


def test_the_timer_fires_after_its_programmed_time_while_the_host_waits(bus):
    init_like_the_driver(bus)
    write(bus, emu.T_RELOAD_REG_L, 1)  # two ticks of 0.5 ms
    start_transceive(bus, [iso.REQA], last_bits=7)
    bus.elapse(0.9e-3)
    assert not read(bus, emu.COM_IRQ_REG) & emu.TIMER_IRQ
    bus.elapse(0.1e-3)
    assert read(bus, emu.COM_IRQ_REG) & emu.TIMER_IRQ


def test_tauto_starts_the_timer_after_a_transmit_too(bus):
    init_like_the_driver(bus)
    write(bus, emu.COM_IRQ_REG, 0x7F)
    write(bus, emu.FIFO_DATA_REG, iso.HLTA)
    write(bus, emu.COMMAND_REG, emu.CMD_TRANSMIT)
    bus.elapse(16e-3)
    assert read(bus, emu.COM_IRQ_REG) & emu.TIMER_IRQ


def test_the_irq_pin_goes_low_while_an_enabled_interrupt_is_pending(bus):
    levels = []
    bus.connect_irq(levels.append)
    init_like_the_driver(bus)
    write(bus, emu.COM_IEN_REG, emu.IRQ_INV | emu.TIMER_IRQ | emu.RX_IRQ)
    write(bus, emu.T_RELOAD_REG_L, 1)
    start_transceive(bus, [iso.REQA], last_bits=7)  # TxIRq rises: not enabled
    assert bus.irq_level
    bus.elapse(1.1e-3)
    assert not bus.irq_level
    write(bus, emu.COM_IRQ_REG, 0x7F)
    assert bus.irq_level
    assert levels == [True, False, True]


def test_irq_inv_cleared_makes_the_pin_active_high(bus):
    bus.present(CARD_4)
    init_like_the_driver(bus)
    write(bus, emu.COM_IEN_REG, emu.RX_IRQ)
    assert not bus.irq_level
    start_transceive(bus, [iso.REQA], last_bits=7)
    assert bus.irq_level


def test_without_tauto_the_timer_never_fires(bus):
    init_like_the_driver(bus)
    write(bus, emu.T_MODE_REG, 0x0D)
    start_transceive(bus, [iso.REQA], last_bits=7)
    assert not any(read(bus, emu.COM_IRQ_REG) & emu.TIMER_IRQ for _ in range(3000))


def test_a_card_answer_raises_rx_irq_and_fills_the_fifo(bus):
    init_like_the_driver(bus)
    bus.present(CARD_4)
    start_transceive(bus, [iso.REQA], last_bits=7)
    irq = read(bus, emu.COM_IRQ_REG)
    assert irq & emu.RX_IRQ and not irq & emu.TIMER_IRQ
    assert [read(bus, emu.FIFO_DATA_REG) for _ in range(read(bus, emu.FIFO_LEVEL_REG))] == [4, 0]


def test_the_driver_spins_its_whole_loop_on_an_empty_field(driver, chip):
    before = chip.transfers
    polls_of_irq = chip.register_reads[emu.COM_IRQ_REG]
    status, _bits = driver.MFRC522_Request(driver.PICC_REQIDL)
    assert status == MI_ERR
    assert chip.register_reads[emu.COM_IRQ_REG] - polls_of_irq > 2000
    assert 2000 <= chip.transfers - before <= 2020
    irq = driver.Read_MFRC522(emu.COM_IRQ_REG)
    assert irq & emu.TIMER_IRQ and not irq & (emu.RX_IRQ | emu.IDLE_IRQ)


def test_read_id_no_block_with_a_card_costs_about_40_transfers(driver, chip):
    chip.present(CARD_4)
    before = chip.transfers
    # SimpleMFRC522.read_id_no_block(), less its uid_to_num.
    status, _bits = driver.MFRC522_Request(driver.PICC_REQIDL)
    assert status == MI_OK
    status, _uid = driver.MFRC522_Anticoll()
    assert status == MI_OK
    assert 35 <= chip.transfers - before <= 50


# The real driver and the card -------------------------------------------------


def test_the_driver_reads_a_4_byte_uid_with_its_bcc(driver, chip):
    chip.present(CARD_4)
    assert driver.MFRC522_Request(driver.PICC_REQIDL) == (MI_OK, 16)
    status, uid = driver.MFRC522_Anticoll()
    assert status == MI_OK
    assert uid == [0x04, 0xA1, 0xB2, 0xC3, 0x04 ^ 0xA1 ^ 0xB2 ^ 0xC3]


def test_a_7_byte_uid_needs_select_and_cascade_level_2(driver, chip):
    chip.present(CARD_7)
    assert driver.MFRC522_Request(driver.PICC_REQIDL) == (MI_OK, 16)
    status, level1 = driver.MFRC522_Anticoll()
    assert status == MI_OK
    assert level1[:4] == [0x88, 0x04, 0x11, 0x22]
    assert driver.MFRC522_SelectTag(level1) == 0x04  # SAK: UID not complete
    driver.Write_MFRC522(emu.BIT_FRAMING_REG, 0)
    status, level2, _bits = driver.MFRC522_ToCard(driver.PCD_TRANSCEIVE, [0x95, 0x20])
    assert status == MI_OK
    assert level2 == [0x33, 0x44, 0x55, 0x66, bcc(b"\x33\x44\x55\x66")]
    frame = [0x95, 0x70, *level2]
    frame += driver.CalulateCRC(frame)
    status, sak, bits = driver.MFRC522_ToCard(driver.PCD_TRANSCEIVE, frame)
    assert (status, bits, sak[0]) == (MI_OK, 24, 0x08)


def select(driver, chip) -> list[int]:
    assert driver.MFRC522_Request(driver.PICC_REQIDL)[0] == MI_OK
    status, uid = driver.MFRC522_Anticoll()
    assert status == MI_OK
    assert driver.MFRC522_SelectTag(uid) == chip.card.sak
    return uid


def test_authenticate_and_read_a_block(driver, chip):
    chip.present(CARD_4.with_block(8, b"Rose Class staff"))
    uid = select(driver, chip)
    assert driver.MFRC522_Auth(driver.PICC_AUTHENT1A, 11, [0xFF] * 6, uid) == MI_OK
    assert driver.Read_MFRC522(emu.STATUS2_REG) & emu.MF_CRYPTO1_ON
    assert bytes(driver.MFRC522_Read(8)) == b"Rose Class staff"
    driver.MFRC522_StopCrypto1()
    assert not driver.Read_MFRC522(emu.STATUS2_REG) & emu.MF_CRYPTO1_ON


def test_a_card_with_its_own_key_refuses_the_default_one(driver, chip):
    key = bytes.fromhex("A0A1A2A3A4A5")
    chip.present(EmulatedCard(bytes.fromhex("04A1B2C3"), key=key))
    uid = select(driver, chip)
    assert driver.MFRC522_Auth(driver.PICC_AUTHENT1B, 4, [0xFF] * 6, uid) == MI_ERR
    assert not driver.Read_MFRC522(emu.STATUS2_REG) & emu.MF_CRYPTO1_ON
    # A refused authentication sends the card back to IDLE: start again.
    uid = select(driver, chip)
    assert driver.MFRC522_Auth(driver.PICC_AUTHENT1B, 4, list(key), uid) == MI_OK
    assert driver.MFRC522_Read(5) == [0] * 16


def test_reading_a_sector_not_authenticated_is_refused(driver, chip):
    chip.present(CARD_4)
    uid = select(driver, chip)
    assert driver.MFRC522_Read(8) is None
    assert driver.MFRC522_Auth(driver.PICC_AUTHENT1A, 11, [0xFF] * 6, uid) == MI_OK
    assert driver.MFRC522_Read(12) is None


def test_a_card_left_in_the_field_answers_every_second_request(driver, chip):
    # ISO 14443-3: a card in READY that hears REQA goes back to IDLE, silent.
    chip.present(CARD_4)
    answers = []
    for _ in range(4):
        status, _bits = driver.MFRC522_Request(driver.PICC_REQIDL)
        answers.append(status)
        if status == MI_OK:
            assert driver.MFRC522_Anticoll()[0] == MI_OK
    assert answers == [MI_OK, MI_ERR, MI_OK, MI_ERR]


def test_a_halted_card_answers_only_wupa(driver, chip):
    chip.present(CARD_4)
    select(driver, chip)
    halt = [0x50, 0x00]
    halt += driver.CalulateCRC(halt)
    driver.MFRC522_ToCard(driver.PCD_TRANSCEIVE, halt)
    assert driver.MFRC522_Request(driver.PICC_REQIDL)[0] == MI_ERR
    assert driver.MFRC522_Request(driver.PICC_REQALL) == (MI_OK, 16)


def test_a_bad_bcc_fails_the_drivers_anticollision(driver, chip):
    chip.present(CARD_4)
    chip.fail_mode = "bad_bcc"
    assert driver.MFRC522_Request(driver.PICC_REQIDL)[0] == MI_OK
    assert driver.MFRC522_Anticoll()[0] == MI_ERR


def test_a_card_that_does_not_answer_looks_like_an_empty_field(driver, chip):
    chip.present(CARD_4)
    chip.fail_mode = "no_answer"
    assert driver.MFRC522_Request(driver.PICC_REQIDL)[0] == MI_ERR


def test_a_silent_chip_reads_zero_until_it_is_healed(driver, chip):
    chip.fail_mode = "silent_chip"
    assert driver.Read_MFRC522(emu.VERSION_REG) == 0
    driver.Write_MFRC522(emu.MODE_REG, 0x00)
    chip.fail_mode = None
    assert driver.Read_MFRC522(emu.VERSION_REG) == 0x92
    assert driver.Read_MFRC522(emu.MODE_REG) == 0x3D  # the write was lost


def test_unknown_fail_modes_are_refused(chip):
    with pytest.raises(ValueError, match="unknown fail mode"):
        chip.fail_mode = "on_fire"


def test_the_rst_pin_powers_down_then_resets_the_chip(driver, chip, driver_factory):
    gpio = driver_factory.gpio
    gpio.output(RESET_PIN, gpio.LOW)
    assert driver.Read_MFRC522(emu.VERSION_REG) == 0
    gpio.output(RESET_PIN, gpio.HIGH)
    assert chip.hard_resets == 1
    assert driver.Read_MFRC522(emu.VERSION_REG) == 0x92
    assert driver.Read_MFRC522(emu.T_MODE_REG) == 0x00  # the driver's 0x8D is gone


def test_soft_reset_restores_power_on_values(bus):
    write(bus, emu.T_MODE_REG, 0x8D)
    write(bus, emu.COMMAND_REG, emu.CMD_SOFT_RESET)
    assert read(bus, emu.T_MODE_REG) == 0x00
    assert read(bus, emu.COMMAND_REG) == 0x20


def test_with_the_antenna_off_no_card_answers(driver, chip):
    chip.present(CARD_4)
    driver.AntennaOff()
    assert driver.MFRC522_Request(driver.PICC_REQIDL)[0] == MI_ERR
    driver.AntennaOn()
    assert driver.MFRC522_Request(driver.PICC_REQIDL)[0] == MI_OK


def test_a_closed_bus_fails_like_spidev(chip):
    with pytest.raises(OSError, match="Bad file descriptor"):
        chip.xfer2([0xEE, 0])


def test_every_transaction_is_counted(bus):
    bus.xfer([0xEE, 0])
    bus.xfer2([0xEE, 0])
    bus.writebytes([0x02, 0x80])
    assert bus.readbytes(2) == [0, 0]
    assert bus.transfers == 4


# Cards, pins and loading the driver ------------------------------------------------


@pytest.mark.parametrize("uid", ["04A1B2", "88A1B2C3", "0011223344"])
def test_impossible_uids_are_refused(uid):
    with pytest.raises(ValueError):
        EmulatedCard.from_hex(uid)


def test_a_factory_fresh_card_holds_its_uid_in_block_0():
    card = EmulatedCard.from_hex("04A1B2C3")
    assert card.blocks[0][:7] == bytes.fromhex("04A1B2C3") + bytes([bcc(card.uid), 0x08, 0x04])
    assert card.blocks[7][6:10] == bytes.fromhex("FF078069")


def test_loading_the_driver_leaves_sys_modules_alone(chip):
    watched = ("spidev", "RPi", "RPi.GPIO", "mfrc522", "mfrc522.MFRC522")
    before = {name: sys.modules.get(name) for name in watched}
    mfrc522_class = load_mfrc522_driver(chip, EmulatedGPIO(chip, reset_pin=RESET_PIN))
    assert {name: sys.modules.get(name) for name in watched} == before
    assert mfrc522_class.__name__ == "MFRC522"


def test_emulated_gpio_refuses_what_rpi_gpio_refuses():
    gpio = EmulatedGPIO()
    with pytest.raises(RuntimeError, match="setmode"):
        gpio.setup(25, gpio.OUT)
    gpio.setmode(gpio.BCM)
    with pytest.raises(ValueError, match="different mode"):
        gpio.setmode(gpio.BOARD)
    with pytest.raises(RuntimeError, match="OUTPUT"):
        gpio.output(25, gpio.HIGH)
    gpio.setup(25, gpio.OUT)
    gpio.output(25, gpio.HIGH)
    assert gpio.input(25) == gpio.HIGH
    gpio.cleanup(25)
    assert gpio.mode == gpio.BCM
    gpio.cleanup()
    assert gpio.mode is None


def test_cards_can_come_and_go_while_the_driver_polls(driver, chip):
    stop = threading.Event()

    def hand() -> None:
        while not stop.is_set():
            chip.present(CARD_7)
            chip.remove()

    thread = threading.Thread(target=hand)
    thread.start()
    try:
        statuses = {driver.MFRC522_Request(driver.PICC_REQIDL)[0] for _ in range(20)}
    finally:
        stop.set()
        thread.join()
    assert statuses <= {MI_OK, MI_ERR}
