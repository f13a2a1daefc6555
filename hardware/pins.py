"""Pin factories: gpiozero's real ones on a Pi, a roomy mock board everywhere else.

Devices never reach for gpiozero's global ``Device.pin_factory``; the daemon
makes one factory here and hands it to every device it builds.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points

from gpiozero.compat import frozendict
from gpiozero.pins import BoardInfo, Factory, HeaderInfo, PinInfo
from gpiozero.pins.mock import MockFactory, MockPin

from locker.config import HardwareConfig
from locker.errors import HardwareError

log = logging.getLogger(__name__)

#: GPIOs the simulated board starts with: GPIO0 to GPIO127. It grows when a
#: config names a pin beyond them (see :class:`SimulatedPinFactory`).
SIM_GPIO_COUNT = 128
#: The most GPIOs a simulated board grows to: a thousand slots of four pins,
#: so that a mistyped pin number is an error, not a board of a million pins.
SIM_GPIO_LIMIT = 4096
#: Factories tried, in order, when the config leaves ``pin_factory`` empty and
#: ``GPIOZERO_PIN_FACTORY`` is unset: gpiozero's own order of preference.
DEFAULT_FACTORY_ORDER = ("lgpio", "rpigpio", "pigpio", "native")
#: History entries a simulated pin keeps; a demo left running for weeks would
#: otherwise grow ``MockPin.states`` without bound.
PIN_HISTORY_LIMIT = 10_000

_FACTORY_ENTRY_POINTS = "gpiozero_pin_factories"


def make_pin_factory(hardware: HardwareConfig) -> Factory:
    """The pin factory the ``[hardware]`` config asks for.

    ``simulated`` gives a :class:`SimulatedPinFactory`. ``gpio`` gives
    gpiozero's factory named by ``pin_factory``; when that is empty,
    ``GPIOZERO_PIN_FACTORY`` and then gpiozero's usual order are tried, without
    gpiozero's fallback warnings. Raises :class:`HardwareError` naming every
    factory that failed and why.
    """
    if hardware.backend == "simulated":
        return SimulatedPinFactory()
    name = hardware.pin_factory or os.environ.get("GPIOZERO_PIN_FACTORY", "")
    if name:
        return load_pin_factory(name)
    failures = []
    for candidate in DEFAULT_FACTORY_ORDER:
        try:
            factory = load_pin_factory(candidate)
        except HardwareError as exc:
            failures.append(str(exc))
            continue
        log.info("using the %s pin factory", candidate)
        return factory
    raise HardwareError("no GPIO pin factory works here: " + "; ".join(failures))


def load_pin_factory(name: str) -> Factory:
    """Construct gpiozero's pin factory called ``name`` (``lgpio``, ``rpigpio``...)."""
    candidates = {ep.name: ep for ep in entry_points(group=_FACTORY_ENTRY_POINTS)}
    entry = candidates.get(name) or candidates.get(name.lower())
    if entry is None:
        known = ", ".join(sorted(candidates))
        raise HardwareError(f"pin factory {name!r}: unknown (gpiozero knows {known})")
    try:
        return entry.load()()
    # Each driver fails its own way off a Pi: a missing module (ImportError),
    # RPi.GPIO's RuntimeError, gpiozero's PinUnknownPi (a RuntimeError), or an
    # OSError from /dev/gpiomem or the pigpio socket.
    except (ImportError, RuntimeError, OSError) as exc:
        raise HardwareError(f"pin factory {name!r}: {exc}") from exc


