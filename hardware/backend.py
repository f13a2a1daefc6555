"""The hardware the daemon drives: the bank's devices, the badge reader and, when
simulated, the physical world around them.

One class serves both backends; the config chooses real pins and the real reader
(``gpio``) or mock pins, the emulated MFRC522 and a persisted simulated world
(``simulated``), like OctoPrint's virtual printer.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpiozero import Factory

from hardware.cap_timer import CapTimer
from hardware.devices import Bank, build_bank
from hardware.expander_pins import ExpanderPinFactory
from hardware.expander_sim import SimulatedExpanders
from hardware.expanders import with_expanders
from hardware.flap import FlapGuard, door_guard, sensor_guard
from hardware.pins import make_pin_factory
from hardware.reader import (
    BadgeReader,
    CardPresented,
    Mfrc522Factory,
    ReaderFault,
    ReaderRecovered,
)
from hardware.sim_reader import SimulatedReaderBench
from hardware.sim_world import SimulatedWorld
from locker.clock import Clock, SystemClock
from locker.commands import SimBadge, SimReader, SimSlot
from locker.config import Config
from locker.config_pins import EXPANDER_PIN
from locker.decisions import (
    BadgeRead,
    Fault,
    HardwareRecovered,
    Lock,
    SensorReading,
    Signal,
    SlowReader,
    Unlock,
)
from locker.errors import InvalidRequest

#: Seconds a simulated badge stays on the reader, on the clock the reader polls on
#: (real time, even when the demo's clock runs fast): two polls and more. On real
#: time in a test, the card of the tap before was still there on a fast machine
#: when the next tap came, so the next tap was no new badge.
TAP_S = 0.35
#: Whole polls of the reader a simulated badge also stays for, as a person holds
#: a card until it beeps: on a machine so loaded that the reader's thread missed
#: 0.35 s, the tap was gone before it was read. (The poll under way when the card
#: came may have looked at the field before it: hence two.)
TAP_POLLS = 2


class Backend:
    """The bank's devices and reader, turned into the core's inputs and outputs."""

    def __init__(
        self,
        config: Config,
        clock: Clock,
        bank: Bank,
        reader: BadgeReader | SimulatedReaderBench,
        world: SimulatedWorld | None = None,
        expanders: ExpanderPinFactory | None = None,
        sim_expanders: SimulatedExpanders | None = None,
    ):
        self.config = config
        #: The expanders' pin factory, when slot pins are on MCP23017 lines.
        self.expanders = expanders
        #: The emulated expanders behind it, with the simulated backend.
        self.sim_expanders = sim_expanders
        self.clock = clock
        self.bank = bank
        self.reader = reader
        self.world = world
        self.stop_event = threading.Event()
        #: Pulse unlocks decided and logged, waiting for the lock supply's budget
        #: (``lock.max_simultaneous`` coils at once, ``lock.stagger_gap_s`` apart).
        self.pending_unlocks: deque[int] = deque()
        self.last_pulse_at: float | None = None
        self.reader_thread: threading.Thread | None = None
        self.tap_ends: float | None = None
        self.tap_until_poll = 0
        # Each door switch and device sensor reaches the rules through a guard
        # that holds back a flapping input (see hardware.flap).
        self.door_guards: dict[int, FlapGuard] = {
            n: door_guard(n, slot.door, clock) for n, slot in bank.slots.items()
        }
        self.sensor_guards: dict[int, FlapGuard] = {
            n: sensor_guard(n, slot.sensor, clock) for n, slot in bank.slots.items()
        }
        self.guards = [*self.door_guards.values(), *self.sensor_guards.values()]

    @classmethod
    def from_config(
        cls,
        config: Config,
        clock: Clock,
        *,
        data_dir: str | Path,
        pin_factory: Factory | None = None,
        timer_factory: Callable[..., Any] = CapTimer,
        reader_clock: Clock | None = None,
    ) -> Backend:
        """Build the backend the config asks for; every lock starts locked-safe.

        Tests pass their own ``pin_factory``, ``timer_factory`` (the locks'
        real-time safety cap) and ``reader_clock``; the reader otherwise polls on
        real time, even when the demo's clock runs fast.
        """
        base = pin_factory or make_pin_factory(config.hardware)
        factory, expanders, sim_expanders = with_expanders(config, base, clock.monotonic)
        # Real switches bounce; the simulated world's edges are clean (and come faster
        # than any debounce window when a test moves a door twice).
        bounce = config.hardware.input_bounce_s if config.hardware.backend == "gpio" else None
        bank = build_bank(
            config, factory, clock, timer_factory=timer_factory, bounce_time=bounce or None
        )
        reader_clock = reader_clock or SystemClock()
        options = {
            "poll_interval_s": config.reader.poll_interval_s,
            "debounce_s": config.reader.debounce_s,
            "health_check_s": config.reader.health_check_s,
            # After a restart, a card resting on the reader is not a new badge.
            "ignore_resting_card": True,
            "irq_pin": config.reader.irq_pin,
            "pin_factory": factory,
        }
        if config.hardware.backend == "gpio":
            driver = Mfrc522Factory.on_pi(
                bus=config.reader.spi_bus,
                device=config.reader.spi_device,
                reset_pin=config.reader.rst_pin,
            )
            reader = BadgeReader(driver, reader_clock, **options)
            return cls(config, clock, bank, reader, expanders=expanders)
        world = SimulatedWorld(Path(data_dir) / "sim_world.json")
        world.attach(factory, config, lines=None if sim_expanders is None else sim_expanders.line)
        reader = SimulatedReaderBench(
            reader_clock,
            card_source=lambda: world.card,
            reset_pin=config.reader.rst_pin,
            **options,
        )
        return cls(config, clock, bank, reader, world, expanders, sim_expanders)

    @property
    def simulated(self) -> bool:
        """True for mock pins and the emulated reader."""
        return self.world is not None

    @property
    def reader_healthy(self) -> bool:
        """False while the reader does not answer its version register."""
        return self.reader.healthy

    def start(self, emit: Callable[[object], None], *, reader_thread: bool = True) -> None:
        """Wire the inputs and start polling the reader; ``emit`` gets core inputs.

        Callbacks come on gpiozero's and the reader's threads, so ``emit`` must
        only enqueue. Door and sensor changes pass through their flap guards,
        which :meth:`update` keeps going. Tests pass ``reader_thread=False`` and
        call :meth:`poll_reader` themselves. An expander that stops answering
        (or comes back reset) is a ``Fault`` (a ``hardware_fault`` alert).
        """
        if self.expanders is not None:
            self._report_expanders(emit)
        for number, slot in self.bank.slots.items():
            door, sensor = self.door_guards[number], self.sensor_guards[number]
            door.start(emit)
            sensor.start(emit)
            slot.door.on_change(lambda closed, guard=door: guard.changed(not closed))
            slot.sensor.on_change(sensor.changed)

        def on_reader(event: object) -> None:
            translated = _reader_input(event)
            if translated is not None:
                emit(translated)

        if reader_thread:
            self.reader_thread = threading.Thread(
                target=self.reader.run,
                args=(on_reader, self.stop_event),
                name="reader",
                daemon=True,
            )
            self.reader_thread.start()

    def _report_expanders(self, emit: Callable[[object], None]) -> None:
        """An expander that stops answering, or is found reset, is a ``Fault`` naming
        the slots it serves (their doors are unknown to the rules meanwhile); one
        that answers again and reads back right is a ``HardwareRecovered``."""
        served = expander_slots(self.config)

        def silent(name: str, message: str) -> None:
            emit(Fault("expander", message, unit=name, slots=served.get(name, ())))

        def recovered(name: str, why: str | None = None) -> None:
            emit(HardwareRecovered("expander", name, why=why))

        self.expanders.on_silent = silent
        self.expanders.on_recovered = recovered
        # How each one answered when the bank was built (before anyone listened): a
        # fault left open by the last run resolves, or a new one is raised.
        for name in self.expanders.expanders:
            if self.expanders.answering(name):
                recovered(name)
            else:
                silent(name, f"expander {name} does not answer; its doors and sensors are unknown")

    def poll_reader(self) -> list[object]:
        """One poll of the reader, as core inputs (what the reader thread does each interval)."""
        return [i for i in map(_reader_input, self.reader.poll()) if i is not None]

    def read_sensors(self) -> dict[int, SensorReading]:
        """What every door switch and device sensor says now.

        An input that is flapping says what the rules were last told of it (a
        door: shut) until it settles, when its guard reports it afresh.
        """
        return {
            number: SensorReading(
                door_open=self.door_guards[number].reading(),
                device_present=self.sensor_guards[number].reading(),
            )
            for number in self.bank.slots
        }

    def apply(self, outputs: list[Unlock | Lock | Signal | SlowReader]) -> None:
        """Drive the decided outputs (their log entries are already committed)."""
        for output in outputs:
            if isinstance(output, Unlock):
                self._unlock(output.slot)
            elif isinstance(output, Lock):
                if output.slot in self.pending_unlocks:
                    self.pending_unlocks.remove(output.slot)
                self.bank.slots[output.slot].lock.lock()
            elif isinstance(output, Signal):
                self.bank.lights.show(output.name)
            elif isinstance(output, SlowReader):
                self.reader.slow_down(output.gap_s, output.for_s)
        self.update()

    def _unlock(self, slot: int) -> None:
        """Open ``slot``: a hold lock at once, a pulse lock when the power budget allows."""
        lock = self.bank.slots[slot].lock
        if lock.lock_type == "hold":
            lock.unlock()
        elif slot not in self.pending_unlocks:
            self.pending_unlocks.append(slot)
            self._start_due_pulses()

    def _start_due_pulses(self) -> None:
        """Start waiting pulses while fewer than ``max_simultaneous`` coils are energised
        and the last one began at least ``stagger_gap_s`` ago (a release of 24 slots
        must not draw 24 A at once from the lock supply)."""
        budget, gap = self.config.lock.max_simultaneous, self.config.lock.stagger_gap_s
        while self.pending_unlocks:
            now = self.clock.monotonic()
            if self.last_pulse_at is not None and now - self.last_pulse_at < gap:
                return
            if sum(1 for s in self.bank.slots.values() if s.lock.pulsing) >= budget:
                return
            slot = self.pending_unlocks.popleft()
            if self.bank.slots[slot].lock.unlock():
                self.last_pulse_at = now

    def lock_all(self) -> None:
        """Put every lock in its locked-safe state now (a storage fault: nothing may be open)."""
        self.pending_unlocks.clear()
        self.bank.safe()
        self.update()

    @property
    def busy(self) -> bool:
        """True while something needs :meth:`update` within a fraction of a second:
        a lock pulse to end, a light pattern, a simulated tap. (A flap settles in
        seconds, so an idle loop's passes are often enough for it.)"""
        return self.bank.busy or self.tap_ends is not None or bool(self.pending_unlocks)

    def due_in_s(self) -> float | None:
        """Seconds until a lock needs :meth:`update`: a pulse to end, or a waiting
        pulse's turn under the power budget (``None``: no lock waits on the clock).

        The daemon's loop wakes for it, so a staggered unlock starts on time
        rather than up to a pass of the loop late.
        """
        ends = [e for s in self.bank.slots.values() if (e := s.lock.pulse_ends_at) is not None]
        moments = list(ends)
        if self.pending_unlocks and self.last_pulse_at is not None:
            turn = self.last_pulse_at + self.config.lock.stagger_gap_s
            if len(ends) >= self.config.lock.max_simultaneous:
                turn = max(turn, min(ends))  # and a coil must have stopped drawing first
            moments.append(turn)
        return max(0.0, min(moments) - self.clock.monotonic()) if moments else None

    def update(self) -> None:
        """End pulses, step light patterns, move the simulated world on, end settled flaps."""
        self.bank.update()
        self._start_due_pulses()
        if self.expanders is not None:
            self.expanders.update()
        if self.world is not None:
            self.world.sync()
            if self._tap_over():
                self.tap_ends = None
                self.world.remove_card()
        # Last, so a guard reads its input after the world has moved.
        for guard in self.guards:
            guard.update()

    def _tap_over(self) -> bool:
        """Whether a simulated badge has been held long enough and the reader has looked."""
        return (
            self.tap_ends is not None
            and self.reader.clock.monotonic() >= self.tap_ends
            and self.reader.polls >= self.tap_until_poll
        )

    def outputs(self) -> dict[str, Any]:
        """What the output pins show, for the simulator page and the heartbeat."""
        if self.world is not None:
            return self.world.outputs()
        lights = self.bank.lights.state()
        return {
            "slots": {
                str(n): {"lock_energised": s.lock.energised, "unlock_count": s.lock.unlock_count}
                for n, s in self.bank.slots.items()
            },
            "leds": {"green": lights["green"], "red": lights["red"]},
            "buzzer": lights["buzzer"],
        }

    def simulate(self, command: SimBadge | SimSlot | SimReader) -> dict[str, Any]:
        """Carry out a simulator command (parsed by :func:`locker.commands.parse_command`).

        ``SimBadge`` taps a card on the reader, ``SimSlot`` moves a door or a
        device, ``SimReader`` makes the emulated reader fail (or recover).
        """
        if self.world is None:
            raise InvalidRequest("the simulator only works with simulated hardware")
        match command:
            case SimBadge(uid):
                self.world.present_card(uid)
                self.tap_ends = self.reader.clock.monotonic() + TAP_S
                self.tap_until_poll = self.reader.polls + TAP_POLLS
                return {"presented": self.world.card}
            case SimSlot(number, door, device):
                result: dict[str, Any] = {"slot": number}
                if door is not None:
                    result["forced"] = self.world.set_door(number, door == "open")
                if device is not None:
                    self.world.set_device(number, device)
                return result
            case SimReader(mode):
                self.reader.fail(mode)
                return {"fail": mode}
        raise InvalidRequest(f"unknown simulator command {command!r}")

    def close(self) -> None:
        """Stop the reader and leave every lock in its safe state, whatever fails."""
        self.stop_event.set()
        try:
            # Detach first so the world does not read the closing pins as unlocks.
            if self.world is not None:
                self.world.detach()
        finally:
            try:
                self.bank.close()
            finally:
                if self.reader_thread is not None:
                    self.reader_thread.join(timeout=2)
                if self.expanders is not None:
                    self.expanders.stop_listening()
                self.reader.close()


def _reader_input(event: object) -> object | None:
    """The core input for a reader event (a recovery resolves the fault's alert)."""
    if isinstance(event, CardPresented):
        return BadgeRead(event.uid)
    if isinstance(event, ReaderFault):
        return Fault("reader", event.reason)
    if isinstance(event, ReaderRecovered):
        return HardwareRecovered("reader")
    return None


def expander_slots(config: Config) -> dict[str, tuple[int, ...]]:
    """The slots each expander serves (a lock, door or sensor line on it)."""
    served: dict[str, list[int]] = {}
    for slot in config.slots:
        for pin in (slot.lock_pin, slot.door_pin, slot.sensor_pin):
            match = EXPANDER_PIN.fullmatch(str(pin))
            if match is not None and slot.number not in served.setdefault(match["expander"], []):
                served[match["expander"]].append(slot.number)
    return {name: tuple(numbers) for name, numbers in served.items()}
