"""A slot's lock, door switch, device sensor and LED, and the bank's status lights.

Each is a small domain object over gpiozero that takes its pin factory as a
parameter. Timed behaviour (a lock's pulse, the lights' patterns) runs on the
injected clock and advances in ``update()``, which the daemon calls every
tick, so a test with a simulated clock is deterministic. The one exception is
a lock's hard cap on energising, which also has a real-time timer: a coil
heats in real time whatever the daemon's clock says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

from gpiozero import LED, Buzzer, DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from hardware.cap_timer import CapTimer
from locker.clock import Clock
from locker.config import Config, LockConfig, LockType, SlotConfig


class Timer(Protocol):
    """What :class:`SlotLock` needs of a ``threading.Timer``."""

    daemon: bool

    def start(self) -> None:
        """Start counting down."""

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""


#: Makes a timer from ``(interval_s, function)``, as ``threading.Timer`` does.
TimerFactory = Callable[[float, Callable[[], None]], Timer]


class SlotLock:
    """One slot's lock output.

    ``pulse`` (a solenoid latch): energising opens the latch. ``unlock()``
    energises for ``unlock_pulse_s``, then ``update()`` de-energises once the
    clock passes the deadline; ``lock()`` de-energises at once. A pulse is
    never longer than ``max_energised_s``: ``update()`` enforces it on the
    injected clock and a real-time timer made by ``timer_factory`` enforces it
    even if the daemon's loop hangs.

    ``hold`` (a magnetic lock): energised means locked. ``unlock()``
    de-energises, ``lock()`` energises.

    The output starts in the locked-safe state (pulse: de-energised; hold:
    energised), whatever ``active_high`` says about the driver's polarity.
    """

    def __init__(
        self,
        pin: int | str,
        *,
        lock_type: LockType,
        unlock_pulse_s: float,
        max_energised_s: float,
        active_high: bool = True,
        clock: Clock,
        pin_factory: Factory,
        timer_factory: TimerFactory = CapTimer,
    ):
        if lock_type not in ("pulse", "hold"):
            raise ValueError(f"lock_type must be 'pulse' or 'hold', not {lock_type!r}")
        if not 0 < unlock_pulse_s <= max_energised_s:
            raise ValueError("unlock_pulse_s must be positive and at most max_energised_s")
        self.lock_type: LockType = lock_type
        self.unlock_pulse_s = unlock_pulse_s
        self.max_energised_s = max_energised_s
        self._clock = clock
        self._timer_factory = timer_factory
        self._guard = threading.RLock()
        self._deadline: float | None = None
        self._timer: Timer | None = None
        self._pulse_id = 0
        self._unlock_count = 0
        # initial_value is in gpiozero's logical terms (on = energised), so
        # active_high flips the pin level, not the meaning.
        self._output = DigitalOutputDevice(
            pin,
            active_high=active_high,
            initial_value=self._safe_energised,
            pin_factory=pin_factory,
        )

    @property
    def _safe_energised(self) -> bool:
        return self.lock_type == "hold"

    @property
    def energised(self) -> bool:
        """Whether the lock's coil is being driven."""
        return self._output.is_active

    @property
    def driven_open(self) -> bool:
        """Whether the output is in its open state (pulse energised, hold de-energised)."""
        return self.energised != self._safe_energised

    @property
    def unlock_count(self) -> int:
        """How many times ``unlock()`` drove the lock open."""
        return self._unlock_count

    def unlock(self) -> bool:
        """Drive the lock open; return ``False`` if it was already open.

        A pulse already under way is not lengthened: its deadline and the hard
        cap both run from when it began.
        """
        with self._guard:
            if self.driven_open:
                return False
            self._unlock_count += 1
            if self.lock_type == "hold":
                self._output.off()
                return True
            self._pulse_id += 1
            pulse_id = self._pulse_id
            # The cap is armed before the coil is energised, so no pulse ever
            # runs without it, even if starting a thread fails.
            self._timer = self._timer_factory(
                self.max_energised_s, lambda: self._hard_stop(pulse_id)
            )
            # A daemon thread, so a pending cap never keeps the process alive.
            self._timer.daemon = True
            self._timer.start()
            self._deadline = self._clock.monotonic() + self.unlock_pulse_s
            self._output.on()
            return True

    def lock(self) -> None:
        """Put the lock in its locked state now (pulse: de-energise; hold: energise)."""
        self.safe()

    def safe(self) -> None:
        """Put the output in its locked-safe state and forget any pulse.

        On a closed lock this does nothing: its pin is no longer ours to drive.
        """
        with self._guard:
            if self._output.closed:
                return
            self._deadline = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._output.value = self._safe_energised

    @property
    def pulsing(self) -> bool:
        """True while a pulse is on and waiting for :meth:`update` to end it."""
        return self._deadline is not None

    @property
    def pulse_ends_at(self) -> float | None:
        """When the pulse under way ends, on the injected clock's monotonic time."""
        return self._deadline

    def update(self) -> None:
        """End a pulse whose time on the injected clock is up."""
        with self._guard:
            if self._deadline is not None and self._clock.monotonic() >= self._deadline:
                self.safe()

    def close(self) -> None:
        """Leave the lock safe, then release its pin.

        Once released the pin is an input and the outside world decides: the
        driver's pull resistor (or its own bias) sets the level. A pulse lock
        then rests de-energised on a pulled-low pin. A hold lock stays locked
        only if its driver input is pulled to the energised level, which the
        installation notes recommend; with a pull the other way a hold lock
        opens while the daemon is down, which is how a fail-safe magnetic lock
        behaves without power.
        """
        with self._guard:
            if self._output.closed:
                return
            try:
                self.safe()
            finally:
                self._output.close()

    def _hard_stop(self, pulse_id: int) -> None:
        with self._guard:
            # A timer cancelled too late must not cut short a newer pulse.
            if pulse_id == self._pulse_id and self._deadline is not None:
                self.safe()


