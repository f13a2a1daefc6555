"""The daemon stepped by hand on mock pins, a simulated clock and a simulated world.

Also the day of ``tests/hardware/test_daemon_day.py``: the real :class:`Daemon`,
:class:`Controller` and :class:`Backend` with the emulated reader, driven
without threads, so a test controls every step and every pin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import func, select

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker import events as ev
from locker.clock import SimulatedClock
from locker.config import Config
from locker.controller import Controller
from locker.daemon import Daemon
from locker.db import Database, migrate
from locker.log import verify
from locker.models import Alert, Event, Slot
from tests.support.nursery import MONDAY, add_on_shift, at, make_config
from tests.support.timers import FakeTimer

ALICE, BOB, MARY = "A1A1A1A1", "B0B0B0B0", "4D4D4D4D"
#: Who the bench knows by default: name, badge, role. Each works 08:00-16:00 on
#: Monday with a break 12:00-12:30.
PEOPLE = (("Alice", ALICE, "staff"), ("Bob", BOB, "staff"), ("Mary", MARY, "manager"))


class Bench:
    """A bank of four staff slots, a visitor and a setting slot, and ``people``."""

    def __init__(
        self,
        folder: Path,
        *,
        config: Config | None = None,
        synchronised=True,
        people: Sequence[tuple[str, str, str]] = PEOPLE,
        busy_timeout_s: float = 15.0,
    ):
        self.config = dataclasses.replace(config or make_config(), data_dir=str(folder))
        self.clock = SimulatedClock(at(MONDAY, "07:30"), synchronised=synchronised)
        self.db = Database(f"sqlite:///{folder / 'locker.db'}", busy_timeout_s=busy_timeout_s)
        migrate(self.db.engine)
        with self.db.write() as session:
            for name, uid, role in people:
                add_on_shift(session, name, uid, role, now=self.clock.now())
            session.commit()
        self.folder = folder
        self.pins = SimulatedPinFactory()
        self.timers: list[FakeTimer] = []
        self.start()

    def start(self) -> None:
        """Build the backend, the controller and the daemon afresh and begin (a restart
        after :meth:`Daemon.finish`, on the same pins, world and database)."""
        self.backend = Backend.from_config(
            self.config,
            self.clock,
            data_dir=self.folder,
            pin_factory=self.pins,
            timer_factory=self._timer,
            reader_clock=self.clock,
        )
        self.world = self.backend.world
        self.controller = Controller(self.config, self.db, self.clock)
        self.daemon = Daemon(self.controller, self.backend, real_clock=self.clock)
        self.daemon.begin(reader_thread=False)

    def _timer(self, interval: float, function: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(interval, function)
        self.timers.append(timer)
        return timer

    # ------------------------------------------------------------ pins

    def lock_pin(self, slot: int):
        """The mock pin of ``slot``'s lock output."""
        return self.pins.pin(self.config.slot(slot).lock_pin)

    def door_pin(self, slot: int):
        """The mock pin of ``slot``'s door switch."""
        return self.pins.pin(self.config.slot(slot).door_pin)

    def sensor_pin(self, slot: int):
        """The mock pin of ``slot``'s device sensor."""
        return self.pins.pin(self.config.slot(slot).sensor_pin)

    def unlocks(self, slot: int) -> int:
        """Times the world saw ``slot``'s lock driven open."""
        return self.world.slot(slot).unlock_count

    def energising_edges(self, slot: int) -> int:
        """Rising edges of ``slot``'s lock output since the bench was built."""
        return self.lock_pin(slot).rises

    # ---------------------------------------------------------- acting

    def settle(self, seconds: float = 0.0) -> None:
        """Move the clock on and run one pass of the loop."""
        self.clock.advance(seconds)
        self.daemon.step(0)

    def poll(self) -> None:
        """One poll of the reader; what it reports goes to the daemon's queue."""
        for event in self.backend.poll_reader():
            self.daemon.emit(event)

    def badge(self, uid: str) -> None:
        """Present ``uid`` to the reader long enough to be read once, then step."""
        self.world.remove_card()
        self.poll()
        self.settle(1.1)  # longer than the reader's debounce
        self.poll()
        self.world.present_card(uid)
        for _ in range(3):  # a card answers every other request
            self.poll()
        self.daemon.step(0)

    def door(self, slot: int, open: bool) -> None:
        """Move ``slot``'s door in the world, then step."""
        self.world.set_door(slot, open)
        self.daemon.step(0)

    def device(self, slot: int, present: bool) -> None:
        """Put a device in ``slot`` or take it out, then step."""
        self.world.set_device(slot, present)
        self.daemon.step(0)

    def go_to(self, hhmm: str) -> None:
        """Move the clock to ``hhmm`` on Monday a minute at a time, stepping the loop."""
        target = at(MONDAY, hhmm)
        while self.clock.now() < target:
            self.settle(min(60.0, (target - self.clock.now()).total_seconds()))

    def deposit(self, uid: str, slot: int) -> None:
        """``uid`` badges, the slot pops open, a device goes in, the door shuts."""
        self.badge(uid)
        assert self.state(slot) == "open_for_deposit"
        self.settle(0.6)
        self.device(slot, True)
        self.door(slot, False)
        assert self.state(slot) == "held"

    # ---------------------------------------------------------- reading

    def state(self, slot: int) -> str:
        """The stored state of ``slot``."""
        with self.db.read() as session:
            return session.get(Slot, slot).state

    def alerts(self, alert: str | None = None) -> list[Alert]:
        """Stored alerts, oldest first, of one kind if given."""
        with self.db.read() as session:
            query = select(Alert).order_by(Alert.id)
            if alert is not None:
                query = query.where(Alert.alert == alert)
            return list(session.scalars(query))

    def count(self, kind: str) -> int:
        """How many events of ``kind`` are logged."""
        with self.db.read() as session:
            return session.scalar(select(func.count()).where(Event.kind == kind))

    def kinds(self) -> list[str]:
        """The kinds of every logged event, oldest first."""
        with self.db.read() as session:
            return list(session.scalars(select(Event.kind).order_by(Event.id)))

    def unlocked_events(self) -> int:
        """``slot.unlocked`` events logged."""
        return self.count(ev.SLOT_UNLOCKED)

    def chain_ok(self) -> bool:
        """The log verifies."""
        with self.db.read() as session:
            return verify(session).ok

    def close(self) -> None:
        """Stop the daemon (locks safe) and close the database."""
        self.daemon.finish()
        self.db.dispose()


class NoUnlock:
    """Remembers the lock outputs, so a test can say nothing was driven open since."""

    def __init__(self, bench: Bench):
        self.bench = bench
        self.edges = {n: bench.energising_edges(n) for n in bench.backend.bank.slots}
        self.unlocks = {n: bench.unlocks(n) for n in bench.backend.bank.slots}
        self.logged = bench.unlocked_events()

    def check(self) -> None:
        bench = self.bench
        assert {n: bench.energising_edges(n) for n in self.edges} == self.edges
        assert {n: bench.unlocks(n) for n in self.unlocks} == self.unlocks
        assert bench.unlocked_events() == self.logged
        assert all(not bench.lock_pin(n).state for n in self.edges)  # pulse locks at rest
