"""Which pin belongs to what: the Pi's GPIOs and the expanders' lines, each used once.

A pin in config is a Pi GPIO number or an MCP23017 expander line written
``"mcp0:A0"`` to ``"mcp0:B7"`` for the expander declared as ``[[expanders]]
name = "mcp0"``. Every message names the key, as the rest of config does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from locker.errors import ConfigError

#: A pin in config: a Pi GPIO number, or an expander line.
Pin = int | str

#: BCM GPIOs a Raspberry Pi exposes on its 40-pin header.
PI_GPIOS = range(0, 28)
#: SPI0 (MISO, MOSI, SCLK, CE0, CE1): taken by the reader, never a slot pin.
SPI0_PINS = frozenset({7, 8, 9, 10, 11})
#: I2C1 (SDA, SCL): taken by the expanders' bus when a config declares any.
I2C1_PINS = frozenset({2, 3})
#: The addresses an MCP23017 can be strapped to (A2, A1, A0 on 0x20).
EXPANDER_ADDRESSES = (0x20, 0x27)
#: An expander's name: what its pins start with.
EXPANDER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: An expander line: the expander's name, a colon, the port and the line.
EXPANDER_PIN = re.compile(r"(?P<expander>[A-Za-z][A-Za-z0-9_]*):(?P<port>[AB])(?P<line>[0-7])")


@dataclass(frozen=True)
class ExpanderConfig:
    """One MCP23017 I/O expander on an I2C bus: 16 more lines, A0..A7 and B0..B7.

    Slot pins name its lines as ``"<name>:A0"``. After power-on or a reset
    every line is an input (high impedance), so each lock driver's input needs
    a pull resistor to its safe level (see docs/hardware.md).
    """

    #: What pins call it, e.g. ``mcp0`` for ``"mcp0:A3"``.
    name: str
    #: Address strapped on A2..A0: 0x20 to 0x27 (eight on one bus).
    address: int = field(metadata={"range": EXPANDER_ADDRESSES, "hex": True})
    #: Pi GPIO its INTA/INTB (mirrored, open drain) are wired to; expanders
    #: may share one (their open-drain outputs wire-OR on the Pi's pull-up).
    interrupt_pin: int = field(metadata={"range": (0, 4095)})
    #: The I2C bus number (``/dev/i2c-N``): 1 on the header's GPIO2/GPIO3.
    bus: int = field(default=1, metadata={"range": (0, 31)})


def expander_pin(value: str, key: str) -> str:
    """``value`` if it is written as an expander line, else a ConfigError naming ``key``."""
    if EXPANDER_PIN.fullmatch(value) is None:
        raise ConfigError(
            f"{key}: {value!r} is neither a GPIO number nor an expander line "
            '("mcp0:A0" to "mcp0:B7")'
        )
    return value


def check_pins(
    claims: list[tuple[Pin | None, str]],
    expanders: tuple[ExpanderConfig, ...],
    *,
    on_pi: bool,
) -> None:
    """Each ``(pin, key)`` of ``claims`` on the board it names, and none used twice.

    ``on_pi``: GPIOs must be on the Pi's header and off SPI0 (and I2C1 when
    there are expanders). The expanders' interrupt lines are claimed first.
    """
    owners: dict[Pin, str] = {}
    names = check_expanders(expanders)
    if names and on_pi:
        for pin in sorted(I2C1_PINS):
            owners[pin] = "the expanders' I2C bus"
    for pin, key in [*_interrupt_pins(expanders).items(), *claims]:
        if pin is None:
            continue
        if isinstance(pin, str):
            expander = pin.split(":")[0]
            if expander not in names:
                raise ConfigError(f"{key}: expander {expander!r} is not declared in [[expanders]]")
        elif on_pi and pin not in PI_GPIOS:
            raise ConfigError(f"{key}: GPIO{pin} is not on the Pi's header (0 to 27)")
        elif on_pi and pin in SPI0_PINS:
            raise ConfigError(f"{key}: GPIO{pin} belongs to SPI0, which the reader uses")
        if pin in owners:
            spelled = pin if isinstance(pin, str) else f"GPIO{pin}"
            raise ConfigError(f"{key}: {spelled} is already used by {owners[pin]}")
        owners[pin] = key


def check_expanders(expanders: tuple[ExpanderConfig, ...]) -> set[str]:
    """Names well formed and unique, one expander per address on a bus; returns the names."""
    names: set[str] = set()
    places: dict[tuple[int, int], str] = {}
    for i, expander in enumerate(expanders):
        key = f"expanders[{i}]"
        if EXPANDER_NAME.fullmatch(expander.name) is None:
            raise ConfigError(f"{key}.name: {expander.name!r} must be letters, digits or _")
        if expander.name in names:
            raise ConfigError(f"{key}.name: expander {expander.name!r} is declared twice")
        names.add(expander.name)
        place = (expander.bus, expander.address)
        if place in places:
            raise ConfigError(
                f"{key}.address: {expander.address:#04x} on bus {expander.bus} is already "
                f"{places[place]}"
            )
        places[place] = expander.name
    return names


def _interrupt_pins(expanders: tuple[ExpanderConfig, ...]) -> dict[int, str]:
    """Each Pi GPIO an expander interrupt uses, named by its first key (sharing is fine)."""
    pins: dict[int, str] = {}
    for i, expander in enumerate(expanders):
        pins.setdefault(expander.interrupt_pin, f"expanders[{i}].interrupt_pin")
    return pins
