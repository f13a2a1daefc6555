"""The MCP23017 driver: one expander's registers over an I²C bus (``smbus2.SMBus``).

The driver keeps a copy of everything it wrote (directions, pulls, interrupt
enables, output latches) and of the input levels it last read, so a device
asking for a pin's state costs no bus transaction: inputs arrive by interrupt
(:meth:`Mcp23017.service`, one block read per edge) and a slow consistency
read (:meth:`Mcp23017.check`) catches an edge the interrupt missed and an
expander that lost its registers (a brown-out resets it to all inputs).

Register addresses are the datasheet's with IOCON.BANK = 0, the power-on map.
The chip is set up with MIRROR (INTA and INTB both say "either port"), open
drain interrupt outputs (so several expanders can share one Pi input with its
pull-up) and sequential addressing (block reads walk the map).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

IODIRA = 0x00
IPOLA = 0x02
GPINTENA = 0x04
DEFVALA = 0x06
INTCONA = 0x08
IOCON = 0x0A
GPPUA = 0x0C
INTFA = 0x0E
GPIOA = 0x12
OLATA = 0x14
#: Registers from IODIRA to OLATB: the whole map in one block read.
MAP_LENGTH = 0x16

IOCON_MIRROR = 0x40
IOCON_ODR = 0x04
#: IOCON as this driver sets it: mirrored, open-drain interrupts; BANK = 0, SEQOP = 0.
IOCON_VALUE = IOCON_MIRROR | IOCON_ODR

LINES = 16


class I2CBus(Protocol):
    """What the driver needs of ``smbus2.SMBus`` (and the emulated bus)."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        """One register."""

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        """One register."""

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        """``length`` registers from ``register`` on."""

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None:
        """Registers from ``register`` on."""


def line_number(port: str, bit: int) -> int:
    """The 0..15 line of ``port`` ("A" or "B") bit ``bit``."""
    return (8 if port == "B" else 0) + bit


class Mcp23017:
    """One MCP23017 at ``address`` on ``bus``, as the daemon drives it.

    Bus errors (``OSError``: the chip does not acknowledge) propagate; the
    expander factory turns them into a fault and keeps trying :meth:`check`.
    Calls come from the daemon's loop and from gpiozero's interrupt thread, so
    every bus conversation holds one lock.
    """

    def __init__(self, name: str, bus: I2CBus, address: int):
        self.name = name
        self.bus = bus
        self.address = address
        self._guard = threading.RLock()
        # What the driver wants the chip to hold, 16 bits each, port A low.
        self._iodir = 0xFFFF
        self._gppu = 0
        self._gpinten = 0
        self._olat = 0
        #: Input levels as last read (bit set: high).
        self._levels = 0

    def __repr__(self) -> str:
        return f"<Mcp23017 {self.name} at {self.address:#04x}>"

    def configure(self) -> list[tuple[int, bool]]:
        """Write every register the driver owns: the latches before the directions,
        so an output comes up at the level it was meant to have, never a glitch.

        Returns the input changes since the levels last known (after a chip
        came back, what moved while it was away)."""
        with self._guard:
            self.bus.write_byte_data(self.address, IOCON, IOCON_VALUE)
            self._write_pair(OLATA, self._olat)
            self._write_pair(GPPUA, self._gppu)
            self._write_pair(IPOLA, 0)
            self._write_pair(INTCONA, 0)
            self._write_pair(DEFVALA, 0)
            self._write_pair(GPINTENA, self._gpinten)
            self._write_pair(IODIRA, self._iodir)
            changes: list[tuple[int, bool]] = []
            self._levels = self._changes(self._levels, self._read_pair(GPIOA), 0xFFFF, changes)
            return changes

    def set_output(self, line: int, level: bool) -> None:
        """Make ``line`` an output at ``level`` (latch first, then direction)."""
        with self._guard:
            self._set_bit("_olat", line, level)
            self._write_pair(OLATA, self._olat)
            self._set_bit("_iodir", line, False)
            self._write_pair(IODIRA, self._iodir)

    def set_input(self, line: int) -> None:
        """Make ``line`` an input (high impedance unless pulled up)."""
        with self._guard:
            self._set_bit("_iodir", line, True)
            self._write_pair(IODIRA, self._iodir)
            self._learn(line)

    def set_pull_up(self, line: int, on: bool) -> None:
        """Turn the line's 100 kΩ pull-up on or off (the chip has no pull-down)."""
        with self._guard:
            self._set_bit("_gppu", line, on)
            self._write_pair(GPPUA, self._gppu)
            self._learn(line)

    def set_interrupt(self, line: int, on: bool) -> None:
        """Interrupt on every change of ``line`` (against its previous level)."""
        with self._guard:
            self._set_bit("_gpinten", line, on)
            self._write_pair(GPINTENA, self._gpinten)

    def write(self, line: int, level: bool) -> None:
        """Drive output ``line`` to ``level``: one write of its port's latch."""
        with self._guard:
            self._set_bit("_olat", line, level)
            port = line // 8
            self.bus.write_byte_data(self.address, OLATA + port, (self._olat >> 8 * port) & 0xFF)

    def output_level(self, line: int) -> bool:
        """The level the driver last wrote to output ``line``."""
        return bool(self._olat >> line & 1)

    def level(self, line: int) -> bool:
        """Input ``line``'s level as last read: no bus transaction."""
        return bool(self._levels >> line & 1)

    def service(self) -> list[tuple[int, bool]]:
        """Answer an interrupt: one block read of INTF, INTCAP and GPIO (which clears it).

        Returns the input changes in order, ``(line, level)``. A line that
        changed and changed back before the read shows both edges: the
        captured level, then the present one.
        """
        with self._guard:
            intfa, intfb, capa, capb, gpioa, gpiob = self.bus.read_i2c_block_data(
                self.address, INTFA, 6
            )
            flagged = intfa | intfb << 8
            captured = capa | capb << 8
            now = gpioa | gpiob << 8
            changes: list[tuple[int, bool]] = []
            levels = self._levels
            if flagged:
                # INTCAP holds the port as it was at the first change.
                levels = self._changes(levels, captured, flagged, changes)
            self._levels = self._changes(levels, now, self._iodir, changes)
            return changes

    def check(self) -> tuple[bool, list[tuple[int, bool]]]:
        """The slow consistency read: the whole map in one transaction.

        Returns ``(intact, changes)``: ``intact`` is false when the chip no
        longer holds what the driver wrote (it was reset or lost power; call
        :meth:`configure`), ``changes`` the input changes an interrupt missed.
        Reading GPIO also clears an interrupt left pending.
        """
        with self._guard:
            regs = self.bus.read_i2c_block_data(self.address, IODIRA, MAP_LENGTH)

            def pair(register: int) -> int:
                return regs[register] | regs[register + 1] << 8

            intact = (
                regs[IOCON] == IOCON_VALUE
                and pair(IODIRA) == self._iodir
                and pair(GPPUA) == self._gppu
                and pair(GPINTENA) == self._gpinten
                and pair(OLATA) == self._olat
            )
            changes: list[tuple[int, bool]] = []
            if intact:
                self._levels = self._changes(self._levels, pair(GPIOA), self._iodir, changes)
            return intact, changes

    def probe(self) -> str | None:
        """For ``locker doctor``: ``None`` if the chip answers and reads back a
        register as written, else what is wrong. Leaves the chip as it was."""
        with self._guard:
            try:
                saved = self.bus.read_byte_data(self.address, DEFVALA)
                for pattern in (0xA5, 0x5A):
                    self.bus.write_byte_data(self.address, DEFVALA, pattern)
                    back = self.bus.read_byte_data(self.address, DEFVALA)
                    if back != pattern:
                        return f"wrote {pattern:#04x} to DEFVALA, read back {back:#04x}"
                self.bus.write_byte_data(self.address, DEFVALA, saved)
            except OSError as exc:
                return f"no answer at {self.address:#04x}: {exc.strerror or exc}"
            return None

    def _changes(self, before: int, after: int, mask: int, out: list[tuple[int, bool]]) -> int:
        """Append each input line of ``mask`` that differs, return the new levels."""
        differ = (before ^ after) & mask & self._iodir
        for line in range(LINES):
            if differ >> line & 1:
                out.append((line, bool(after >> line & 1)))
        return (before & ~differ) | (after & differ)

    def _learn(self, line: int) -> None:
        """Read ``line``'s level as set up. Other lines keep their known levels, so a
        change of theirs that this read's clearing of the interrupt hides still
        shows at the next :meth:`check`."""
        mask = 1 << line
        self._levels = (self._levels & ~mask) | (self._read_pair(GPIOA) & mask)

    def _set_bit(self, register: str, line: int, on: bool) -> None:
        value = getattr(self, register)
        setattr(self, register, value | 1 << line if on else value & ~(1 << line))

    def _write_pair(self, register: int, value: int) -> None:
        self.bus.write_i2c_block_data(self.address, register, [value & 0xFF, value >> 8])

    def _read_pair(self, register: int) -> int:
        low, high = self.bus.read_i2c_block_data(self.address, register, 2)
        return low | high << 8
