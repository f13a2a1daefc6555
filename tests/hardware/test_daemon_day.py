"""A whole day through the daemon on mock pins: deposit, refusal, break, return,
grant, shift end; the real pins' states and their history are checked."""

from __future__ import annotations

import pytest

from locker import events as ev
from locker.decisions import Unlock
from locker.log import verify
from locker.models import Alert, Command
from tests.support.bench import ALICE, MARY, PEOPLE, Bench


@pytest.fixture
def day(tmp_path):
    """The daemon stepped by hand on mock pins, with Alice (staff) and Mary (manager)."""
    day = Bench(tmp_path, people=[p for p in PEOPLE if p[1] in (ALICE, MARY)])
    yield day
    day.close()
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
    day.go_to("14:00")
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
                requested_at=day.clock.now(),
            )
        )
        session.commit()
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


def pulsing(backend, slots: int) -> dict[int, bool]:
    """Whether each of the first ``slots`` slots' lock coils is energised by a pulse."""
    return {n: backend.bank.slots[n].lock.pulsing for n in range(1, slots + 1)}


def test_a_pulse_waiting_its_turn_is_woken_for_when_its_turn_comes(day):
    daemon, backend, gap = day.daemon, day.backend, day.config.lock.stagger_gap_s
    backend.apply([Unlock(1)])
    backend.apply([Unlock(2)])  # within the stagger gap: it waits its turn
    assert pulsing(backend, 2) == {1: True, 2: False}
    day.clock.advance(gap - 0.02)
    # Woken 20 ms from now, when it may start; not a whole pass of the loop later.
    assert daemon.wait_s == pytest.approx(0.02)
    assert daemon.wait_s < daemon.loop_s
    day.clock.advance(0.02)
    backend.update()
    assert pulsing(backend, 2) == {1: True, 2: True}


def test_a_full_power_budget_is_waited_out_not_spun_on(day):
    daemon, backend, lock = day.daemon, day.backend, day.config.lock
    assert lock.max_simultaneous == 2
    backend.apply([Unlock(1)])
    day.clock.advance(lock.stagger_gap_s)
    backend.apply([Unlock(2), Unlock(3)])  # 2 starts, 3 waits for a coil to stop
    day.clock.advance(lock.stagger_gap_s)
    backend.update()
    assert pulsing(backend, 3) == {1: True, 2: True, 3: False}
    # Slot 3's turn under the gap has come, but two coils draw current until slot
    # 1's pulse ends: the wait is for that, never 0 (a loop spinning on a core).
    until_1_ends = lock.unlock_pulse_s - 2 * lock.stagger_gap_s
    assert backend.due_in_s() == pytest.approx(until_1_ends)
    assert daemon.wait_s == min(daemon.loop_s, until_1_ends) > 0
