"""The doctor's hardware probes: the pins and the reader, as the daemon would open them."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

from gpiozero import GPIOZeroError, InputDevice

from hardware.mcp23017 import Mcp23017
from hardware.pins import make_pin_factory
from hardware.reader import BadgeReader, Mfrc522Factory
from locker.clock import SystemClock
from locker.config import HardwareConfig, ReaderConfig
from locker.config_pins import ExpanderConfig
from locker.doctor_base import BadgeReaderLike, Environment
from locker.errors import HardwareError


class MachineEnvironment(Environment):
    """:class:`~locker.doctor_base.Environment` with this machine's pins and reader."""

    def pin_factory(self, hardware: HardwareConfig) -> Any:
        """The gpiozero pin factory the daemon would use; raises :class:`HardwareError`."""
        return make_pin_factory(hardware)

    def claim_input(self, factory: Any, pin: int, *, pull_up: bool) -> str | None:
        """Claim ``pin`` as an input with the given pull and release it at once.

        Returns what the pin library warned about (RPi.GPIO: "already in use"),
        or ``None``. Raises :class:`HardwareError` if the pin cannot be claimed.
        """
        errors: tuple[type[BaseException], ...] = (GPIOZeroError, RuntimeError, OSError)
        with contextlib.suppress(ImportError):
            import lgpio  # "GPIO busy" comes as lgpio.error

            errors += (lgpio.error,)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                InputDevice(pin, pull_up=pull_up, pin_factory=factory).close()
            except errors as exc:
                raise HardwareError(f"GPIO{pin}: {exc}") from exc
        return "; ".join(str(w.message) for w in caught) or None

    def probe_expander(self, expander: ExpanderConfig) -> str | None:
        """Ask the MCP23017 at its address to read back a register (left as it was)."""
        from smbus2 import SMBus

        try:
            bus = SMBus(expander.bus)
        except OSError as exc:
            raise HardwareError(f"I2C bus {expander.bus}: {exc.strerror or exc}") from exc
        try:
            return Mcp23017(expander.name, bus, expander.address).probe()
        finally:
            bus.close()

    def open_reader(self, reader: ReaderConfig) -> BadgeReaderLike:
        """The real badge reader on this Pi's SPI bus (opened on first use)."""
        factory = Mfrc522Factory.on_pi(
            bus=reader.spi_bus, device=reader.spi_device, reset_pin=reader.rst_pin
        )
        return BadgeReader(factory, SystemClock())
