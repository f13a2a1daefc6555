"""A register-level emulation of Microchip's MCP23017 I/O expander on a fake I²C bus.

:class:`EmulatedI2CBus` stands in for ``smbus2.SMBus`` (the calls the expander
driver makes: byte and block reads and writes) and answers for every
:class:`MCP23017Emulator` attached at its 7-bit address. A chip answers the
register protocol of the datasheet (DS20001952C):

* Power-on and reset state: IODIR = 0xFF (every line an input, high
  impedance), every other register 0. So after power-on or a reset nothing is
  driven, and a lock driver needs a pull to its safe state.
* IOCON.BANK = 0 (the default) interleaves the A and B registers (0x00 to
  0x15); BANK = 1 puts port A at 0x00 to 0x0A and port B at 0x10 to 0x1A.
  IOCON answers at both its addresses.
* Sequential mode (IOCON.SEQOP = 0): the address pointer moves on after every
  byte of a block read or write, wrapping at the end of the map (BANK = 0) or
  of the port's block (BANK = 1). Byte mode (SEQOP = 1) stays on the register,
  except that with BANK = 0 it toggles between a register's A and B halves.
* IPOL inverts input lines in GPIO (and so in INTCAP). GPPU pulls an input
  high; an input nothing drives and nothing pulls floats (it reads
  ``floating_level``). Outputs read their OLAT bit.
* Interrupt-on-change (GPINTEN) against the previous level (INTCON = 0) or
  against DEFVAL (INTCON = 1): the first change sets INTF and captures the
  port in INTCAP; both hold, and later changes on that port are not captured,
  until INTCAP or GPIO of that port is read. A DEFVAL mismatch that is still
  there when the interrupt is cleared raises it again at once.
* INTA/INTB follow their port's INTF, or either port's with IOCON.MIRROR;
  IOCON.ODR makes them open-drain (active low, released otherwise), else
  IOCON.INTPOL sets the active level. :meth:`MCP23017Emulator.connect_int`
  reports their levels as they change, for a simulated Pi input.

A chip can be made to stop answering (:meth:`MCP23017Emulator.disconnect`):
its transactions then fail like an unacknowledged address does with smbus2
(``OSError`` EREMOTEIO), and when it answers again it has lost power, so it is
in its power-on state. Every transaction is counted on the bus, so a test can
say how many an idle second costs.

Not emulated, because the product never uses them: DISSLW, HAEN (the SPI
MCP23S17's hardware addressing), the I²C general call and bus timing.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Sequence

#: Register names, in their BANK = 0 order: register ``i`` of port A is at
#: ``2 * i`` and of port B at ``2 * i + 1``; with BANK = 1 at ``i`` and ``0x10 + i``.
REGISTERS = (
    "IODIR",
    "IPOL",
    "GPINTEN",
    "DEFVAL",
    "INTCON",
    "IOCON",
    "GPPU",
    "INTF",
    "INTCAP",
    "GPIO",
    "OLAT",
)
PORTS = ("A", "B")

IOCON_BANK = 0x80
IOCON_MIRROR = 0x40
IOCON_SEQOP = 0x20
IOCON_DISSLW = 0x10
IOCON_HAEN = 0x08
IOCON_ODR = 0x04
IOCON_INTPOL = 0x02

#: Registers the host cannot write.
READ_ONLY = frozenset({"INTF", "INTCAP"})

#: The addresses an MCP23017 can be strapped to (A2..A0 on 0x20).
ADDRESSES = range(0x20, 0x28)


def register_address(name: str, port: str, *, bank: bool = False) -> int:
    """Where register ``name`` of ``port`` ("A" or "B") sits in the map."""
    index = REGISTERS.index(name)
    side = PORTS.index(port)
    return (0x10 * side + index) if bank else (2 * index + side)


def decode_address(address: int, *, bank: bool) -> tuple[str, str] | None:
    """The (register, port) at ``address``, or ``None`` for a hole in the map."""
    if bank:
        side, index = divmod(address, 0x10)
        if side > 1 or index >= len(REGISTERS):
            return None
    else:
        index, side = divmod(address, 2)
        if index >= len(REGISTERS):
            return None
    return REGISTERS[index], PORTS[side]


class MCP23017Emulator:
    """One MCP23017: its registers, its 16 lines and its two interrupt outputs.

    Lines are numbered 0 to 15 (A0..A7, B0..B7). The world outside drives
    input lines with :meth:`drive` (``None``: let go) and reads every line's
    level with :meth:`level`. Thread-safe: the bus and the world may call from
    different threads.
    """

    def __init__(self, *, floating_level: bool = False):
        self.floating_level = floating_level
        self._guard = threading.RLock()
        self._regs: dict[tuple[str, str], int] = {}
        self._driven: list[bool | None] = [None] * 16
        self._last_levels = [False] * 16
        self._rises = [0] * 16
        self._falls = [0] * 16
        self._answering = True
        self._int_listeners: list[Callable[[str, bool], None]] = []
        self._int_levels = {"A": False, "B": False}
        self._pointer = 0
        self.reset()

    # The host's side: registers -------------------------------------------------

    def reset(self) -> None:
        """The power-on (or RESET pin) state: every line an input, every other register 0."""
        with self._guard:
            for name in REGISTERS:
                for port in PORTS:
                    self._regs[name, port] = 0xFF if name == "IODIR" else 0
            self._pointer = 0
            # Outputs let go: a line that was driven high falls to its pull.
            self._pins_moved()

    @property
    def bank(self) -> bool:
        """IOCON.BANK: the register map in use."""
        return bool(self._regs["IOCON", "A"] & IOCON_BANK)

    def register(self, name: str, port: str) -> int:
        """The raw content of a register, without a read's side effects (for tests)."""
        with self._guard:
            if name == "GPIO":
                return self._gpio(port)
            return self._regs[name, port]

    def read_sequence(self, address: int, count: int) -> list[int]:
        """``count`` bytes read from ``address`` on, moving the pointer as IOCON says."""
        with self._guard:
            self._pointer = address
            out = []
            for _ in range(count):
                out.append(self._read(self._pointer))
                self._advance()
            return out

    def write_sequence(self, address: int, data: Sequence[int]) -> None:
        """``data`` written from ``address`` on, moving the pointer as IOCON says."""
        with self._guard:
            self._pointer = address
            for value in data:
                self._write(self._pointer, value & 0xFF)
                self._advance()

    def _advance(self) -> None:
        iocon = self._regs["IOCON", "A"]
        if iocon & IOCON_SEQOP:
            if not iocon & IOCON_BANK:
                self._pointer ^= 1  # byte mode, BANK = 0: toggle between A and B
            return
        if iocon & IOCON_BANK:
            base, offset = divmod(self._pointer, 0x10)
            self._pointer = base * 0x10 + (offset + 1) % len(REGISTERS)
        else:
            self._pointer = (self._pointer + 1) % (2 * len(REGISTERS))

    def _read(self, address: int) -> int:
        where = decode_address(address, bank=self.bank)
        if where is None:
            return 0
        name, port = where
        if name in ("GPIO", "INTCAP"):
            value = self._gpio(port) if name == "GPIO" else self._regs["INTCAP", port]
            self._clear_interrupt(port)
            return value
        return self._regs[name, port]

    def _write(self, address: int, value: int) -> None:
        where = decode_address(address, bank=self.bank)
        if where is None or where[0] in READ_ONLY:
            return
        name, port = where
        if name == "IOCON":
            # One register at two addresses; bit 0 is unimplemented and reads 0.
            value &= 0xFE
            self._regs["IOCON", "A"] = self._regs["IOCON", "B"] = value
            self._update_int()
            return
        if name == "GPIO":
            name = "OLAT"  # a write to GPIO writes the output latch
        self._regs[name, port] = value
        if name in ("IODIR", "OLAT", "GPPU", "IPOL", "GPINTEN", "DEFVAL", "INTCON"):
            self._pins_moved()

    def _gpio(self, port: str) -> int:
        side = PORTS.index(port)
        iodir, ipol = self._regs["IODIR", port], self._regs["IPOL", port]
        value = 0
        for bit in range(8):
            level = self._pin_level(8 * side + bit)
            if iodir & (1 << bit) and ipol & (1 << bit):
                level = not level
            value |= int(level) << bit
        return value

    # The world's side: lines ------------------------------------------------------

    def drive(self, line: int, level: bool | None) -> None:
        """Hold line ``line`` at ``level`` from outside (``None``: let go)."""
        with self._guard:
            self._driven[line] = level
            self._pins_moved()

    def level(self, line: int) -> bool:
        """The electrical level on line ``line``: an output's latch, else what holds the input."""
        with self._guard:
            return self._pin_level(line)

    def edges(self, line: int) -> tuple[int, int]:
        """How many times line ``line`` rose and fell since the chip was made."""
        with self._guard:
            return self._rises[line], self._falls[line]

    def is_output(self, line: int) -> bool:
        """Whether line ``line`` is an output now (its IODIR bit clear)."""
        port, bit = PORTS[line // 8], line % 8
        with self._guard:
            return not self._regs["IODIR", port] & (1 << bit)

    def int_level(self, port: str) -> bool | None:
        """INTA or INTB's level: ``None`` while an open-drain output is released."""
        with self._guard:
            return self._int_output(port)

    def connect_int(self, listener: Callable[[str, bool | None], None]) -> None:
        """Call ``listener(port, level)`` whenever INTA or INTB changes level."""
        with self._guard:
            self._int_listeners.append(listener)

    @property
    def answering(self) -> bool:
        """False while the chip does not acknowledge its address."""
        return self._answering

    def disconnect(self) -> None:
        """Stop answering on the bus (a cut wire, a chip without power)."""
        with self._guard:
            self._answering = False

    def reconnect(self) -> None:
        """Answer again, in the power-on state: the chip lost its registers."""
        with self._guard:
            self._answering = True
            self.reset()

    def _pin_level(self, line: int) -> bool:
        port, bit = PORTS[line // 8], line % 8
        mask = 1 << bit
        if not self._regs["IODIR", port] & mask:
            return bool(self._regs["OLAT", port] & mask)
        driven = self._driven[line]
        if driven is not None:
            return driven
        return True if self._regs["GPPU", port] & mask else self.floating_level

    def _pins_moved(self) -> None:
        """Compare every line with its last level and raise the interrupts due."""
        for line in range(16):
            level = self._pin_level(line)
            changed = level != self._last_levels[line]
            self._last_levels[line] = level
            if changed:
                if level:
                    self._rises[line] += 1
                else:
                    self._falls[line] += 1
            port, bit = PORTS[line // 8], line % 8
            mask = 1 << bit
            if not self._regs["GPINTEN", port] & mask or not self._regs["IODIR", port] & mask:
                continue
            if self._regs["INTCON", port] & mask:
                due = level != bool(self._regs["DEFVAL", port] & mask)
            else:
                due = changed
            if due:
                self._interrupt(port, mask)
        self._update_int()

    def _interrupt(self, port: str, mask: int) -> None:
        # Only the first condition is captured: later ones wait for a clear.
        if self._regs["INTF", port]:
            return
        self._regs["INTF", port] = mask
        self._regs["INTCAP", port] = self._gpio(port)

    def _clear_interrupt(self, port: str) -> None:
        if not self._regs["INTF", port]:
            return
        self._regs["INTF", port] = 0
        # A DEFVAL comparison that still fails interrupts again at once.
        side = PORTS.index(port)
        enabled = self._regs["GPINTEN", port] & self._regs["IODIR", port]
        for bit in range(8):
            mask = 1 << bit
            if enabled & mask and self._regs["INTCON", port] & mask:
                level = self._pin_level(8 * side + bit)
                if level != bool(self._regs["DEFVAL", port] & mask):
                    self._interrupt(port, mask)
                    break
        self._update_int()

    def _int_active(self, port: str) -> bool:
        if self._regs["IOCON", "A"] & IOCON_MIRROR:
            return bool(self._regs["INTF", "A"] or self._regs["INTF", "B"])
        return bool(self._regs["INTF", port])

    def _int_output(self, port: str) -> bool | None:
        active = self._int_active(port)
        iocon = self._regs["IOCON", "A"]
        if iocon & IOCON_ODR:
            return False if active else None
        return active == bool(iocon & IOCON_INTPOL)

    def _update_int(self) -> None:
        for port in PORTS:
            level = self._int_output(port)
            if level != self._int_levels[port]:
                self._int_levels[port] = level
                for listener in list(self._int_listeners):
                    listener(port, level)


class EmulatedI2CBus:
    """An I²C bus with emulated chips on it, answering as ``smbus2.SMBus`` does.

    ``transactions`` counts every bus transaction (a byte or block read or
    write is one), so the idle cost of the expanders can be measured.
    """

    def __init__(self, bus: int = 1):
        self.bus = bus
        self.transactions = 0
        self._chips: dict[int, MCP23017Emulator] = {}
        self._guard = threading.Lock()

    def attach(self, address: int, chip: MCP23017Emulator) -> MCP23017Emulator:
        """Put ``chip`` on the bus at ``address`` (0x20 to 0x27); return it."""
        if address not in ADDRESSES:
            raise ValueError(f"an MCP23017 answers at 0x20 to 0x27, not {address:#04x}")
        if address in self._chips:
            raise ValueError(f"address {address:#04x} is already taken on bus {self.bus}")
        self._chips[address] = chip
        return chip

    def chip(self, address: int) -> MCP23017Emulator:
        """The chip at ``address``."""
        return self._chips[address]

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """One register, as ``SMBus.read_byte_data``."""
        return self._chip(i2c_addr).read_sequence(register, 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """One register, as ``SMBus.write_byte_data``."""
        self._chip(i2c_addr).write_sequence(register, [value])

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """``length`` bytes from ``register`` on, as ``SMBus.read_i2c_block_data``."""
        if not 0 < length <= 32:
            raise ValueError("an I2C block is 1 to 32 bytes")
        return self._chip(i2c_addr).read_sequence(register, length)

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        """``data`` from ``register`` on, as ``SMBus.write_i2c_block_data``."""
        if not 0 < len(data) <= 32:
            raise ValueError("an I2C block is 1 to 32 bytes")
        self._chip(i2c_addr).write_sequence(register, data)

    def close(self) -> None:
        """Nothing to release; here for ``SMBus`` compatibility."""

    def _chip(self, address: int) -> MCP23017Emulator:
        with self._guard:
            self.transactions += 1
        chip = self._chips.get(address)
        if chip is None or not chip.answering:
            # What the kernel's i2c-dev says when nothing acknowledges the address.
            raise OSError(errno.EREMOTEIO, f"no answer at {address:#04x} on I2C bus {self.bus}")
        return chip
