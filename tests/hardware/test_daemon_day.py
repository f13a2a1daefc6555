"""A whole day through the daemon on mock pins: deposit, refusal, break, return,
grant, shift end; the real pins' states and their history are checked."""

from __future__ import annotations

import dataclasses

import pytest
from fixtures_devices import FakeTimers

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker import events as ev
from locker.clock import SimulatedClock
from locker.controller import Controller
from locker.daemon import Daemon
from locker.db import Database, migrate
from locker.log import verify
from locker.models import Alert, Command, Event, Slot
from locker.people import add_person
from locker.rota import set_shift
from tests.locker.kit import MONDAY, at, make_config

ALICE, MARY = "A1A1A1A1", "4D4D4D4D"


class Day:
    """The daemon, stepped by hand, with a simulated clock and world."""

    def __init__(self, tmp_path):
        self.config = dataclasses.replace(make_config(), data_dir=str(tmp_path))
        self.clock = SimulatedClock(at(MONDAY, "07:30"))
        self.db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
        migrate(self.db.engine)
        with self.db.write() as session:
            for name, uid, role in (("Alice", ALICE, "staff"), ("Mary", MARY, "manager")):
                person = add_person(
                    session, name, role=role, badge=uid, at=self.clock.now(), actor="test"
                )
                set_shift(
                    session,
                    person.id,
                    MONDAY,
                    at(MONDAY, "08:00"),
                    at(MONDAY, "16:00"),
                    [(at(MONDAY, "12:00"), at(MONDAY, "12:30"))],
                    at=self.clock.now(),
                    actor="test",
                )
            session.commit()
        self.pins = SimulatedPinFactory()
        self.timers = FakeTimers()
        self.backend = Backend.from_config(
            self.config,
            self.clock,
            data_dir=tmp_path,
            pin_factory=self.pins,
            timer_factory=self.timers,
            reader_clock=self.clock,
        )
        self.world = self.backend.world
        self.daemon = Daemon(Controller(self.config, self.db, self.clock), self.backend)
        self.daemon.begin(reader_thread=False)

    def lock_pin(self, slot: int):
        return self.pins.pin(self.config.slot(slot).lock_pin)

    def settle(self, seconds: float = 0.0) -> None:
        self.clock.advance(seconds)
        self.daemon.step(0)

    def badge(self, uid: str) -> None:
        # The last card has been away longer than the reader's debounce.
        self.world.remove_card()
        self.backend.poll_reader()
        self.settle(1.1)
        self.backend.poll_reader()
        self.world.present_card(uid)
        for _ in range(3):  # a card answers every other request
            for event in self.backend.poll_reader():
                self.daemon.emit(event)
        self.daemon.step(0)

    def door(self, slot: int, open: bool) -> None:
        self.world.set_door(slot, open)
        self.daemon.step(0)

    def device(self, slot: int, present: bool) -> None:
        self.world.set_device(slot, present)
        self.daemon.step(0)

    def go_to(self, hhmm: str) -> None:
        target = at(MONDAY, hhmm)
        while self.clock.now() < target:
            self.settle(min(60.0, (target - self.clock.now()).total_seconds()))

    def state(self, slot: int) -> str:
        with self.db.read() as session:
            return session.get(Slot, slot).state

    def kinds(self) -> list[str]:
        with self.db.read() as session:
            return [e.kind for e in session.query(Event).order_by(Event.id)]


@pytest.fixture
def day(tmp_path):
    day = Day(tmp_path)
    yield day
    day.daemon.finish()
    day.db.dispose()


