"""The MFRC522's IRQ pin on a GPIO input, so the reader waits for it instead of asking.

The chip pulls IRQ low while an enabled interrupt is pending (ComIEnReg's
IRqInv, set at reset; the pin is open-drain until DivIEnReg says otherwise, so
the input is pulled up). :class:`IrqLine` turns the pin's falling edge into a
wake-up for the waiting poll; the level, not the edge, is what it trusts, so
an edge from the driver's own commands that arrives late cannot end a wait
early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gpiozero import DigitalInputDevice, Factory, GPIOZeroError

from locker.errors import HardwareError

#: IRQ mode on an emulated chip: the step in which the chip's time is let pass
#: while the host waits for the pin (a real chip's time passes by itself).
EMULATED_STEP_S = 0.25e-3


class IrqLine:
    """The reader's IRQ pin: BCM ``pin`` on ``pin_factory``, pulled up, active low.

    ``chip_clock`` is for an emulated chip, whose time passes only when told
    (its ``elapse``): the wait then lets it pass in small steps. ``None`` for a
    real chip: the wait blocks on the pin's edge. Raises
    :class:`HardwareError` if the pin cannot be had (in use, or not there).
    """

    def __init__(
        self,
        pin: int,
        *,
        pin_factory: Factory,
        chip_clock: Callable[[float], None] | None = None,
    ):
        self.chip_clock = chip_clock
        self._edge = threading.Event()
        try:
            self._device = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
        except (GPIOZeroError, OSError, ValueError) as exc:
            raise HardwareError(f"cannot use GPIO{pin} for the reader's IRQ: {exc}") from exc
        self._device.when_activated = self._edge.set

    @property
    def asserted(self) -> bool:
        """True while the chip pulls the pin low: an enabled interrupt is pending."""
        return bool(self._device.is_active)

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the chip to assert the pin; True if it did."""
        if self.chip_clock is not None:
            waited = 0.0
            while not self.asserted and waited < timeout_s:
                self.chip_clock(EMULATED_STEP_S)
                waited += EMULATED_STEP_S
            return self.asserted
        deadline = time.monotonic() + timeout_s
        while not self.asserted:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._edge.clear()
            if self.asserted:  # asserted between the check and the clear
                return True
            self._edge.wait(left)
        return True

    def close(self) -> None:
        """Free the GPIO."""
        self._device.close()
