"""Building the expander bank from config: the buses, the drivers, the pin factory.

On a Pi each ``[[expanders]]`` bus is ``/dev/i2c-N`` through ``smbus2``; the
simulated backend hands in emulated buses instead (see
:mod:`hardware.expander_sim`). With no expanders declared the Pi's factory is
used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gpiozero.pins import Factory

from hardware.expander_pins import ExpanderPinFactory
from hardware.expander_sim import SimulatedExpanders
from hardware.mcp23017 import I2CBus, Mcp23017
from locker.config import Config
from locker.errors import HardwareError


def open_buses(config: Config) -> dict[int, I2CBus]:
    """``smbus2.SMBus`` for every bus the config's expanders are on."""
    from smbus2 import SMBus  # only on a Pi: the simulated backend never opens a bus

    buses: dict[int, I2CBus] = {}
    for expander in config.expanders:
        if expander.bus in buses:
            continue
        try:
            buses[expander.bus] = SMBus(expander.bus)
        except OSError as exc:
            raise HardwareError(
                f"I2C bus {expander.bus} (/dev/i2c-{expander.bus}): {exc.strerror or exc}; "
                "is I2C enabled (raspi-config, dtparam=i2c_arm=on)?"
            ) from exc
    return buses


def expander_factory(
    config: Config,
    base: Factory,
    buses: Mapping[int, I2CBus],
    monotonic: Callable[[], float],
) -> ExpanderPinFactory:
    """The factory serving ``config``'s expander lines beside ``base``'s pins.

    Each expander is initialised at once (every line an input until a device
    claims it); one that does not answer is a fault the daemon reports.
    """
    chips = {e.name: Mcp23017(e.name, buses[e.bus], e.address) for e in config.expanders}
    interrupts = {e.name: e.interrupt_pin for e in config.expanders}
    return ExpanderPinFactory(base, chips, interrupts, monotonic=monotonic)


def with_expanders(
    config: Config, base: Factory, monotonic: Callable[[], float]
) -> tuple[Factory, ExpanderPinFactory | None, SimulatedExpanders | None]:
    """The pin factory for ``config``'s devices: ``base``, or the expanders' on top of it.

    Returns ``(factory, expander factory or None, simulated expanders or
    None)``: the simulated backend's expanders are emulated chips whose INTA
    drive ``base``'s simulated pins; on a Pi they are opened on ``/dev/i2c-N``.
    """
    if not config.expanders:
        return base, None, None
    simulated = None
    if config.hardware.backend == "gpio":
        buses = open_buses(config)
    else:
        simulated = SimulatedExpanders(config, base)
        buses = dict(simulated.buses)
    expanders = expander_factory(config, base, buses, monotonic)
    return expanders, expanders, simulated
