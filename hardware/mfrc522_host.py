"""The host side of an emulated reader: the part of ``RPi.GPIO`` the reader's driver
uses (:class:`EmulatedGPIO`, its reset pin wired to the chip), and
:func:`load_mfrc522_driver`, which hands the real ``mfrc522`` driver an emulated
chip and GPIO without touching ``sys.modules``.
"""

from __future__ import annotations

import builtins
import importlib.util
import os
import types
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class ResetLine(Protocol):
    """What the reset pin drives: the chip's NRSTPD input."""

    def set_reset_line(self, high: bool) -> None:
        """Drive NRSTPD: low powers the chip down, a rising edge resets it."""


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

    def __init__(self, chip: ResetLine | None = None, *, reset_pin: int | None = None):
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


def load_mfrc522_driver(chip: object, gpio: EmulatedGPIO) -> type:
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