def test_a_whole_day_drives_the_real_pins(day):
    lock = day.lock_pin(1)
    assert lock.state is False  # locked-safe at start

    # 07:55 deposit: the lock is pulsed, the door pops, the phone goes in.
    day.go_to("07:55")
    day.badge(ALICE)
    assert lock.state is True
    assert day.world.slot(1).door_open  # the sprung door popped open
    day.settle(0.6)
    assert lock.state is False  # the pulse ended on the simulated clock
    day.device(1, True)
    day.door(1, False)
    assert day.state(1) == "held"
    assert day.world.outputs()["slots"][1]["unlock_count"] == 1

    # 10:00 refused: nothing moves.
    day.go_to("10:00")
    before = list(lock.states)
    day.badge(ALICE)
    assert list(lock.states) == before
    assert day.state(1) == "held"
    assert day.backend.bank.lights.state()["red"] is True

    # 12:05 on break: released, taken, back at 12:25.
    day.go_to("12:05")
    day.badge(ALICE)
    assert lock.state is True
    day.settle(0.6)
    day.device(1, False)
    day.door(1, False)
    assert day.state(1) == "out"
    day.go_to("12:25")
    day.badge(ALICE)
    day.settle(0.6)
    day.device(1, True)
    day.door(1, False)
    assert day.state(1) == "held"

    # 14:00 an emergency grant from the panel opens it at once.
    with day.db.write() as session:
        session.add(
            Command(
                kind="grant",
                payload={
                    "person_id": 1,
                    "reason": "emergency",
                    "open_now": True,
                    "return_minutes": 15,
                },
                account="mary",
                created_at=day.clock.now(),
            )
        )
        session.commit()
    day.go_to("14:00")
    day.daemon.run_commands()
    assert lock.state is True
    day.settle(0.6)
    day.device(1, False)
    day.door(1, False)
    day.go_to("14:10")
    day.badge(ALICE)
    day.settle(0.6)
    day.device(1, True)
    day.door(1, False)

    # 16:00 the shift ends: the lock is pulsed once by itself.
    day.go_to("15:59")
    count = day.world.outputs()["slots"][1]["unlock_count"]
    day.go_to("16:00")
    day.settle(1)
    assert day.world.outputs()["slots"][1]["unlock_count"] == count + 1
    day.device(1, False)
    day.door(1, False)
    assert day.state(1) == "free"

    # Every energising of the lock was a pulse: high then low, never left high.
    assert lock.state is False
    highs = sum(1 for s in lock.states if s.state is True)
    # deposit, break, back, grant, back, shift end
    assert highs == day.world.outputs()["slots"][1]["unlock_count"] == 6
    kinds = day.kinds()
    for kind in (
        ev.DEPOSIT_CONFIRMED,
        ev.BADGE_REFUSED,
        ev.RELEASE_BREAK,
        ev.RELEASE_GRANT,
        ev.RELEASE_SHIFT_END,
    ):
        assert kind in kinds
    with day.db.read() as session:
        assert verify(session).ok


def test_a_forced_door_raises_an_alert_and_unlocks_nothing(day):
    day.go_to("07:55")
    day.badge(ALICE)
    day.settle(0.6)
    day.device(1, True)
    day.door(1, False)
    count = day.world.outputs()["slots"][1]["unlock_count"]
    assert day.world.set_door(1, True) is True  # forced
    day.daemon.step(0)
    day.device(1, False)
    with day.db.read() as session:
        alerts = sorted(a.alert for a in session.query(Alert))
    assert alerts == [ev.ALERT_DOOR_FORCED, ev.ALERT_TAMPER]
    assert day.world.outputs()["slots"][1]["unlock_count"] == count


def test_the_reader_stopping_raises_a_fault_and_it_comes_back(day):
    chip = day.backend.reader.chip
    chip.fail_mode = "silent_chip"
    for _ in range(10):
        day.clock.advance(1)
        for event in day.backend.poll_reader():
            day.daemon.emit(event)
        day.daemon.step(0)
    with day.db.read() as session:
        assert [a.alert for a in session.query(Alert)] == [ev.ALERT_HARDWARE_FAULT]
    assert not day.backend.reader_healthy
    chip.fail_mode = None
    day.clock.advance(6)
    day.backend.poll_reader()
    day.go_to("07:55")
    day.badge(ALICE)
    assert day.state(1) == "open_for_deposit"


def test_stopping_leaves_every_lock_safe(day):
    day.go_to("07:55")
    day.badge(ALICE)
    assert day.lock_pin(1).state is True
    day.daemon.finish()
    assert day.lock_pin(1).state is False
    assert ev.SYSTEM_STOPPED in day.kinds()


def test_a_checkpoint_is_written_once_a_day(day):
    day.settle(1)
    assert day.kinds().count(ev.LOG_CHECKPOINT) == 1
    day.settle(3600)
    assert day.kinds().count(ev.LOG_CHECKPOINT) == 1
    day.settle(20 * 3600)  # past midnight
    assert day.kinds().count(ev.LOG_CHECKPOINT) == 2
    with day.db.read() as session:
        assert verify(session).ok


def test_an_idle_loop_waits_longer_than_a_busy_one(day):
    daemon = day.daemon
    assert daemon.wait_s == daemon.idle_loop_s > daemon.loop_s
    day.backend.bank.slots[1].lock.unlock()  # a pulse the loop must end on time
    assert daemon.wait_s == daemon.loop_s
