"""A register-level emulation of the NXP MFRC522 reader chip on a fake SPI bus.

:class:`MFRC522Emulator` stands in for ``spidev.SpiDev`` and answers the chip's
SPI register protocol as the NXP datasheet (MFRC522 rev. 3.9) describes it, so
the real ``mfrc522`` driver can run unchanged off the Pi. It holds at most one
:class:`EmulatedCard` in its field and plays the card's side of ISO 14443A:
REQA/WUPA, the anticollision and SELECT cascade (levels 1 to 3), HLTA, and
MIFARE Classic authentication and READ.

Fidelity that matters to the product, kept on purpose:

* With no card in the field a Transceive ends only with TimerIRq: RxIRq and
  IdleIRq stay clear, so the driver's ``MFRC522_ToCard`` spins its whole
  2,000-read loop on every empty poll, as it does on a Pi.
* The timer counts in "wire time": every transfer advances a virtual clock by
  its bits at ``max_speed_hz`` plus ``transfer_overhead_s`` (what a spidev call
  costs on a Pi beyond the bits), :meth:`MFRC522Emulator.elapse` advances it
  while the host waits, and TimerIRq rises when the period set through
  TModeReg/TPrescalerReg/TReloadReg has passed since the end of the
  transmission (TAuto), so a poll costs here what it costs on a Pi.
* The IRQ pin follows Status1Reg's IRq bit (ComIEnReg/DivIEnReg enables,
  inverted by IRqInv), for a host that waits on a GPIO edge; see
  :meth:`MFRC522Emulator.connect_irq`.
* A card left in the field follows the ISO 14443-3 state machine: after an
  anticollision it sits in READY, where the next REQA sends it back to IDLE
  unanswered, so it answers every second poll, as real cards do.

Not emulated, because the product never uses them: more than one card (no
collisions), WRITE and the value commands, the Crypto1 cipher itself (the chip
hides it from the host anyway), TxCRCEn/RxCRCEn, MSBFirst, RxAlign, the
analog and test registers beyond storing what is written.

The chip lives here; its registers and bits are :mod:`hardware.mfrc522_registers`,
the card and its side of the protocol :mod:`hardware.mfrc522_card`, and
:func:`load_mfrc522_driver`, which hands the real driver this chip and an
:class:`EmulatedGPIO` without touching ``sys.modules``, :mod:`hardware.mfrc522_host`.
"""

from __future__ import annotations

import collections
import errno
import os
import threading
from collections.abc import Callable, Sequence

from hardware.mfrc522_card import (
    DEFAULT_KEY,
    FAIL_MODES,
    CardInField,
    EmulatedCard,
    bcc,
    crc_a,
)
from hardware.mfrc522_host import EmulatedGPIO, load_mfrc522_driver
from hardware.mfrc522_registers import (
    BIT_FRAMING_REG,
    BUFFER_OVFL,
    CHIP_CLOCK_HZ,
    CMD_CALC_CRC,
    CMD_GENERATE_RANDOM_ID,
    CMD_IDLE,
    CMD_MEM,
    CMD_MF_AUTHENT,
    CMD_NO_CMD_CHANGE,
    CMD_RECEIVE,
    CMD_SOFT_RESET,
    CMD_TRANSCEIVE,
    CMD_TRANSMIT,
    COM_IEN_REG,
    COM_IRQ_REG,
    COMMAND_REG,
    CONTROL_REG,
    CRC_IRQ,
    CRC_PRESETS,
    CRC_RESULT_REG_H,
    CRC_RESULT_REG_L,
    DIV_IEN_REG,
    DIV_IRQ_REG,
    ERR_IRQ,
    ERROR_REG,
    FIFO_DATA_REG,
    FIFO_LEVEL_REG,
    FIFO_SIZE,
    HI_ALERT_IRQ,
    IDLE_IRQ,
    IRQ_INV,
    LO_ALERT_IRQ,
    MF_CRYPTO1_ON,
    MODE_REG,
    READ_ONLY,
    RECEIVE_ERRORS,
    RESET_VALUES,
    RX_IRQ,
    SPIDEV_OVERHEAD_S,
    START_SEND,
    STATUS1_REG,
    STATUS2_REG,
    T_AUTO,
    T_AUTO_RESTART,
    T_COUNTER_VAL_REG_H,
    T_COUNTER_VAL_REG_L,
    T_MODE_REG,
    T_PRESCALER_REG,
    T_RELOAD_REG_H,
    T_RELOAD_REG_L,
    TIMER_IRQ,
    TX_CONTROL_REG,
    TX_IRQ,
    VERSION_MFRC522_V2,
    VERSION_REG,
    WATER_LEVEL_REG,
)


