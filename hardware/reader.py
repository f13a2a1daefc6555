"""The badge reader: an adapter around the ``mfrc522`` package's MFRC522 driver.

The package sets the global GPIO mode, calls ``GPIO.cleanup()`` on close, adds
a log handler on every construction, only knows cascade level 1 and spins
forever in ``SimpleMFRC522.read()``. All of that stays in here:
:class:`Mfrc522Factory` builds drivers with the pin mode and reset pin given
explicitly and undoes the handler, and :class:`BadgeReader` polls with the
non-blocking calls at a steady interval, reads 4-, 7- and 10-byte UIDs,
watches the version register and resets a reader that stopped answering
through its RST pin.

The one call of the driver it does not use is ``MFRC522_Request``: on an empty
field its ``MFRC522_ToCard`` reads the interrupt register 2,000 times before it
gives up, which is most of what a waiting reader costs. The REQA, WUPA and HLTA
go through :class:`hardware.reader_field.FieldProbe`, which waits once for the
air time (or for the IRQ pin) instead. A card left on the reader is halted
after its read and then only checked for, once a second, with WUPA.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gpiozero import Factory

from hardware.reader_field import FieldProbe, anticollision, select
from hardware.reader_irq import IrqLine
from hardware.reader_resting import RestingCard
from locker.clock import Clock
from locker.errors import HardwareError, ReaderError, ReaderNotAnswering
from locker.reader_versions import READER_VERSIONS

log = logging.getLogger(__name__)

#: The logger the ``mfrc522`` driver adds a StreamHandler to on every construction.
DRIVER_LOGGER = "mfrc522Logger"
VERSION_REG = 0x37
#: SEL codes of cascade levels 1, 2 and 3 (ISO 14443-3).
SELECT_CODES = (0x93, 0x95, 0x97)
CASCADE_TAG = 0x88
SAK_CASCADE_BIT = 0x04


@dataclass(frozen=True)
class CardPresented:
    """A card came to the reader.

    ``uid`` is the card's own UID bytes in uppercase hex without separators:
    8, 14 or 20 digits for a 4, 7 or 10-byte UID.
    """

    uid: str


@dataclass(frozen=True)
class ReaderFault:
    """The reader stopped answering (or could not be opened); ``reason`` says how."""

    reason: str


@dataclass(frozen=True)
class ReaderRecovered:
    """The reader answers again after a fault."""


ReaderEvent = CardPresented | ReaderFault | ReaderRecovered


class Mfrc522Driver(Protocol):
    """What the adapter uses of an ``mfrc522.MFRC522`` instance."""

    MI_OK: int
    PCD_TRANSCEIVE: int
    spi: Any

    def MFRC522_Init(self) -> None: ...
    def MFRC522_Anticoll(self) -> tuple[int, list[int]]: ...
    def MFRC522_SelectTag(self, uid: list[int]) -> int: ...
    def MFRC522_ToCard(self, command: int, data: list[int]) -> tuple[int, list[int], int]: ...
    def CalulateCRC(self, data: list[int]) -> list[int]: ...
    def Read_MFRC522(self, register: int) -> int: ...
    def Write_MFRC522(self, register: int, value: int) -> None: ...


class DriverFactory(Protocol):
    """Builds a driver and reaches the reader's reset pin.

    ``chip_clock`` is ``None`` for a real chip; for an emulated one it lets the
    chip's time pass where the host waits (see :class:`Mfrc522Factory`).
    """

    chip_clock: Callable[[float], None] | None

    def __call__(self) -> Mfrc522Driver: ...
    def pulse_reset(self) -> None: ...
    def release(self) -> None: ...


class Mfrc522Factory:
    """Builds ``mfrc522.MFRC522`` drivers for one reader and owns its reset pin.

    ``mfrc522_class`` is the driver class and ``gpio`` the RPi.GPIO module it
    was loaded with (the real pair on a Pi, see :meth:`on_pi`; the emulated
    pair off it, see ``hardware.sim_reader``). Pins are BCM numbers.
    ``chip_clock`` is for an emulated chip, whose time passes only when told
    (its ``elapse``): the reader calls it where it would sleep for the chip.
    """

    def __init__(
        self,
        mfrc522_class: Callable[..., Mfrc522Driver],
        gpio: Any,
        *,
        bus: int = 0,
        device: int = 0,
        reset_pin: int = 25,
        spi_hz: int = 1_000_000,
        reset_settle_s: float = 0.05,
        chip_clock: Callable[[float], None] | None = None,
    ):
        self.mfrc522_class = mfrc522_class
        self.chip_clock = chip_clock
        self.gpio = gpio
        self.bus = bus
        self.device = device
        self.reset_pin = reset_pin
        self.spi_hz = spi_hz
        #: Time the chip's oscillator needs after a reset before it answers.
        self.reset_settle_s = reset_settle_s

    @classmethod
    def on_pi(cls, *, bus: int = 0, device: int = 0, reset_pin: int = 25) -> Mfrc522Factory:
        """The factory for a real reader on this Pi's SPI bus.

        Raises :class:`HardwareError` where the driver or RPi.GPIO cannot load
        (RPi.GPIO refuses to import anywhere but on a Pi).
        """
        try:
            import RPi.GPIO as gpio
            from mfrc522 import MFRC522
        except (ImportError, RuntimeError) as exc:
            raise HardwareError(f"cannot load the MFRC522 driver: {exc}") from exc
        return cls(MFRC522, gpio, bus=bus, device=device, reset_pin=reset_pin)

    def __call__(self) -> Mfrc522Driver:
        """A new driver, initialised, with none of its global side effects left behind.

        Raises :class:`HardwareError` if something already chose BOARD pin
        numbering: the driver would then read our BCM reset pin as a board pin.
        """
        mode = self.gpio.getmode()
        if mode not in (None, self.gpio.BCM):
            raise HardwareError("GPIO pin numbering is already set to BOARD; the reader needs BCM")
        logger = logging.getLogger(DRIVER_LOGGER)
        handlers = list(logger.handlers)
        sigint = signal.getsignal(signal.SIGINT)
        try:
            return self.mfrc522_class(
                bus=self.bus,
                device=self.device,
                spd=self.spi_hz,
                pin_mode=self.gpio.BCM,
                pin_rst=self.reset_pin,
            )
        except RuntimeError as exc:
            # RPi.GPIO reports a pin it cannot reach (no /dev/gpiomem access) this way.
            raise HardwareError(f"cannot set up the reader's reset pin: {exc}") from exc
        finally:
            # The driver adds a StreamHandler each time: without this, two
            # constructions print every driver message twice.
            for handler in list(logger.handlers):
                if handler not in handlers:
                    logger.removeHandler(handler)
            if signal.getsignal(signal.SIGINT) is not sigint:
                signal.signal(signal.SIGINT, sigint)

    def pulse_reset(self) -> None:
        """Hard-reset the chip: RST low, then high, then wait for it to wake."""
        try:
            self.gpio.output(self.reset_pin, self.gpio.LOW)
            self.gpio.output(self.reset_pin, self.gpio.HIGH)
        except RuntimeError as exc:
            raise HardwareError(f"cannot drive the reader's reset pin: {exc}") from exc
        if self.reset_settle_s > 0:
            time.sleep(self.reset_settle_s)

    def release(self) -> None:
        """Free the reset pin, and only it: never ``GPIO.cleanup()`` on the whole chip."""
        self.gpio.cleanup(self.reset_pin)


#: Polls after a (re)start in which a card in the field counts as left there:
#: the first poll reads and halts it; the second is a margin for a card that
#: answered the first one garbled.
SETTLING_POLLS = 2


class BadgeReader:
    """Polls the MFRC522 for badges and watches its health.

    ``driver_factory()`` builds an initialised driver (see
    :class:`Mfrc522Factory`); it is first called by the first :meth:`poll`, so
    constructing a reader never touches hardware. Times come from
    ``clock.monotonic()``.

    A UID is reported once, then again only after the card has been away for
    ``debounce_s``. A card read (reported or not) is halted: it answers no
    more REQA, and only a WUPA every ``presence_check_s`` checks that it is
    still there, so a card resting on the reader costs what an empty field
    does. It is away from the first check it does not answer; a halted card
    that answers a REQA was powered afresh, so it left the field and came back.
    With ``ignore_resting_card`` (the daemon's choice), a card
    found in the field in the first polls after the reader (re)starts is taken
    as left there, not presented: it is reported only once it has been away.
    The version register is checked every ``health_check_s``
    and after ``errors_before_check`` read errors; a reader that fails the
    check is reset through its RST pin and re-initialised, and a
    :class:`ReaderFault` is reported once per outage, then a
    :class:`ReaderRecovered` when it answers again. Reads that keep failing
    while the chip answers (``garbage_errors`` within ``garbage_window_s``)
    are a :class:`ReaderFault` too, and :meth:`slow_down` holds cards back
    for a cool-down.

    With ``irq_pin`` (a BCM pin on ``pin_factory`` wired to the reader's IRQ)
    a poll waits for the chip's interrupt instead of reading CommIrqReg.

    :meth:`poll`, :meth:`read_version` and :meth:`close` may be called from
    different threads; they take turns. Stop :meth:`run` before :meth:`close`,
    or its next poll opens the reader again.
    """

    def __init__(
        self,
        driver_factory: DriverFactory,
        clock: Clock,
        *,
        poll_interval_s: float = 0.1,
        debounce_s: float = 1.0,
        health_check_s: float = 5.0,
        errors_before_check: int = 3,
        ignore_resting_card: bool = False,
        garbage_errors: int = 20,
        garbage_window_s: float = 10.0,
        presence_check_s: float = 1.0,
        irq_pin: int | None = None,
        pin_factory: Factory | None = None,
    ):
        if poll_interval_s <= 0 or health_check_s <= 0:
            raise ValueError("poll_interval_s and health_check_s must be positive")
        if irq_pin is not None and pin_factory is None:
            raise ValueError("irq_pin needs the pin_factory its GPIO is on")
        if debounce_s < 0 or errors_before_check < 1 or garbage_errors < 1:
            raise ValueError("debounce_s must be >= 0, errors_before_check and garbage_errors >= 1")
        self.driver_factory = driver_factory
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.debounce_s = debounce_s
        self.health_check_s = health_check_s
        self.errors_before_check = errors_before_check
        self._lock = threading.Lock()
        self._driver: Mfrc522Driver | None = None
        self._healthy = False
        self._fault_reported = False
        self._errors_since_check = 0
        self._next_check = float("-inf")
        self._last_uid: str | None = None
        self._last_seen = float("-inf")
        self._settling_polls = 0
        self.ignore_resting_card = ignore_resting_card
        self.garbage_errors = garbage_errors
        self.garbage_window_s = garbage_window_s
        self._recent_errors: deque[float] = deque()
        self._garbage_reported = False
        self._last_reported = float("-inf")
        self._slow_until = float("-inf")
        self._slow_gap_s = 0.0
        self.irq_pin = irq_pin
        self.pin_factory = pin_factory
        self._irq: IrqLine | None = None
        self._probe: FieldProbe | None = None
        self._resting = RestingCard(presence_check_s)

    @property
    def healthy(self) -> bool:
        """True while the reader is open and answered its last version check."""
        return self._healthy

    def poll(self) -> list[ReaderEvent]:
        """One poll of the field (and a health check when one is due).

        Never raises for reader trouble: that becomes a :class:`ReaderFault`.
        """
        with self._lock:
            return self._poll(self.clock.monotonic())

    def _poll(self, now: float) -> list[ReaderEvent]:
        events: list[ReaderEvent] = []
        if now >= self._next_check or self._errors_since_check >= self.errors_before_check:
            events += self._check_health(now)
        if not self._healthy:
            return events
        try:
            if self._resting.due(now):
                self._resting.checked(self._probe.wake_up(), now)
                return events
            uid = self._read_uid()
        except OSError as exc:  # ReaderError, or an I/O error from spidev
            self._errors_since_check += 1
            log.info("badge read failed: %s", exc)
            return events + self._read_failed(now, str(exc))
        while self._recent_errors and self._recent_errors[0] <= now - self.garbage_window_s:
            self._recent_errors.popleft()
        if not self._recent_errors:
            self._garbage_reported = False  # quiet for a window: the next burst is news
        settling = self._settling_polls > 0
        self._settling_polls = max(0, self._settling_polls - 1)
        if uid is None:
            seen = self._resting.quiet_poll()
            if seen is not None:
                self._last_seen = seen
        else:
            # A card answered REQA, so it was powered afresh: any card halted
            # here left the field since it was last known to be here.
            self._resting.forget()
            self._recent_errors.clear()
            fresh = uid != self._last_uid or now - self._last_seen >= self.debounce_s
            if fresh and not settling and self._held_back(uid, now):
                return events  # not seen: it counts as fresh once the gap is over
            if fresh and not settling:
                events.append(CardPresented(uid))
                self._last_reported = now
            self._last_uid = uid
            self._last_seen = now
            self._probe.halt()
            self._resting.halted(uid, now)
        return events

    def _read_failed(self, now: float, reason: str) -> list[ReaderEvent]:
        """A read failed although the chip answers its version register.

        One failure is a card swiped past too fast; ``garbage_errors`` within
        ``garbage_window_s`` and not one good read is a reader talking garbage
        (noise on the bus, a failing antenna) or a card it cannot read: a
        :class:`ReaderFault` once, until a good read or a quiet window. The
        reader stays healthy: its chip answers, and restarting the daemon
        would not cure either.
        """
        self._recent_errors.append(now)
        while self._recent_errors[0] <= now - self.garbage_window_s:
            self._recent_errors.popleft()
        if len(self._recent_errors) < self.garbage_errors or self._garbage_reported:
            return []
        self._garbage_reported = True
        message = (
            f"{len(self._recent_errors)} badge reads failed within "
            f"{self.garbage_window_s:.0f} s though the chip answers ({reason}): "
            "a card it cannot read, interference or a failing antenna"
        )
        log.warning("badge reader fault: %s", message)
        return [ReaderFault(message)]

    def slow_down(self, gap_s: float, for_s: float) -> None:
        """Report at most one card every ``gap_s`` for the next ``for_s`` seconds.

        The cool-down after repeated unknown badges: trying UIDs one after
        another gets slow, while a member of staff waits at most ``gap_s``
        with their card held to the reader. A later call replaces an earlier.
        """
        with self._lock:
            self._slow_gap_s = gap_s
            self._slow_until = self.clock.monotonic() + for_s
        log.warning("badge reader slowed: one card per %.0f s for %.0f s", gap_s, for_s)

    def _held_back(self, uid: str, now: float) -> bool:
        """True when a cool-down is on and the last card was reported too recently."""
        if now >= self._slow_until or now - self._last_reported >= self._slow_gap_s:
            return False
        log.info("card %s held back by the cool-down", uid)
        return True

    def run(self, emit: Callable[[ReaderEvent], None], stop_event: threading.Event) -> None:
        """Poll every ``poll_interval_s`` until ``stop_event`` is set, passing events to ``emit``.

        For use as a thread's target; see :func:`poll_steadily`.
        """
        poll_steadily(self.poll, self.clock, self.poll_interval_s, emit, stop_event)

    def read_version(self) -> int:
        """The reader's VersionReg, opening the reader if need be.

        Raises :class:`ReaderNotAnswering` for a value no working reader
        gives, and :class:`HardwareError` if the reader cannot be opened.
        """
        with self._lock:
            return self._read_version()

    def _read_version(self) -> int:
        if self._driver is None:
            self._driver = self.driver_factory()
        version = self._driver.Read_MFRC522(VERSION_REG)
        if version not in READER_VERSIONS:
            raise ReaderNotAnswering(f"version register reads 0x{version:02X}")
        return version

    def close(self) -> None:
        """Close the SPI device and free the reset pin; the reader can be polled again later."""
        with self._lock:
            driver, self._driver = self._driver, None
            self._healthy = False
            self._next_check = float("-inf")
            self._probe = None
            self._resting.forget()
            if self._irq is not None:
                self._irq.close()
                self._irq = None
            if driver is None:
                return
            # Close_MFRC522() would also GPIO.cleanup() every pin in the process.
            driver.spi.close()
            self.driver_factory.release()

    def _check_health(self, now: float) -> list[ReaderEvent]:
        self._next_check = now + self.health_check_s
        self._errors_since_check = 0
        events: list[ReaderEvent] = []
        if self._healthy:
            try:
                self._read_version()
                return events
            except OSError as exc:
                events += self._fault(str(exc))
        try:
            self._restart()
            self._read_version()
        except OSError as exc:
            events += self._fault(str(exc))
            return events
        self._healthy = True
        # A card already resting on the reader when it (re)starts was presented
        # before: after a daemon restart it must not count as a new badge.
        self._settling_polls = SETTLING_POLLS if self.ignore_resting_card else 0
        if self._fault_reported:
            self._fault_reported = False
            events.append(ReaderRecovered())
        log.info("badge reader ready")
        return events

    def _fault(self, reason: str) -> list[ReaderEvent]:
        self._healthy = False
        if self._fault_reported:
            return []
        self._fault_reported = True
        log.warning("badge reader fault: %s", reason)
        return [ReaderFault(reason)]

    def _restart(self) -> None:
        """Open the reader, or reset a faulty one through RST and initialise it again.

        Either way the chip starts afresh (and its field with it: a halted
        card wakes up), so the probe starts with the driver's timer loaded.
        """
        self._probe = None
        self._resting.forget()
        if self._driver is None:
            self._driver = self.driver_factory()
        else:
            self.driver_factory.pulse_reset()
            self._driver.MFRC522_Init()
        if self.irq_pin is not None and self._irq is None:
            self._irq = IrqLine(
                self.irq_pin,
                pin_factory=self.pin_factory,
                chip_clock=self.driver_factory.chip_clock,
            )
        self._probe = FieldProbe(
            self._driver, sleep=self.driver_factory.chip_clock or time.sleep, irq=self._irq
        )

    def _read_uid(self) -> str | None:
        """The UID of a card in the field, or ``None`` when the field is empty.

        Like ``read_id_no_block``: a request, then anticollision, and then a
        SELECT of the last level, so the card is ACTIVE and a HLTA halts it.
        The package stops at cascade level 1, so for a 7- or 10-byte UID (level
        1 answers the cascade tag) this selects level 1 and runs the next
        levels by hand.
        """
        driver = self._driver
        if not self._probe.request():
            return None  # An empty field, a halted card, or an answer too garbled to tell.
        self._probe.hand_back()
        status, part = driver.MFRC522_Anticoll()
        if status != driver.MI_OK:
            raise ReaderError("anticollision failed (bad BCC or a collision)")
        uid: list[int] = []
        for level, code in enumerate(SELECT_CODES, start=1):
            if level > 1:
                part = anticollision(driver, code)
            last = part[0] != CASCADE_TAG
            if last:
                uid += part[:4]
            elif level == len(SELECT_CODES):
                break
            else:
                uid += part[1:4]
            sak = driver.MFRC522_SelectTag(part) if level == 1 else select(driver, code, part)
            if last:
                if sak & SAK_CASCADE_BIT:
                    raise ReaderError(f"cascade level {level} select answered SAK 0x{sak:02X}")
                return bytes(uid).hex().upper()
            if not sak & SAK_CASCADE_BIT:
                raise ReaderError(f"cascade level {level} select answered SAK 0x{sak:02X}")
        raise ReaderError("cascade tag at level 3: not an ISO 14443A UID")


def poll_steadily(
    poll: Callable[[], list[ReaderEvent]],
    clock: Clock,
    interval_s: float,
    emit: Callable[[ReaderEvent], None],
    stop_event: threading.Event,
) -> None:
    """Call ``poll`` every ``interval_s`` of ``clock`` until ``stop_event`` is set.

    Polls start on a fixed grid, so a slow poll shortens the wait after it
    instead of stretching the interval; after a stall longer than an interval
    the grid restarts rather than polling in a burst. The wait itself is
    ``stop_event.wait``, so setting the event ends the loop at once.

    A poll that raises what no reader should (a bug, not a failed read) does
    not end the loop: a thread that died there would leave the daemon up and
    every badge unanswered, with nobody told. It is logged with its traceback
    and emitted once as a :class:`ReaderFault` (the manager's alert); the next
    poll that works emits :class:`ReaderRecovered`.
    """
    next_poll = clock.monotonic()
    failing = False
    while not stop_event.is_set():
        try:
            events = poll()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            if not failing:
                log.exception("badge reader poll failed")
                emit(ReaderFault(f"the reader's poll failed: {exc!r}"))
            failing = True
            events = []
        else:
            if failing:
                failing = False
                log.warning("badge reader polls again")
                events = [ReaderRecovered(), *events]
        for event in events:
            emit(event)
        next_poll += interval_s
        now = clock.monotonic()
        if next_poll < now:
            next_poll = now
        stop_event.wait(next_poll - now)