class _PulledUpInput:
    """An input wired as a switch to ground, with the pull-up on; active when low."""

    def __init__(self, pin: int | str, *, pin_factory: Factory, bounce_time: float | None = None):
        # gpiozero's debounce happens in the pin driver in real time; MockPin
        # ignores it entirely. Either way it cannot follow an injected clock,
        # so the daemon also drops repeated edges itself.
        self._input = DigitalInputDevice(
            pin, pull_up=True, bounce_time=bounce_time, pin_factory=pin_factory
        )
        self._callback: Callable[[bool], None] | None = None

    @property
    def _active(self) -> bool:
        return self._input.is_active

    def on_change(self, callback: Callable[[bool], None] | None) -> None:
        """Call ``callback(new_value)`` on every change, or stop calling with ``None``.

        gpiozero calls it from its own thread, so it must only put a
        timestamped event on a queue and return.
        """
        self._callback = callback
        if callback is None:
            self._input.when_activated = None
            self._input.when_deactivated = None
        else:
            self._input.when_activated = self._activated
            self._input.when_deactivated = self._deactivated

    def close(self) -> None:
        """Stop the callbacks and release the pin."""
        self._callback = None
        self._input.close()

    def _activated(self) -> None:
        callback = self._callback
        if callback is not None:
            callback(True)

    def _deactivated(self) -> None:
        callback = self._callback
        if callback is not None:
            callback(False)


class DoorSwitch(_PulledUpInput):
    """A slot's door switch: closing the door connects the pin to ground.

    With the pull-up on, a closed door reads low, and a cut wire reads as an
    open door rather than a closed one.
    """

    @property
    def is_closed(self) -> bool:
        """Whether the door is shut."""
        return self._active


class DeviceSensor(_PulledUpInput):
    """A slot's device-present sensor: a device in the slot pulls the pin low."""

    @property
    def is_present(self) -> bool:
        """Whether a device is in the slot."""
        return self._active


class SlotLED:
    """An optional per-slot LED; blinking, if wanted, is the caller's on/off calls."""

    def __init__(self, pin: int | str, *, pin_factory: Factory):
        self._led = LED(pin, initial_value=False, pin_factory=pin_factory)

    @property
    def is_lit(self) -> bool:
        """Whether the LED is on."""
        return self._led.is_lit

    def on(self) -> None:
        """Light the LED."""
        self._led.on()

    def off(self) -> None:
        """Put the LED out."""
        self._led.off()

    def toggle(self) -> None:
        """Flip the LED, one step of a blink."""
        self._led.toggle()

    def close(self) -> None:
        """Put the LED out and release its pin."""
        if self._led.closed:
            return
        try:
            self._led.off()
        finally:
            self._led.close()


#: One step of a light pattern: (seconds, green, red, buzzer).
Step = tuple[float, bool, bool, bool]

SHORT_BEEP_S = 0.1
LONG_BEEP_S = 1.0