def simulated_board_info(gpio_count: int = SIM_GPIO_COUNT) -> BoardInfo:
    """A board with one header of ``gpio_count`` plain GPIOs and no fixed pulls.

    Pin ``n`` answers to ``n``, ``"n"``, ``"GPIOn"`` and ``"BCMn"`` like a Pi's,
    and sits at physical position ``SIM:n+1``.
    """
    pins = {}
    for gpio in range(gpio_count):
        number = gpio + 1
        row, col = divmod(gpio, 2)
        pins[number] = PinInfo(
            number=number,
            name=f"GPIO{gpio}",
            names=frozenset({gpio, str(gpio), f"GPIO{gpio}", f"BCM{gpio}", f"SIM:{number}"}),
            pull="",
            row=row + 1,
            col=col + 1,
            interfaces=frozenset({"gpio"}),
        )
    header = HeaderInfo(name="SIM", rows=(gpio_count + 1) // 2, columns=2, pins=frozendict(pins))
    return BoardInfo(
        revision="sim",
        model="simulated locker bank",
        pcb_revision="1.0",
        released="",
        soc="none",
        manufacturer="nursery-locker",
        memory=0,
        storage="none",
        usb=0,
        usb3=0,
        ethernet=0,
        eth_speed=0,
        wifi=False,
        bluetooth=False,
        csi=0,
        dsi=0,
        headers=frozendict({"SIM": header}),
        board="{SIM}",
    )


class SimulatedPin(MockPin):
    """A mock pin that counts its edges and can be wired to a simulated switch.

    ``rises`` and ``falls`` count level changes since the pin was made, so an
    observer that looks only now and then still sees a pulse that came and went
    in between. ``wire(level)`` models a switch or sensor holding an input at a
    level: like a switch to ground, it beats the pull resistor, so a device
    that sets ``pull_up=True`` afterwards does not bring the input back up.
    """

    def __init__(self, factory: Factory, info: PinInfo):
        self._rises = 0
        self._falls = 0
        self._wired: bool | None = None
        super().__init__(factory, info)

    @property
    def rises(self) -> int:
        """How many times the pin went from low to high."""
        return self._rises

    @property
    def falls(self) -> int:
        """How many times the pin went from high to low."""
        return self._falls

    @property
    def wired_level(self) -> bool | None:
        """The level an outside switch holds this input at, or ``None`` if nothing does."""
        return self._wired

    def wire(self, level: bool | None) -> None:
        """Hold the input at ``level`` from outside (``None``: let the pull decide)."""
        self._wired = level
        if self.function == "input":
            self._follow_wiring()

    def _follow_wiring(self) -> None:
        if self._wired is True:
            self.drive_high()
        elif self._wired is False:
            self.drive_low()

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        self._follow_wiring()

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed:
            if value:
                self._rises += 1
            else:
                self._falls += 1
            if len(self.states) > PIN_HISTORY_LIMIT:
                del self.states[: len(self.states) - PIN_HISTORY_LIMIT]
        return changed


class SimulatedPinFactory(MockFactory):
    """gpiozero's ``MockFactory`` on a virtual board sized for any config.

    ``MockFactory(revision=...)`` only knows real Pi boards (GPIO0 to 27); a
    big demo bank needs more, so this factory describes its own board of
    ``gpio_count`` GPIOs and makes :class:`SimulatedPin` pins. The board grows
    (doubling, up to ``SIM_GPIO_LIMIT``) when a device reserves or asks for a
    GPIO beyond it, so no config is too big for it: the pin numbers are the
    config's to choose. Tests drive inputs with ``drive_high()`` /
    ``drive_low()`` and read outputs' ``state`` and ``states`` as with any
    mock pin.
    """

    def __init__(self, gpio_count: int = SIM_GPIO_COUNT):
        # An explicit revision and pin class keep GPIOZERO_MOCK_* out of it.
        super().__init__(revision="a02082", pin_class=SimulatedPin)
        self._board = simulated_board_info(gpio_count)
        self._gpio_count = gpio_count

    def _get_board_info(self) -> BoardInfo:
        return self._board

    def reserve_pins(self, requester, *names):  # noqa: ANN001, ANN002 - gpiozero's signature
        """Reserve ``names`` for ``requester``, growing the board to reach them first."""
        for name in names:
            self._reach(name)
        return super().reserve_pins(requester, *names)

    def pin(self, name, pin_class=None, **kwargs):  # noqa: ANN001, ANN003 - gpiozero's signature
        """The pin called ``name``, growing the board to reach it first."""
        self._reach(name)
        return super().pin(name, pin_class, **kwargs)

    def _reach(self, name: object) -> None:
        gpio = _gpio_number(name)
        if gpio is None or gpio < self._gpio_count:
            return
        if gpio >= SIM_GPIO_LIMIT:
            raise HardwareError(f"GPIO{gpio}: beyond the simulated board's {SIM_GPIO_LIMIT} GPIOs")
        # PinInfo compares by value, so pins and reservations made on the
        # smaller board stay keyed to the same pins on the bigger one.
        self._gpio_count = min(SIM_GPIO_LIMIT, max(gpio + 1, 2 * self._gpio_count))
        self._board = simulated_board_info(self._gpio_count)


def _gpio_number(name: object) -> int | None:
    """The GPIO a pin name means on the simulated board (``n``, ``"n"``, ``"GPIOn"``...)."""
    if isinstance(name, bool):
        return None
    if isinstance(name, int):
        return name if name >= 0 else None
    if not isinstance(name, str):
        return None
    for prefix in ("GPIO", "BCM", ""):
        rest = name[len(prefix) :] if name.startswith(prefix) else None
        if rest is not None and rest.isdigit():
            return int(rest)
    if name.startswith("SIM:") and name[4:].isdigit() and int(name[4:]) > 0:
        return int(name[4:]) - 1
    return None
