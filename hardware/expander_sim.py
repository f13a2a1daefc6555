"""Simulated expanders: emulated MCP23017s on emulated buses, their INTA on simulated Pi pins.

The daemon's driver talks to :class:`~hardware.mcp23017_emulator.MCP23017Emulator`
chips through :class:`~hardware.mcp23017_emulator.EmulatedI2CBus`, exactly as it
talks to real ones through ``smbus2``; the simulated world reaches the other
side of the chips, their lines, through :class:`EmulatedLine`, which behaves
like the :class:`~hardware.pins.SimulatedPin` of a Pi GPIO.
"""

from __future__ import annotations

from hardware.mcp23017 import line_number
from hardware.mcp23017_emulator import EmulatedI2CBus, MCP23017Emulator
from hardware.pins import SimulatedPin
from locker.config import Config
from locker.config_pins import EXPANDER_PIN
from locker.errors import HardwareError


class EmulatedLine:
    """The wire side of one emulated expander line, for the simulated world."""

    def __init__(self, chip: MCP23017Emulator, line: int):
        self.chip = chip
        self.line = line

    @property
    def function(self) -> str:
        """``output`` while the chip drives the line, else ``input``."""
        return "output" if self.chip.is_output(self.line) else "input"

    @property
    def state(self) -> bool:
        """The line's level."""
        return self.chip.level(self.line)

    @property
    def rises(self) -> int:
        """Times the line went from low to high."""
        return self.chip.edges(self.line)[0]

    @property
    def falls(self) -> int:
        """Times the line went from high to low."""
        return self.chip.edges(self.line)[1]

    def wire(self, level: bool | None) -> None:
        """Hold the line at ``level`` from outside (a switch), or let go (``None``)."""
        self.chip.drive(self.line, level)


class SimulatedExpanders:
    """The config's expanders, emulated, with their interrupt lines on ``pin_factory``.

    Expanders sharing an interrupt GPIO pull it low together (open drain); the
    line's pull-up resistor holds it high otherwise.
    """

    def __init__(self, config: Config, pin_factory):  # noqa: ANN001 - a SimulatedPinFactory
        self.buses: dict[int, EmulatedI2CBus] = {}
        self.chips: dict[str, MCP23017Emulator] = {}
        #: Interrupt GPIOs whose wire is cut: their pull-up holds them high.
        self.cut: set[int] = set()
        groups: dict[int, list[MCP23017Emulator]] = {}
        for expander in config.expanders:
            bus = self.buses.setdefault(expander.bus, EmulatedI2CBus(expander.bus))
            chip = bus.attach(expander.address, MCP23017Emulator())
            self.chips[expander.name] = chip
            groups.setdefault(expander.interrupt_pin, []).append(chip)
        for gpio, chips in groups.items():
            pin = pin_factory.pin(gpio)
            if not isinstance(pin, SimulatedPin):
                raise HardwareError(f"GPIO{gpio}: simulated expanders need a SimulatedPinFactory")

            def follow(_port: str, _level: bool | None, gpio=gpio, pin=pin, chips=chips) -> None:
                # INTA alone: MIRROR makes it speak for both ports.
                active = gpio not in self.cut and any(c.int_level("A") is False for c in chips)
                pin.wire(not active)

            for chip in chips:
                chip.connect_int(follow)
            follow("A", None)

    @property
    def transactions(self) -> int:
        """Bus transactions so far on every emulated bus."""
        return sum(bus.transactions for bus in self.buses.values())

    def line(self, name: str) -> EmulatedLine:
        """The wire side of expander line ``name`` (``"mcp0:A3"``)."""
        match = EXPANDER_PIN.fullmatch(name)
        if match is None or match["expander"] not in self.chips:
            raise HardwareError(f"{name}: not a line of a simulated expander")
        line = line_number(match["port"], int(match["line"]))
        return EmulatedLine(self.chips[match["expander"]], line)
