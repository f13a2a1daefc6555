"""Expander lines as gpiozero pins, served beside the Pi's own.

:class:`ExpanderPinFactory` wraps the Pi's pin factory (real or simulated):
a pin named ``"mcp0:A3"`` is line A3 of the expander declared as ``mcp0``, any
other name goes to the Pi's factory. So a slot's lock, door switch and sensor
stay gpiozero devices whichever side their pins are on.

Inputs arrive by interrupt, not polling: each expander's INTA (mirrored, open
drain) is wired to a Pi GPIO with its pull-up on; when it falls, the factory
reads INTF, INTCAP and GPIO of the expanders on that line once and passes the
changes to the pins' ``when_changed``. A pin's ``state`` is the level last
read, so asking it costs no bus transaction. :meth:`ExpanderPinFactory.update`
(the daemon's tick) makes a slow consistency read of every expander, which
catches a missed edge, an expander that stopped answering (a fault; its inputs
are then unknown) and one that lost its registers (re-initialised).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from types import MethodType
from weakref import WeakMethod, ref

from gpiozero import DigitalInputDevice
from gpiozero.exc import (
    GPIOPinInUse,
    PinInvalidBounce,
    PinInvalidEdges,
    PinInvalidFunction,
    PinInvalidPin,
    PinInvalidPull,
    PinSetInput,
)
from gpiozero.pins import Factory, Pin, PinInfo

from hardware.mcp23017 import Mcp23017, line_number
from locker.config_pins import EXPANDER_PIN

log = logging.getLogger(__name__)

#: Seconds between two consistency reads of each expander: one block read
#: each, the only bus traffic of an idle bank.
CHECK_S = 30.0
#: Interrupt services in a row before the line is left to the next edge or
#: check (a line stuck low must not keep gpiozero's thread forever).
MAX_SERVICES = 8

#: Called with a message when an expander stops answering or comes back reset.
FaultListener = Callable[[str], None]
#: Called with the expander's name and a message when its lines cannot be trusted:
#: it stops answering, or it lost its settings and is being re-initialised.
SilenceListener = Callable[[str, str], None]
#: Called with the expander's name and why, when it answers again and reads back
#: what the driver set (re-initialised).
RecoveryListener = Callable[[str, str], None]


def expander_pin_info(name: str, line: int) -> PinInfo:
    """The gpiozero description of expander line ``name`` (``"mcp0:A3"``)."""
    return PinInfo(
        number=line + 1,
        name=name,
        names=frozenset({name}),
        pull="",
        row=line % 8 + 1,
        col=line // 8 + 1,
        interfaces=frozenset({"gpio"}),
    )


class ExpanderPin(Pin):
    """One expander line as a gpiozero pin: input (with the chip's pull-up) or output."""

    def __init__(self, factory: ExpanderPinFactory, chip: Mcp23017, line: int, info: PinInfo):
        super().__init__()
        self._factory = factory
        self._chip = chip
        self._line = line
        self._info = info
        self._function = "input"
        self._pull = "floating"
        self._edges = "both"
        self._bounce: float | None = None
        self._last_edge: int | None = None
        self._when_changed: WeakMethod | ref | None = None
        self._when_changed_lock = threading.RLock()

    def __repr__(self) -> str:
        return self._info.name

    @property
    def factory(self) -> ExpanderPinFactory:
        """The factory that made this pin."""
        return self._factory

    @property
    def chip(self) -> Mcp23017:
        """The expander this line is on."""
        return self._chip

    @property
    def known(self) -> bool:
        """False while the expander does not answer: the input's level is unknown."""
        return self._factory.answering(self._chip.name)

    def close(self) -> None:
        """Stop the callbacks and leave the line an input (high impedance)."""
        self.when_changed = None
        if self._function == "output":
            self._factory.bus_call(self._chip, self._chip.set_input, self._line)
            self._function = "input"

    def output_with_state(self, state: bool) -> None:
        """Latch, then direction: the line becomes an output already at ``state``."""
        self._factory.bus_call(self._chip, self._chip.set_output, self._line, bool(state))
        self._function = "output"

    def _get_info(self) -> PinInfo:
        return self._info

    def _get_function(self) -> str:
        return self._function

    def _set_function(self, value: str) -> None:
        if value == "output":
            self.output_with_state(self._chip.output_level(self._line))
        elif value == "input":
            self._factory.bus_call(self._chip, self._chip.set_input, self._line)
            self._function = "input"
        else:
            raise PinInvalidFunction(f"{self!r}: an expander line is an input or an output")

    def _get_state(self) -> bool:
        if self._function == "output":
            return self._chip.output_level(self._line)
        return self._chip.level(self._line)

    def _set_state(self, value: bool) -> None:
        if self._function != "output":
            raise PinSetInput(f"{self!r} is an input")
        self._factory.bus_call(self._chip, self._chip.write, self._line, bool(value))

    def _get_pull(self) -> str:
        return self._pull

    def _set_pull(self, value: str) -> None:
        if value not in ("up", "floating"):
            raise PinInvalidPull(f"{self!r}: the MCP23017 has pull-ups only, not {value!r}")
        if self._function != "input":
            raise PinInvalidPull(f"{self!r}: an output has no pull")
        self._factory.bus_call(self._chip, self._chip.set_pull_up, self._line, value == "up")
        self._pull = value

    def _get_bounce(self) -> float | None:
        return self._bounce

    def _set_bounce(self, value: float | None) -> None:
        if value is not None and value < 0:
            raise PinInvalidBounce("bounce must be 0 or more")
        self._bounce = value or None

    def _get_edges(self) -> str:
        return self._edges

    def _set_edges(self, value: str) -> None:
        if value not in ("both", "rising", "falling", "none"):
            raise PinInvalidEdges(f"{self!r}: edges must be both, rising, falling or none")
        self._edges = value

    def _get_when_changed(self) -> Callable[[int, bool], None] | None:
        return None if self._when_changed is None else self._when_changed()

    def _set_when_changed(self, value: Callable[[int, bool], None] | None) -> None:
        with self._when_changed_lock:
            if value is None:
                self._when_changed = None
            else:
                # Weakly, as gpiozero's own pins do, so a pin never keeps its device alive.
                weak = WeakMethod if isinstance(value, MethodType) else ref
                self._when_changed = weak(value)
            self._factory.bus_call(
                self._chip, self._chip.set_interrupt, self._line, value is not None
            )

    def changed(self, ticks: int, level: bool) -> None:
        """An input change the factory read: filtered by edges and bounce, then reported."""
        if self._edges == "none" or (self._edges == "rising" and not level):
            return
        if self._edges == "falling" and level:
            return
        last, bounce = self._last_edge, self._bounce
        if bounce and last is not None and self._factory.ticks_diff(ticks, last) < bounce:
            return
        self._last_edge = ticks
        with self._when_changed_lock:
            callback = None if self._when_changed is None else self._when_changed()
        if callback is not None:
            callback(ticks, level)


class ExpanderPinFactory(Factory):
    """The Pi's pins (from ``base``) and the expanders' lines, as one gpiozero factory.

    ``expanders`` maps each expander's name to its driver; ``interrupts`` maps
    each to the Pi GPIO its INTA is wired to (expanders may share one).
    ``clock_monotonic`` times the consistency reads (the daemon's clock).
    """

    def __init__(
        self,
        base: Factory,
        expanders: Mapping[str, Mcp23017],
        interrupts: Mapping[str, int],
        *,
        monotonic: Callable[[], float],
        check_s: float = CHECK_S,
    ):
        super().__init__()
        self.base = base
        self.expanders = dict(expanders)
        self.check_s = check_s
        self.on_fault: FaultListener | None = None
        #: When set, told of a silent (or reset) expander by name, in place of ``on_fault``.
        self.on_silent: SilenceListener | None = None
        self.on_recovered: RecoveryListener | None = None
        self._monotonic = monotonic
        self._pins: dict[str, ExpanderPin] = {}
        self._owners: dict[str, list[ref]] = {}
        self._failed: set[str] = set()
        #: Expanders found reset that have not yet read back what was written.
        self._unsettled: set[str] = set()
        self._last_check = monotonic()
        self._guard = threading.RLock()
        self._interrupt_inputs: list[DigitalInputDevice] = []
        for chip in self.expanders.values():
            try:
                self._apply(chip, chip.configure())
            except OSError as exc:
                self._fail(chip, exc)
        by_pin: dict[int, list[Mcp23017]] = {}
        for name, gpio in interrupts.items():
            by_pin.setdefault(gpio, []).append(self.expanders[name])
        for gpio, chips in by_pin.items():
            line = DigitalInputDevice(gpio, pull_up=True, pin_factory=base)
            # Open drain, active low: the line falls when any of its expanders interrupts.
            line.when_activated = lambda chips=chips, line=line: self._interrupted(chips, line)
            self._interrupt_inputs.append(line)

    # gpiozero's Factory ---------------------------------------------------------

    def _get_board_info(self):  # noqa: ANN202 - gpiozero's signature
        return self.base.board_info

    def ticks(self):  # noqa: ANN201 - gpiozero's signature
        """The Pi factory's ticks."""
        return self.base.ticks()

    def ticks_diff(self, later, earlier):  # noqa: ANN001, ANN201 - gpiozero's signature
        """The Pi factory's difference of ticks, in seconds."""
        return self.base.ticks_diff(later, earlier)

    def pin(self, name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        """Expander line ``name`` (``"mcp0:A3"``), or the Pi's pin ``name``."""
        parsed = _parse(name)
        if parsed is None:
            return self.base.pin(name, *args, **kwargs)
        expander, line = parsed
        with self._guard:
            pin = self._pins.get(name)
            if pin is None:
                chip = self.expanders.get(expander)
                if chip is None:
                    raise PinInvalidPin(f"{name}: no expander called {expander!r}")
                pin = ExpanderPin(self, chip, line, expander_pin_info(name, line))
                self._pins[name] = pin
            return pin

    def reserve_pins(self, requester, *names):  # noqa: ANN001, ANN002 - gpiozero's signature
        """Reserve expander lines here and Pi pins on the Pi's factory."""
        ours = [n for n in names if _parse(n) is not None]
        with self._guard:
            for name in ours:
                for owner in self._owners.get(name, []):
                    reserver = owner()
                    if reserver is not None and requester._conflicts_with(reserver):
                        raise GPIOPinInUse(f"pin {name} is already in use by {reserver!r}")
            for name in ours:
                self._owners.setdefault(name, []).append(ref(requester))
        rest = [n for n in names if _parse(n) is None]
        if rest:
            self.base.reserve_pins(requester, *rest)

    def release_pins(self, reserver, *names):  # noqa: ANN001, ANN002 - gpiozero's signature
        """Release expander lines here and Pi pins on the Pi's factory."""
        with self._guard:
            for name in names:
                if name in self._owners:
                    self._owners[name] = [
                        r for r in self._owners[name] if r() not in (reserver, None)
                    ]
        rest = [n for n in names if _parse(n) is None]
        if rest:
            self.base.release_pins(reserver, *rest)

    def release_all(self, reserver):  # noqa: ANN001 - gpiozero's signature
        """Release everything ``reserver`` holds, here and on the Pi's factory."""
        self.release_pins(reserver, *list(self._owners))
        self.base.release_all(reserver)

    def stop_listening(self) -> None:
        """Let go of the interrupt lines (the daemon is stopping)."""
        for line in self._interrupt_inputs:
            line.close()
        self._interrupt_inputs = []

    def close(self) -> None:
        """Stop listening to the interrupt lines, then close the Pi's factory."""
        self.stop_listening()
        self.base.close()

    # The expanders ----------------------------------------------------------------

    def answering(self, expander: str) -> bool:
        """Whether ``expander`` answered the last time it was asked."""
        return expander not in self._failed

    @property
    def failed(self) -> frozenset[str]:
        """The expanders that do not answer now."""
        return frozenset(self._failed)

    def bus_call(self, chip: Mcp23017, action: Callable[..., object], *args: object) -> None:
        """Run a driver call; a chip that does not answer becomes a fault, not a crash.

        Its pins keep what was asked of them, and re-initialising the chip
        when it answers again writes it all back.
        """
        try:
            action(*args)
        except OSError as exc:
            self._fail(chip, exc)

    def update(self) -> None:
        """The daemon's tick: every ``check_s``, a consistency read of each expander."""
        now = self._monotonic()
        if now - self._last_check < self.check_s:
            return
        self._last_check = now
        self.check()

    def check(self) -> None:
        """Read every expander back: report missed changes, re-initialise a reset one.

        A reset expander (answering, but no longer holding what was written) is
        reported at once, re-initialised and read back; it is over when it reads
        back right, now or at a later check. A silent one is over when it answers
        and reads back right.
        """
        for chip in self.expanders.values():
            with self._guard:
                try:
                    intact, changes = chip.check()
                    if not intact:
                        self._lost_settings(chip)
                        changes = chip.configure()
                        intact, more = chip.check()  # read back what was written
                        changes += more
                except OSError as exc:
                    self._fail(chip, exc)
                    continue
                if intact:
                    self._recovered(chip)
            self._apply(chip, changes)

    def _lost_settings(self, chip: Mcp23017) -> None:
        """Report ``chip`` reset, once until it reads back right (unless it was silent:
        that fault stands for both)."""
        if chip.name in self._failed or chip.name in self._unsettled:
            return
        self._unsettled.add(chip.name)
        message = (
            f"expander {chip.name} at {chip.address:#04x} had lost its settings (a reset "
            "or a power dip); its doors and sensors are unknown until it is "
            "re-initialised and reads back right"
        )
        self._untrusted(chip, message)

    def _recovered(self, chip: Mcp23017) -> None:
        """``chip`` answers and reads back right: end its fault, if it had one."""
        if chip.name in self._failed:
            why = f"the expander {chip.name} answers again"
        elif chip.name in self._unsettled:
            why = f"the expander {chip.name} was re-initialised and reads back right"
        else:
            return
        self._failed.discard(chip.name)
        self._unsettled.discard(chip.name)
        log.warning("%s", why)
        if self.on_recovered is not None:
            self.on_recovered(chip.name, why)

    def _interrupted(self, chips: list[Mcp23017], line: DigitalInputDevice) -> None:
        for _ in range(MAX_SERVICES):
            for chip in chips:
                if chip.name in self._failed:
                    continue
                try:
                    with self._guard:
                        changes = chip.service()
                except OSError as exc:
                    self._fail(chip, exc)
                    continue
                self._apply(chip, changes)
            if not line.is_active:
                return

    def _apply(self, chip: Mcp23017, changes: list[tuple[int, bool]]) -> None:
        ticks = self.ticks()
        for line, level in changes:
            pin = self._pins.get(f"{chip.name}:{'AB'[line // 8]}{line % 8}")
            if pin is not None and pin.function == "input":
                pin.changed(ticks, level)

    def _fail(self, chip: Mcp23017, exc: OSError) -> None:
        with self._guard:
            if chip.name in self._failed:
                return
            self._failed.add(chip.name)
        message = (
            f"expander {chip.name} at {chip.address:#04x} does not answer "
            f"({exc.strerror or exc}); its doors and sensors are unknown"
        )
        self._untrusted(chip, message)

    def _untrusted(self, chip: Mcp23017, message: str) -> None:
        """Tell of ``chip``, whose lines cannot be trusted now, by name if anyone listens."""
        if self.on_silent is None:
            self._report(message)
            return
        log.error("%s", message)
        self.on_silent(chip.name, message)

    def _report(self, message: str) -> None:
        log.error("%s", message)
        if self.on_fault is not None:
            self.on_fault(message)


def _parse(name: object) -> tuple[str, int] | None:
    """``(expander, line)`` for an expander line's name, else ``None``."""
    if not isinstance(name, str):
        return None
    match = EXPANDER_PIN.fullmatch(name)
    if match is None:
        return None
    return match["expander"], line_number(match["port"], int(match["line"]))