#: What each signal shows; after the last step the lights go back to rest
#: (everything off, or the red light alone while an alert stands).
PATTERNS: Mapping[str, tuple[Step, ...]] = {
    "granted": (
        (SHORT_BEEP_S, True, False, True),
        (2.0 - SHORT_BEEP_S, True, False, False),
    ),
    "refused": (
        (SHORT_BEEP_S, False, True, True),
        (SHORT_BEEP_S, False, True, False),
        (SHORT_BEEP_S, False, True, True),
        (2.0 - 3 * SHORT_BEEP_S, False, True, False),
    ),
    "deposited": ((1.0, True, False, False),),
    "alert": ((LONG_BEEP_S, False, True, True),),
    # Both lights blink together with the beeps: the locker cannot log, so it
    # opens nothing (a storage fault). Unlike "refused", it is not the person.
    "out_of_service": (
        (0.3, True, True, True),
        (0.2, False, False, False),
        (0.3, True, True, True),
        (0.2, False, False, False),
        (0.3, True, True, True),
        (0.7, False, False, False),
    ),
    "clear": (),
    "idle": (),
}
SIGNALS = frozenset(PATTERNS)


class StatusLights:
    """The bank's green and red LEDs and its buzzer.

    ``show(signal)`` starts a pattern (see :data:`PATTERNS`) timed on the
    injected clock; ``update()`` moves it on. ``alert`` leaves the red light on
    until ``clear`` or ``idle``; other patterns shown meanwhile run, then the
    red light comes back. No background threads and no sleeping.
    """

    def __init__(
        self,
        green_pin: int | str,
        red_pin: int | str,
        buzzer_pin: int | str,
        *,
        clock: Clock,
        pin_factory: Factory,
    ):
        self._clock = clock
        self._guard = threading.Lock()
        self._alert = False
        #: (start time on the clock, green, red, buzzer); ``None`` lights mean "at rest".
        self._keyframes: list[tuple[float, tuple[bool, bool, bool] | None]] = []
        built: list[Any] = []
        try:
            self._green = LED(green_pin, initial_value=False, pin_factory=pin_factory)
            built.append(self._green)
            self._red = LED(red_pin, initial_value=False, pin_factory=pin_factory)
            built.append(self._red)
            self._buzzer = Buzzer(buzzer_pin, initial_value=False, pin_factory=pin_factory)
        except BaseException:
            _close_all(built)
            raise

    @property
    def alert(self) -> bool:
        """Whether an alert keeps the red light on."""
        return self._alert

    def show(self, signal: str) -> None:
        """Start the pattern for ``signal``, replacing whatever was showing."""
        if signal not in PATTERNS:
            raise ValueError(f"unknown signal {signal!r}; one of {', '.join(sorted(SIGNALS))}")
        with self._guard:
            if signal == "alert":
                self._alert = True
            elif signal in ("clear", "idle"):
                self._alert = False
            at = self._clock.monotonic()
            self._keyframes = []
            for seconds, green, red, buzzer in PATTERNS[signal]:
                self._keyframes.append((at, (green, red, buzzer)))
                at += seconds
            self._keyframes.append((at, None))
            self._advance()

    @property
    def showing(self) -> bool:
        """True while a pattern still has steps to come."""
        return bool(self._keyframes)

    def update(self) -> None:
        """Apply every step of the pattern that is due on the clock."""
        with self._guard:
            self._advance()

    def state(self) -> dict[str, bool]:
        """What the outputs show now."""
        return {
            "green": self._green.is_lit,
            "red": self._red.is_lit,
            "buzzer": self._buzzer.is_active,
        }

    def close(self) -> None:
        """Turn everything off and release the pins."""
        with self._guard:
            self._keyframes = []
            _each([partial(_off_and_close, d) for d in (self._buzzer, self._red, self._green)])

    def _advance(self) -> None:
        # Every due step is applied in order, even if the loop fell behind, so
        # the pins' history shows the whole pattern.
        now = self._clock.monotonic()
        while self._keyframes and self._keyframes[0][0] <= now:
            _, lights = self._keyframes.pop(0)
            self._set(*(lights if lights is not None else (False, self._alert, False)))

    def _set(self, green: bool, red: bool, buzzer: bool) -> None:
        self._green.value = green
        self._red.value = red
        self._buzzer.value = buzzer


