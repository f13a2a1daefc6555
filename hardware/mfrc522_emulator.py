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

:func:`load_mfrc522_driver` hands the real driver this chip and an
:class:`EmulatedGPIO` without touching ``sys.modules``.
"""

from __future__ import annotations

import builtins
import collections
import dataclasses
import enum
import errno
import importlib.util
import os
import threading
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Register addresses (datasheet section 9.2); names follow the datasheet.
COMMAND_REG = 0x01
COM_IEN_REG = 0x02
DIV_IEN_REG = 0x03
COM_IRQ_REG = 0x04
DIV_IRQ_REG = 0x05
ERROR_REG = 0x06
STATUS1_REG = 0x07
STATUS2_REG = 0x08
FIFO_DATA_REG = 0x09
FIFO_LEVEL_REG = 0x0A
WATER_LEVEL_REG = 0x0B
CONTROL_REG = 0x0C
BIT_FRAMING_REG = 0x0D
MODE_REG = 0x11
TX_CONTROL_REG = 0x14
CRC_RESULT_REG_H = 0x21
CRC_RESULT_REG_L = 0x22
T_MODE_REG = 0x2A
T_PRESCALER_REG = 0x2B
T_RELOAD_REG_H = 0x2C
T_RELOAD_REG_L = 0x2D
T_COUNTER_VAL_REG_H = 0x2E
T_COUNTER_VAL_REG_L = 0x2F
VERSION_REG = 0x37

# Commands (datasheet table 149).
CMD_IDLE = 0x0
CMD_MEM = 0x1
CMD_GENERATE_RANDOM_ID = 0x2
CMD_CALC_CRC = 0x3
CMD_TRANSMIT = 0x4
CMD_NO_CMD_CHANGE = 0x7
CMD_RECEIVE = 0x8
CMD_TRANSCEIVE = 0xC
CMD_MF_AUTHENT = 0xE
CMD_SOFT_RESET = 0xF

# ComIrqReg bits; bit 7 of a write is Set1.
TX_IRQ = 0x40
RX_IRQ = 0x20
IDLE_IRQ = 0x10
HI_ALERT_IRQ = 0x08
LO_ALERT_IRQ = 0x04
ERR_IRQ = 0x02
TIMER_IRQ = 0x01
# DivIrqReg bits; bit 7 of a write is Set2.
CRC_IRQ = 0x04

# ErrorReg bits.
BUFFER_OVFL = 0x10
RECEIVE_ERRORS = 0x0F  # CollErr, CRCErr, ParityErr, ProtocolErr

MF_CRYPTO1_ON = 0x08  # Status2Reg
START_SEND = 0x80  # BitFramingReg
T_AUTO = 0x80  # TModeReg
T_AUTO_RESTART = 0x10  # TModeReg
FIFO_SIZE = 64
CHIP_CLOCK_HZ = 13.56e6
IRQ_INV = 0x80  # ComIEnReg: the IRQ pin is low while an interrupt is pending
#: What one spidev transfer costs on a Pi beyond its bits on the wire (the
#: ioctl, the kernel's SPI queue): with a two-byte register access at 1 MHz
#: (16 us of clock) a transfer takes about 30 us, as measured on a Pi.
SPIDEV_OVERHEAD_S = 14e-6

#: VersionReg of a genuine MFRC522 version 2.0.
VERSION_MFRC522_V2 = 0x92

# Power-on values (datasheet section 9.3); registers not listed reset to 0.
RESET_VALUES = {
    COMMAND_REG: 0x20,
    COM_IEN_REG: 0x80,
    COM_IRQ_REG: IDLE_IRQ | LO_ALERT_IRQ,
    STATUS1_REG: 0x21,
    WATER_LEVEL_REG: 0x08,
    CONTROL_REG: 0x10,
    0x0E: 0xA0,  # CollReg
    MODE_REG: 0x3F,
    TX_CONTROL_REG: 0x80,
    0x16: 0x10,  # TxSelReg
    0x17: 0x84,  # RxSelReg
    0x18: 0x84,  # RxThresholdReg
    0x19: 0x4D,  # DemodReg
    0x1C: 0x62,  # MfTxReg
    0x1F: 0xEB,  # SerialSpeedReg
    CRC_RESULT_REG_H: 0xFF,
    CRC_RESULT_REG_L: 0xFF,
    0x24: 0x26,  # ModWidthReg
    0x26: 0x48,  # RFCfgReg
    0x27: 0x88,  # GsNReg
    0x28: 0x20,  # CWGsPReg
    0x29: 0x20,  # ModGsPReg
    0x33: 0x80,  # TestPinEnReg
    0x36: 0x40,  # AutoTestReg
}
# Registers the host cannot write (status, results, version).
READ_ONLY = frozenset({ERROR_REG, STATUS1_REG, T_COUNTER_VAL_REG_H, T_COUNTER_VAL_REG_L, 0x37})
# ModeReg CRCPreset bits 1..0 (datasheet table 43).
CRC_PRESETS = (0x0000, 0x6363, 0xA671, 0xFFFF)

# ISO 14443A card commands.
REQA = 0x26
WUPA = 0x52
SEL_CL1 = 0x93
SEL_CL2 = 0x95
SEL_CL3 = 0x97
SELECT_CODES = (SEL_CL1, SEL_CL2, SEL_CL3)
NVB_ANTICOLLISION = 0x20
NVB_SELECT = 0x70
HLTA = 0x50
MF_AUTH_KEY_A = 0x60
MF_AUTH_KEY_B = 0x61
MF_READ = 0x30
CASCADE_TAG = 0x88
SAK_CASCADE_BIT = 0x04
NAK_INVALID = 0x4

DEFAULT_KEY = b"\xff" * 6
# ATQA (low byte first) by UID size: bits 7..6 of the first byte give the size.
_ATQA_BY_SIZE = {4: b"\x04\x00", 7: b"\x44\x00", 10: b"\x84\x00"}
# Access bits and GPB of a factory-fresh sector trailer: keys A/B with default rights.
_TRAILER_ACCESS = bytes.fromhex("ff078069")
FAIL_MODES = (None, "no_answer", "bad_bcc", "silent_chip")


def crc_a(data: Iterable[int], preset: int = 0x6363) -> bytes:
    """ISO 14443A CRC_A of ``data``, low byte first, as it goes on the air.

    ``preset`` is the register's start value; CRC_A proper starts at 0x6363.
    """
    crc = preset
    for byte in data:
        ch = (byte ^ crc) & 0xFF
        ch = (ch ^ (ch << 4)) & 0xFF
        crc = (crc >> 8) ^ (ch << 8) ^ (ch << 3) ^ (ch >> 4)
    return bytes((crc & 0xFF, crc >> 8))


def bcc(data: Iterable[int]) -> int:
    """The block check character: XOR of the bytes, as sent after a UID part."""
    check = 0
    for byte in data:
        check ^= byte
    return check


@dataclass(frozen=True)
class EmulatedCard:
    """An ISO 14443A card with MIFARE Classic 1K memory.

    ``uid`` is 4, 7 or 10 bytes (single, double or triple size). ``atqa``
    (two bytes as sent, low byte first) and ``blocks`` (64 blocks of 16
    bytes) default to what a factory-fresh card holds: a manufacturer block,
    empty data blocks and trailers with default access bits. ``key`` opens
    every sector, as key A or key B.
    """

    uid: bytes
    atqa: bytes | None = None
    sak: int = 0x08
    blocks: tuple[bytes, ...] = ()
    key: bytes = DEFAULT_KEY

    def __post_init__(self) -> None:
        if len(self.uid) not in _ATQA_BY_SIZE:
            raise ValueError(f"a UID has 4, 7 or 10 bytes, not {len(self.uid)}")
        if self.uid[0] == CASCADE_TAG:
            raise ValueError("a UID cannot start with the cascade tag 0x88")
        if len(self.key) != 6:
            raise ValueError("a MIFARE key has 6 bytes")
        # A frozen dataclass fills its derived defaults through object.__setattr__.
        if self.atqa is None:
            object.__setattr__(self, "atqa", _ATQA_BY_SIZE[len(self.uid)])
        if not self.blocks:
            object.__setattr__(self, "blocks", self._factory_blocks())
        if len(self.blocks) != 64 or any(len(block) != 16 for block in self.blocks):
            raise ValueError("a MIFARE Classic 1K card has 64 blocks of 16 bytes")

    @classmethod
    def from_hex(cls, uid_hex: str, **options: Any) -> EmulatedCard:
        """A card whose UID is written in hex, e.g. ``"04A1B2C3"``."""
        try:
            uid = bytes.fromhex(uid_hex)
        except ValueError:
            raise ValueError(f"not a hex UID: {uid_hex!r}") from None
        return cls(uid, **options)

    def with_block(self, number: int, data: bytes) -> EmulatedCard:
        """A copy of this card with block ``number`` holding ``data``."""
        blocks = list(self.blocks)
        blocks[number] = data
        return dataclasses.replace(self, blocks=tuple(blocks))

    @property
    def cascade_levels(self) -> int:
        """1, 2 or 3 for a single, double or triple-size UID."""
        return (len(self.uid) - 1) // 3

    def uid_part(self, level: int) -> bytes:
        """The four bytes the card answers at cascade ``level``.

        The cascade tag and the next three UID bytes until the last level,
        then the last four UID bytes.
        """
        if level == self.cascade_levels:
            return self.uid[-4:]
        return bytes([CASCADE_TAG]) + self.uid[3 * (level - 1) : 3 * level]

    @property
    def crypto_uid(self) -> bytes:
        """The four UID bytes Crypto1 authentication uses (the last cascade level's)."""
        return self.uid[-4:]

    def _factory_blocks(self) -> tuple[bytes, ...]:
        head = self.uid + (bytes([bcc(self.uid)]) if len(self.uid) == 4 else b"")
        head += bytes([self.sak]) + self.atqa
        manufacturer = head + bytes(16 - len(head))
        # Key A never reads back; key B does with the default access bits.
        trailer = bytes(6) + _TRAILER_ACCESS + self.key
        return tuple(
            manufacturer if n == 0 else trailer if n % 4 == 3 else bytes(16) for n in range(64)
        )


class _CardState(enum.Enum):
    """Where a card stands in the ISO 14443-3 state machine."""

    IDLE = "idle"
    READY = "ready"
    ACTIVE = "active"
    HALT = "halt"


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
        self._card: EmulatedCard | None = None
        self._card_state = _CardState.IDLE
        self._card_was_halted = False
        self._cascade_level = 1
        self._authenticated_sector: int | None = None
        self._irq_output: Callable[[bool], None] | None = None
        self._irq_level = True
        self._reset_registers()

    # The physical world -------------------------------------------------

    @property
    def card(self) -> EmulatedCard | None:
        """The card in the field, if any."""
        with self._lock:
            return self._card

    def present(self, card: EmulatedCard) -> None:
        """Put ``card`` in the field, taking away any card already there."""
        with self._lock:
            self._card = card
            self._power_cycle_card()

    def remove(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            self._card = None
            self._power_cycle_card()

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
            self._power_cycle_card()
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
                self._power_cycle_card()
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
            self._power_cycle_card()
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
        return self._card_answer(frame, self._regs[BIT_FRAMING_REG] & 0x07)

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
        if self._card_accepts(frame):
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

    def _power_cycle_card(self) -> None:
        """The card lost (or newly got) power: it starts again from IDLE."""
        self._card_state = _CardState.IDLE
        self._card_was_halted = False
        self._cascade_level = 1
        self._authenticated_sector = None

    # The card's side of ISO 14443A --------------------------------------

    def _drop_card(self) -> None:
        """An unexpected frame sends the card back to IDLE, or to HALT if it came from there."""
        self._card_state = _CardState.HALT if self._card_was_halted else _CardState.IDLE
        self._cascade_level = 1
        self._authenticated_sector = None

    def _card_answer(self, frame: bytes, tx_last_bits: int) -> tuple[bytes, int] | None:
        if self._card is None or not self._field_on() or self._fail_mode == "no_answer":
            return None
        if tx_last_bits == 7 and len(frame) == 1:
            return self._answer_short_frame(frame[0])
        if tx_last_bits != 0 or not frame:
            self._drop_card()
            return None
        if self._card_state == _CardState.READY:
            return self._answer_anticollision(frame)
        if self._card_state == _CardState.ACTIVE:
            return self._answer_active(frame)
        return None

    def _answer_short_frame(self, command: int) -> tuple[bytes, int] | None:
        state = self._card_state
        if (command == REQA and state == _CardState.IDLE) or (
            command == WUPA and state in (_CardState.IDLE, _CardState.HALT)
        ):
            self._card_was_halted = state == _CardState.HALT
            self._card_state = _CardState.READY
            self._cascade_level = 1
            self._authenticated_sector = None
            return self._card.atqa, 0
        if state in (_CardState.READY, _CardState.ACTIVE):
            self._drop_card()
        return None

    def _answer_anticollision(self, frame: bytes) -> tuple[bytes, int] | None:
        card = self._card
        level = self._cascade_level
        select = SELECT_CODES[level - 1]
        part = card.uid_part(level)
        check = bcc(part)
        if frame == bytes([select, NVB_ANTICOLLISION]):
            if self._fail_mode == "bad_bcc":
                check ^= 0xFF
            return part + bytes([check]), 0
        expected = bytes([select, NVB_SELECT]) + part + bytes([check])
        if len(frame) == 9 and frame[:7] == expected and frame[7:] == crc_a(frame[:7]):
            if level == card.cascade_levels:
                sak = card.sak
                self._card_state = _CardState.ACTIVE
            else:
                sak = SAK_CASCADE_BIT
                self._cascade_level += 1
            return bytes([sak]) + crc_a([sak]), 0
        self._drop_card()
        return None

    def _answer_active(self, frame: bytes) -> tuple[bytes, int] | None:
        if len(frame) < 3 or frame[-2:] != crc_a(frame[:-2]):
            return None  # A damaged frame gets no answer.
        if frame[:2] == bytes([HLTA, 0x00]):
            self._card_state = _CardState.HALT
            self._authenticated_sector = None
            return None
        if frame[0] == MF_READ and len(frame) == 4:
            block = frame[1]
            if block >= len(self._card.blocks) or self._authenticated_sector != block // 4:
                return bytes([NAK_INVALID]), 4
            data = self._card.blocks[block]
            return data + crc_a(data), 0
        self._drop_card()
        return None

    def _card_accepts(self, frame: bytes) -> bool:
        """Whether an MFAuthent frame (command, block, key, UID) opens a sector."""
        card = self._card
        if card is None or not self._field_on() or self._fail_mode == "no_answer":
            return False
        if self._card_state != _CardState.ACTIVE:
            return False
        ok = (
            len(frame) == 12
            and frame[0] in (MF_AUTH_KEY_A, MF_AUTH_KEY_B)
            and frame[1] < len(card.blocks)
            and frame[2:8] == card.key
            and frame[8:12] == card.crypto_uid
        )
        if ok:
            self._authenticated_sector = frame[1] // 4
        else:
            self._drop_card()
        return ok


class EmulatedGPIO:
    """The part of ``RPi.GPIO`` the reader uses, with the reset pin wired to a chip.

    It behaves like RPi.GPIO where the driver could trip (one numbering mode
    per process, outputs only on pins set up as outputs) and keeps every call
    in ``calls`` so tests can check what was done to the pins. fake_rpi's GPIO
    is not used: it prints on every call, records nothing, always claims BCM
    mode and cannot reset the emulated chip.
    """

    BOARD = 10
    BCM = 11
    OUT = 0
    IN = 1
    LOW = 0
    HIGH = 1
    PUD_OFF = 20
    PUD_DOWN = 21
    PUD_UP = 22

    def __init__(self, chip: MFRC522Emulator | None = None, *, reset_pin: int | None = None):
        self.chip = chip
        self.reset_pin = reset_pin
        self.mode: int | None = None
        self.directions: dict[int, int] = {}
        self.levels: dict[int, int] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def getmode(self) -> int | None:
        """The pin numbering mode, or ``None`` before ``setmode``."""
        self.calls.append(("getmode", ()))
        return self.mode

    def setmode(self, mode: int) -> None:
        """Choose BOARD or BCM numbering, once per process as RPi.GPIO insists."""
        self.calls.append(("setmode", (mode,)))
        if mode not in (self.BOARD, self.BCM):
            raise ValueError("An invalid mode was passed to setmode()")
        if self.mode is not None and self.mode != mode:
            raise ValueError("A different mode has already been set!")
        self.mode = mode

    def setwarnings(self, flag: bool) -> None:
        """Accepted and recorded; there are no warnings to silence."""
        self.calls.append(("setwarnings", (flag,)))

    def setup(
        self, channel: int, direction: int, pull_up_down: int = PUD_OFF, initial: int = -1
    ) -> None:
        """Make ``channel`` an input or an output."""
        self.calls.append(("setup", (channel, direction)))
        if self.mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode")
        self.directions[channel] = direction
        if direction == self.OUT and initial != -1:
            self._drive(channel, initial)

    def output(self, channel: int, value: int) -> None:
        """Drive an output pin; the reset pin drives the chip's NRSTPD."""
        self.calls.append(("output", (channel, int(value))))
        if self.directions.get(channel) != self.OUT:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        self._drive(channel, int(value))

    def input(self, channel: int) -> int:
        """The level last driven on ``channel`` (nothing else drives pins here)."""
        self.calls.append(("input", (channel,)))
        if channel not in self.directions:
            raise RuntimeError("You must setup() the GPIO channel first")
        return self.levels.get(channel, self.LOW)

    def cleanup(self, channel: int | None = None) -> None:
        """Return ``channel`` (or, with no argument, every pin and the mode) to its start."""
        self.calls.append(("cleanup", () if channel is None else (channel,)))
        channels = list(self.directions) if channel is None else [channel]
        for pin in channels:
            self.directions.pop(pin, None)
            self.levels.pop(pin, None)
        if channel is None:
            self.mode = None

    def _drive(self, channel: int, value: int) -> None:
        self.levels[channel] = value
        if self.chip is not None and channel == self.reset_pin:
            self.chip.set_reset_line(bool(value))


def load_mfrc522_driver(chip: MFRC522Emulator, gpio: EmulatedGPIO) -> type:
    """The real ``mfrc522.MFRC522`` class, with ``chip`` on its SPI bus and ``gpio`` as RPi.GPIO.

    The driver's module (``mfrc522/MFRC522.py`` of the installed package) is
    loaded afresh under a private name, with an ``__import__`` of its own that
    answers ``import spidev`` with a module whose ``SpiDev()`` returns
    ``chip`` and ``import RPi.GPIO`` with ``gpio``. Nothing is put in or
    taken out of ``sys.modules``, so the rest of the process (gpiozero
    looking for RPi.GPIO, a later real ``import mfrc522``) is unaffected, and
    each call gives a class bound to its own chip. Only ``MFRC522.py`` is
    loaded: the package's ``__init__`` also imports ``SimpleMFRC522``, which
    the product never uses.
    """
    package = importlib.util.find_spec("mfrc522")
    if package is None or not package.submodule_search_locations:
        raise ModuleNotFoundError("the mfrc522 package is not installed", name="mfrc522")
    path = os.path.join(next(iter(package.submodule_search_locations)), "MFRC522.py")
    spec = importlib.util.spec_from_file_location("hardware._mfrc522_on_emulator", path)
    module = importlib.util.module_from_spec(spec)
    stand_ins = {
        "spidev": types.SimpleNamespace(SpiDev=lambda: chip),
        # ``import RPi.GPIO as GPIO`` imports "RPi.GPIO" and takes ``.GPIO`` from the result.
        "RPi.GPIO": types.SimpleNamespace(GPIO=gpio),
    }
    module.__dict__["__builtins__"] = {**vars(builtins), "__import__": _importer(stand_ins)}
    spec.loader.exec_module(module)
    return module.MFRC522


def _importer(stand_ins: dict[str, object]) -> Callable[..., object]:
    def import_(
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> object:
        if level == 0 and name in stand_ins:
            return stand_ins[name]
        return builtins.__import__(name, globals, locals, fromlist, level)

    return import_


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