class MFRC522Emulator:
    """An MFRC522 on an SPI bus, with at most one card in its field.

    Use it wherever a ``spidev.SpiDev`` goes: ``open``, ``close``, ``xfer``,
    ``xfer2``, ``writebytes``, ``readbytes``, ``max_speed_hz``, ``mode``.
    ``transfers`` counts SPI transactions and ``register_reads`` counts reads
    per register address, so benchmarks can measure the cost of polling.
    Thread-safe: a simulator thread may present cards while a poller reads.

    The chip's time (:attr:`wire_time_s`) passes only with transfers, each
    taking its bits at ``max_speed_hz`` plus ``transfer_overhead_s``, and with
    :meth:`elapse`, which a host calls where it would sleep.
    """

    def __init__(
        self, *, version: int = VERSION_MFRC522_V2, transfer_overhead_s: float = SPIDEV_OVERHEAD_S
    ):
        if transfer_overhead_s < 0:
            raise ValueError("transfer_overhead_s cannot be negative")
        self._lock = threading.Lock()
        self.version = version
        self.transfer_overhead_s = transfer_overhead_s
        self.max_speed_hz = 1_000_000
        self.mode = 0
        self.transfers = 0
        self.register_reads: collections.Counter[int] = collections.Counter()
        self.hard_resets = 0
        self._open = False
        self._powered = True
        self._fail_mode: str | None = None
        self._wire_time_s = 0.0
        self._regs = bytearray(64)
        self._fifo: collections.deque[int] = collections.deque()
        self._buffer = bytearray(25)
        self._rx_last_bits = 0
        self._crc = 0
        self._crc_ready = False
        self._timer_deadline: float | None = None
        self._field = CardInField()
        self._irq_output: Callable[[bool], None] | None = None
        self._irq_level = True
        self._reset_registers()

    # The physical world -------------------------------------------------

    @property
    def card(self) -> EmulatedCard | None:
        """The card in the field, if any."""
        with self._lock:
            return self._field.card

    def present(self, card: EmulatedCard) -> None:
        """Put ``card`` in the field, taking away any card already there."""
        with self._lock:
            self._field.card = card
            self._field.power_cycle()

    def remove(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            self._field.card = None
            self._field.power_cycle()

    @property
    def fail_mode(self) -> str | None:
        """The failure being played, or ``None`` for a healthy reader.

        ``"no_answer"``: the card ignores everything. ``"bad_bcc"``: the card
        answers anticollision with a wrong BCC. ``"silent_chip"``: the chip
        stops answering (every read returns 0x00, writes are lost), as a
        reader with a broken SPI wire does. Set ``None`` to bring it back.
        """
        with self._lock:
            return self._fail_mode

    @fail_mode.setter
    def fail_mode(self, mode: str | None) -> None:
        if mode not in FAIL_MODES:
            raise ValueError(f"unknown fail mode {mode!r}; one of {FAIL_MODES}")
        with self._lock:
            self._fail_mode = mode

    def set_reset_line(self, high: bool) -> None:
        """Drive the chip's NRSTPD pin: low powers it down, a rising edge resets it."""
        with self._lock:
            if high == self._powered:
                return
            if high:
                self.hard_resets += 1
                self._reset_registers()
            self._powered = high
            self._field.power_cycle()
            self._drive_irq_pin()

    # Time and the IRQ pin ------------------------------------------------

    @property
    def wire_time_s(self) -> float:
        """Seconds of the chip's time so far: transfers and :meth:`elapse` calls."""
        with self._lock:
            return self._wire_time_s

    def elapse(self, seconds: float) -> None:
        """Let ``seconds`` pass for the chip, as while the host sleeps; its timer runs."""
        with self._lock:
            self._wire_time_s += max(0.0, seconds)
            self._run_timer()
            self._drive_irq_pin()

    def connect_irq(self, output: Callable[[bool], None] | None) -> None:
        """Wire the IRQ pin: ``output(level)`` now and at every change of its level.

        The level is Status1Reg's IRq bit, inverted while ComIEnReg's IRqInv is
        set (its reset value: the pin is high when idle, low while an enabled
        interrupt is pending). ``output`` is called with the chip's lock held,
        so it must not talk to the chip.
        """
        with self._lock:
            self._irq_output = output
            if output is not None:
                output(self._irq_level)

    @property
    def irq_level(self) -> bool:
        """The level of the IRQ pin now."""
        with self._lock:
            return self._irq_level

    def _drive_irq_pin(self) -> None:
        pending = bool(self._status1() & 0x10) and self._powered
        level = pending != bool(self._regs[COM_IEN_REG] & IRQ_INV)
        if level != self._irq_level:
            self._irq_level = level
            if self._irq_output is not None:
                self._irq_output(level)

    # spidev.SpiDev ------------------------------------------------------

    def open(self, bus: int, device: int) -> None:
        """Open the bus; any bus and device number reach this chip."""
        with self._lock:
            self._open = True

    def close(self) -> None:
        """Close the bus."""
        with self._lock:
            self._open = False

    def xfer(self, data: Sequence[int], *_options: int) -> list[int]:
        """One SPI transaction: send ``data``, return what came back."""
        with self._lock:
            return self._transfer(data)

    def xfer2(self, data: Sequence[int], *_options: int) -> list[int]:
        """One SPI transaction holding chip select throughout (same as xfer here)."""
        with self._lock:
            return self._transfer(data)

    def writebytes(self, data: Sequence[int]) -> None:
        """One SPI transaction whose answer is thrown away."""
        with self._lock:
            self._transfer(data)

    def readbytes(self, count: int) -> list[int]:
        """One SPI transaction clocking out ``count`` zero bytes."""
        with self._lock:
            return self._transfer([0] * count)

    # The SPI protocol (datasheet section 8.1.2) -------------------------

    def _transfer(self, data: Sequence[int]) -> list[int]:
        if not self._open:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self.transfers += 1
        self._wire_time_s += self.transfer_overhead_s
        self._wire_time_s += len(data) * 8 / (self.max_speed_hz or 1_000_000)
        self._run_timer()
        try:
            return self._exchange(data)
        finally:
            self._drive_irq_pin()

    def _exchange(self, data: Sequence[int]) -> list[int]:
        answer = [0] * len(data)
        if not data or not self._powered or self._fail_mode == "silent_chip":
            return answer
        if data[0] & 0x80:
            # Each byte names the next register to read; its value comes back
            # during the following byte.
            for i in range(1, len(data)):
                answer[i] = self._read((data[i - 1] >> 1) & 0x3F)
        else:
            register = (data[0] >> 1) & 0x3F
            for value in data[1:]:
                self._write(register, value & 0xFF)
        return answer

    def _read(self, register: int) -> int:
        self.register_reads[register] += 1
        if register == FIFO_DATA_REG:
            value = self._fifo.popleft() if self._fifo else 0
            self._note_fifo_level()
            return value
        if register == FIFO_LEVEL_REG:
            return len(self._fifo)
        if register == STATUS1_REG:
            return self._status1()
        if register == CONTROL_REG:
            return 0x10 | self._rx_last_bits
        if register in (T_COUNTER_VAL_REG_H, T_COUNTER_VAL_REG_L):
            ticks = self._timer_ticks_left()
            return ticks >> 8 if register == T_COUNTER_VAL_REG_H else ticks & 0xFF
        if register == VERSION_REG:
            return self.version
        return self._regs[register]

    def _write(self, register: int, value: int) -> None:
        if register == COMMAND_REG:
            self._start_command(value)
        elif register in (COM_IRQ_REG, DIV_IRQ_REG):
            # Bit 7 says whether the marked bits are set or cleared.
            if value & 0x80:
                self._regs[register] |= value & 0x7F
            else:
                self._regs[register] &= ~value & 0x7F
        elif register == STATUS2_REG:
            # Only the top two bits are writable, and MFCrypto1On only clears.
            old = self._regs[STATUS2_REG]
            self._regs[STATUS2_REG] = (value & 0xC0) | (old & value & MF_CRYPTO1_ON) | (old & 0x07)
        elif register == FIFO_DATA_REG:
            self._write_fifo(value)
        elif register == FIFO_LEVEL_REG:
            if value & 0x80:
                self._fifo.clear()
                self._regs[ERROR_REG] &= ~BUFFER_OVFL & 0xFF
                self._note_fifo_level()
        elif register == CONTROL_REG:
            if value & 0x80:
                self._timer_deadline = None
            if value & 0x40:
                self._start_timer()
        elif register == BIT_FRAMING_REG:
            self._regs[BIT_FRAMING_REG] = value
            if value & START_SEND and self._command() == CMD_TRANSCEIVE:
                self._transceive()
        elif register == TX_CONTROL_REG:
            self._regs[TX_CONTROL_REG] = value
            if not self._field_on():
                self._field.power_cycle()
        elif register not in READ_ONLY:
            self._regs[register] = value

    def _write_fifo(self, value: int) -> None:
        if self._command() == CMD_CALC_CRC:
            # A running CalcCRC takes new FIFO bytes straight into the sum.
            self._crc_feed([value])
        elif len(self._fifo) >= FIFO_SIZE:
            self._regs[ERROR_REG] |= BUFFER_OVFL
            self._regs[COM_IRQ_REG] |= ERR_IRQ
        else:
            self._fifo.append(value)
            self._note_fifo_level()

    def _note_fifo_level(self) -> None:
        water = self._regs[WATER_LEVEL_REG] & 0x3F
        if len(self._fifo) <= water:
            self._regs[COM_IRQ_REG] |= LO_ALERT_IRQ
        if FIFO_SIZE - len(self._fifo) <= water:
            self._regs[COM_IRQ_REG] |= HI_ALERT_IRQ

    def _status1(self) -> int:
        water = self._regs[WATER_LEVEL_REG] & 0x3F
        level = len(self._fifo)
        irq = (self._regs[COM_IRQ_REG] & self._regs[COM_IEN_REG] & 0x7F) or (
            self._regs[DIV_IRQ_REG] & self._regs[DIV_IEN_REG] & 0x7F
        )
        return (
            (level <= water)
            | (FIFO_SIZE - level <= water) << 1
            | (self._timer_deadline is not None) << 3
            | bool(irq) << 4
            | self._crc_ready << 5
            | (self._crc_ready and self._crc == 0) << 6
        )

    # Commands (datasheet section 10.3) ----------------------------------

    def _command(self) -> int:
        return self._regs[COMMAND_REG] & 0x0F

    def _terminate(self) -> None:
        """A command that ends by itself returns to Idle and raises IdleIRq."""
        self._regs[COMMAND_REG] &= 0x30
        self._regs[COM_IRQ_REG] |= IDLE_IRQ

    def _start_command(self, value: int) -> None:
        command = value & 0x0F
        if command == CMD_NO_CMD_CHANGE:
            self._regs[COMMAND_REG] = (value & 0x30) | self._command()
            return
        self._regs[COMMAND_REG] = (value & 0x30) | command
        if command == CMD_IDLE:
            return  # The host cancelling a command does not raise IdleIRq.
        if command == CMD_SOFT_RESET:
            self._reset_registers()
            self._field.power_cycle()
        elif command == CMD_CALC_CRC:
            self._crc = CRC_PRESETS[self._regs[MODE_REG] & 0x03]
            self._crc_ready = False
            data = list(self._fifo)
            self._fifo.clear()
            self._crc_feed(data)
        elif command == CMD_TRANSCEIVE:
            self._regs[ERROR_REG] &= ~RECEIVE_ERRORS & 0xFF
        elif command == CMD_TRANSMIT:
            self._send_to_card()
            self._terminate()
            if self._regs[T_MODE_REG] & T_AUTO:
                # TAuto starts the timer at the end of every transmission.
                self._start_timer()
        elif command == CMD_RECEIVE:
            self._regs[ERROR_REG] &= ~RECEIVE_ERRORS & 0xFF
        elif command == CMD_MF_AUTHENT:
            self._authenticate()
        elif command == CMD_MEM:
            if len(self._fifo) >= len(self._buffer):
                self._buffer[:] = bytes(self._fifo.popleft() for _ in range(len(self._buffer)))
            else:
                self._fifo.extend(self._buffer)
            self._note_fifo_level()
            self._terminate()
        elif command == CMD_GENERATE_RANDOM_ID:
            self._buffer[15:25] = os.urandom(10)
            self._terminate()
        else:
            self._terminate()  # An unknown command falls back to Idle.

    def _crc_feed(self, data: Sequence[int]) -> None:
        crc = int.from_bytes(crc_a(data, self._crc), "little")
        self._crc = crc
        self._crc_ready = True
        self._regs[CRC_RESULT_REG_L] = crc & 0xFF
        self._regs[CRC_RESULT_REG_H] = crc >> 8
        self._regs[DIV_IRQ_REG] |= CRC_IRQ

    def _send_to_card(self) -> tuple[bytes, int] | None:
        """Transmit the FIFO; return the card's answer and its valid bits in the last byte."""
        frame = bytes(self._fifo)
        self._fifo.clear()
        self._note_fifo_level()
        self._regs[COM_IRQ_REG] |= TX_IRQ
        if not self._card_hears():
            return None
        bits = self._regs[BIT_FRAMING_REG] & 0x07
        return self._field.answer(frame, bits, bad_bcc=self._fail_mode == "bad_bcc")

    def _transceive(self) -> None:
        answer = self._send_to_card()
        if answer is None:
            # Nothing comes back: the receiver waits, the timer (if TAuto)
            # runs out and raises TimerIRq. Neither RxIRq nor IdleIRq rises.
            if self._regs[T_MODE_REG] & T_AUTO:
                self._start_timer()
            return
        data, last_bits = answer
        # With TAuto the timer stops as the answer starts arriving.
        self._timer_deadline = None
        self._fifo.extend(data)
        self._note_fifo_level()
        self._rx_last_bits = last_bits
        self._regs[COM_IRQ_REG] |= RX_IRQ

    def _authenticate(self) -> None:
        frame = bytes(self._fifo)
        self._fifo.clear()
        self._note_fifo_level()
        if self._card_hears() and self._field.accepts(frame):
            self._regs[STATUS2_REG] |= MF_CRYPTO1_ON
            self._terminate()
        elif self._regs[T_MODE_REG] & T_AUTO:
            # A refused authentication is silence: only the timer ends it.
            self._start_timer()

    # The timer (datasheet section 8.5) ----------------------------------

    def _timer_period(self) -> tuple[float, int]:
        prescaler = ((self._regs[T_MODE_REG] & 0x0F) << 8) | self._regs[T_PRESCALER_REG]
        reload = (self._regs[T_RELOAD_REG_H] << 8) | self._regs[T_RELOAD_REG_L]
        return (2 * prescaler + 1) / CHIP_CLOCK_HZ, reload + 1

    def _start_timer(self) -> None:
        tick_s, ticks = self._timer_period()
        self._timer_deadline = self._wire_time_s + tick_s * ticks

    def _run_timer(self) -> None:
        if self._timer_deadline is None or self._wire_time_s < self._timer_deadline:
            return
        self._regs[COM_IRQ_REG] |= TIMER_IRQ
        if self._regs[T_MODE_REG] & T_AUTO_RESTART:
            tick_s, ticks = self._timer_period()
            while self._timer_deadline <= self._wire_time_s:
                self._timer_deadline += tick_s * ticks
        else:
            self._timer_deadline = None

    def _timer_ticks_left(self) -> int:
        if self._timer_deadline is None:
            return 0
        tick_s, _ = self._timer_period()
        return min(0xFFFF, int((self._timer_deadline - self._wire_time_s) / tick_s))

    # Power and reset ----------------------------------------------------

    def _reset_registers(self) -> None:
        self._regs[:] = bytes(64)
        for register, value in RESET_VALUES.items():
            self._regs[register] = value
        self._fifo.clear()
        self._rx_last_bits = 0
        self._crc = 0
        self._crc_ready = False
        self._timer_deadline = None

    def _field_on(self) -> bool:
        return self._powered and bool(self._regs[TX_CONTROL_REG] & 0x03)

    def _card_hears(self) -> bool:
        """Whether a card in the field gets what the chip sends (not while it plays dead)."""
        return self._field_on() and self._fail_mode != "no_answer"


__all__ = [
    "DEFAULT_KEY",
    "EmulatedCard",
    "EmulatedGPIO",
    "FAIL_MODES",
    "MFRC522Emulator",
    "VERSION_MFRC522_V2",
    "bcc",
    "crc_a",
    "load_mfrc522_driver",
]