class SlotDevices:
    """One slot's lock, door switch, device sensor and optional LED."""

    def __init__(
        self,
        number: int,
        *,
        lock: SlotLock,
        door: DoorSwitch,
        sensor: DeviceSensor,
        led: SlotLED | None = None,
    ):
        self.number = number
        self.lock = lock
        self.door = door
        self.sensor = sensor
        self.led = led

    @classmethod
    def from_config(
        cls,
        slot: SlotConfig,
        lock: LockConfig,
        *,
        pin_factory: Factory,
        clock: Clock,
        timer_factory: TimerFactory = CapTimer,
        bounce_time: float | None = None,
    ) -> SlotDevices:
        """Build a slot's devices from its config; nothing is left open on failure."""
        built: list[Any] = []
        try:
            slot_lock = SlotLock(
                slot.lock_pin,
                lock_type=lock.type,
                unlock_pulse_s=lock.unlock_pulse_s,
                max_energised_s=lock.max_energised_s,
                active_high=lock.active_high,
                clock=clock,
                pin_factory=pin_factory,
                timer_factory=timer_factory,
            )
            built.append(slot_lock)
            door = DoorSwitch(slot.door_pin, pin_factory=pin_factory, bounce_time=bounce_time)
            built.append(door)
            sensor = DeviceSensor(slot.sensor_pin, pin_factory=pin_factory, bounce_time=bounce_time)
            built.append(sensor)
            led = None
            if slot.led_pin is not None:
                led = SlotLED(slot.led_pin, pin_factory=pin_factory)
                built.append(led)
        except BaseException:
            _close_all(built)
            raise
        return cls(slot.number, lock=slot_lock, door=door, sensor=sensor, led=led)

    def update(self) -> None:
        """Advance the lock's pulse on the clock."""
        self.lock.update()

    def close(self) -> None:
        """Leave the lock safe, then release every pin, even if one close fails."""
        parts: list[Any] = [self.lock, self.door, self.sensor]
        if self.led is not None:
            parts.append(self.led)
        _close_all(parts)


class Bank:
    """Every slot's devices and the status lights of one locker bank."""

    def __init__(self, slots: Mapping[int, SlotDevices], lights: StatusLights):
        self.slots: dict[int, SlotDevices] = dict(slots)
        self.lights = lights

    def update(self) -> None:
        """One tick of the daemon's loop: end due pulses and move the lights on."""
        for devices in self.slots.values():
            devices.update()
        self.lights.update()

    @property
    def busy(self) -> bool:
        """True while a pulse or a light pattern needs :meth:`update` soon."""
        return self.lights.showing or any(d.lock.pulsing for d in self.slots.values())

    def safe(self) -> None:
        """Put every lock in its locked-safe state, trying them all even if one fails."""
        _each([devices.lock.safe for devices in self.slots.values()])

    def close(self) -> None:
        """Make every lock safe first, then release every pin."""
        try:
            self.safe()
        finally:
            _close_all([*self.slots.values(), self.lights])


def build_bank(
    config: Config,
    pin_factory: Factory,
    clock: Clock,
    *,
    timer_factory: TimerFactory = CapTimer,
    bounce_time: float | None = None,
) -> Bank:
    """Build every slot's devices and the status lights from the config.

    If any device cannot be built (a pin in use, a bad pin name), those
    already built are closed safe before the error propagates.
    """
    built: list[Any] = []
    slots: dict[int, SlotDevices] = {}
    try:
        for slot in config.slots:
            devices = SlotDevices.from_config(
                slot,
                config.lock,
                pin_factory=pin_factory,
                clock=clock,
                timer_factory=timer_factory,
                bounce_time=bounce_time,
            )
            built.append(devices)
            slots[slot.number] = devices
        lights = StatusLights(
            config.bank.green_led_pin,
            config.bank.red_led_pin,
            config.bank.buzzer_pin,
            clock=clock,
            pin_factory=pin_factory,
        )
    except BaseException:
        _close_all(built)
        raise
    return Bank(slots, lights)


def _off_and_close(device: DigitalOutputDevice) -> None:
    if device.closed:
        return
    try:
        device.off()
    finally:
        device.close()


def _close_all(parts: list[Any]) -> None:
    _each([part.close for part in parts])


def _each(actions: list[Callable[[], None]]) -> None:
    """Run every action; then re-raise the first failure, the others noted on it."""
    failures: list[Exception] = []
    for action in actions:
        try:
            action()
        # Shutdown must reach every lock whatever one of them raised.
        except Exception as exc:
            failures.append(exc)
    if failures:
        first = failures[0]
        for other in failures[1:]:
            first.add_note(f"also failed: {other!r}")
        raise first
