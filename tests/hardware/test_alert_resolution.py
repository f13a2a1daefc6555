"""Each alert kind that ends by an event, raised and resolved on the simulated day
through the real daemon: the clock (synchronised again), storage (writes again),
a hardware fault (the reader or an expander answers again, a reset expander reads
back right, a flapping input has not flapped for ten minutes, a stuck lock's door
moves on an unlock) and a broken log (it verifies again after a restore). The slot
and schedule kinds are in ``tests/locker/test_alert_lifecycle.py``."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select

from hardware.flap import CLEAR_S, SETTLE_S
from locker import events as ev
from locker.custody import STUCK_LOCK_RELEASES
from locker.models import Event
from locker.storage_guard import RETRY_S
from tests.support.bench import ALICE, MARY, PEOPLE, Bench
from tests.support.expander_bank import PER_EXPANDER, expander_bench
from tests.support.panel import SECRET
from web import create_app
from web.status import snapshot


@pytest.fixture
def day(tmp_path):
    bench = Bench(tmp_path, people=[p for p in PEOPLE if p[1] in (ALICE, MARY)])
    yield bench
    if bench.daemon.log_check is not None:
        bench.daemon.log_check.join()
    bench.close()


def resolved(bench: Bench, alert: str) -> list[str]:
    """Why each alert of kind ``alert`` was resolved, as ``alert.resolved`` logged it."""
    with bench.db.read() as session:
        rows = session.scalars(select(Event).where(Event.kind == ev.ALERT_RESOLVED))
        entries = [json.loads(row.details) for row in rows]
    return [d["why"] for d in entries if d["alert"] == alert]


def test_a_clock_alert_resolves_when_the_clock_is_synchronised(day):
    day.go_to("09:00")
    day.clock.lose_sync()
    day.settle(1)
    (alert,) = day.alerts(ev.ALERT_CLOCK)
    assert alert.resolved_at is None
    day.settle(60)
    assert day.alerts(ev.ALERT_CLOCK)[0].resolved_at is None  # still not synchronised
    day.clock.synchronise()
    day.settle(1)
    (alert,) = day.alerts(ev.ALERT_CLOCK)
    assert alert.resolved_at == day.clock.now()
    assert alert.resolved_why == "the clock is synchronised"
    assert resolved(day, ev.ALERT_CLOCK) == ["the clock is synchronised"]


def test_a_clock_that_jumped_resolves_at_the_next_synchronisation(day):
    day.go_to("09:00")
    day.clock.jump(3600)
    day.settle(1)
    assert day.alerts(ev.ALERT_CLOCK)[0].resolved_at is None
    day.clock.synchronise()
    day.settle(1)
    assert resolved(day, ev.ALERT_CLOCK) == ["the clock is synchronised"]


def test_a_storage_alert_resolves_when_the_database_takes_writes_again(tmp_path):
    bench = Bench(tmp_path, busy_timeout_s=0.05)
    try:
        bench.go_to("08:00")
        other = sqlite3.connect(tmp_path / "locker.db", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        bench.badge(ALICE)
        assert bench.daemon.storage.failing
        for _ in range(5):
            bench.settle(1)
        other.execute("ROLLBACK")
        other.close()
        for _ in range(int(RETRY_S) + 2):
            bench.settle(1)
        assert not bench.daemon.storage.failing
        (alert,) = bench.alerts(ev.ALERT_STORAGE)
        assert alert.resolved_why == "the database takes writes again"
        assert resolved(bench, ev.ALERT_STORAGE) == ["the database takes writes again"]
        assert bench.chain_ok()
    finally:
        bench.close()


def test_a_reader_fault_resolves_when_the_reader_answers_again(day):
    day.go_to("09:00")
    chip = day.backend.reader.chip
    chip.fail_mode = "silent_chip"
    for _ in range(10):
        day.settle(1)
        day.poll()
    day.settle(0)
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.details["component"] == "reader" and fault.resolved_at is None
    chip.fail_mode = None
    for _ in range(10):
        day.settle(1)
        day.poll()
    day.settle(0)
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_why == "the reader answers again"
    assert resolved(day, ev.ALERT_HARDWARE_FAULT) == ["the reader answers again"]


def test_a_broken_log_resolves_when_a_restore_verifies_again(day, tmp_path):
    day.settle(1)  # Monday's checkpoint starts the whole-log check
    day.daemon.log_check.join()
    day.settle(1)
    day.deposit(ALICE, 1)
    database = sqlite3.connect(tmp_path / "locker.db", isolation_level=None)
    # An event after the checkpoint that check verified: the nightly check
    # resumes from there (an edit before it waits for the weekly whole walk).
    (damaged, actor) = database.execute(
        "SELECT id, actor FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1",
        (ev.DEPOSIT_CONFIRMED,),
    ).fetchone()
    database.execute("UPDATE events SET actor = 'someone else' WHERE id = ?", (damaged,))
    next_check(day)
    (alert,) = day.alerts(ev.ALERT_LOG_BROKEN)
    assert alert.resolved_at is None
    # The installer restores the damaged event from the day's backup.
    database.execute("UPDATE events SET actor = ? WHERE id = ?", (actor, damaged))
    database.close()
    next_check(day)
    (alert,) = day.alerts(ev.ALERT_LOG_BROKEN)
    assert alert.resolved_why == "the whole log verifies again"
    assert resolved(day, ev.ALERT_LOG_BROKEN) == ["the whole log verifies again"]


def next_check(bench: Bench) -> None:
    """On to 00:05 of the next day (the daily checkpoint), and the whole-log check it starts."""
    local = bench.clock.now()
    target = (local + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    bench.settle((target - local).total_seconds())
    bench.daemon.log_check.join()
    bench.settle(1)


@pytest.fixture
def bank(tmp_path):
    bench = expander_bench(tmp_path)
    yield bench
    bench.close()


def test_a_silent_expander_names_its_slots_and_resolves_when_it_answers(bank):
    bank.go_to("07:55")
    chip = bank.backend.sim_expanders.chips["mcp0"]
    chip.disconnect()
    bank.settle(bank.backend.expanders.check_s)  # the consistency read finds it silent
    bank.settle(0)
    (fault,) = bank.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.details["unit"] == "mcp0"
    assert fault.details["slots"] == list(range(1, PER_EXPANDER + 1))
    assert f"slots 1–{PER_EXPANDER} cannot be checked" in fault.details["message"]
    shown = panel_slots(bank)
    assert [shown[n]["checkable"] for n in (1, PER_EXPANDER, PER_EXPANDER + 1)] == [
        False,
        False,
        True,
    ]
    assert shown[1]["sensors_text"] == "Cannot check: its expander does not answer"
    chip.reconnect()
    bank.settle(bank.backend.expanders.check_s)
    bank.settle(0)
    (fault,) = bank.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_why == "the expander mcp0 answers again"
    assert panel_slots(bank)[1]["checkable"] is True
    assert resolved(bank, ev.ALERT_HARDWARE_FAULT) == ["the expander mcp0 answers again"]


def panel_slots(bench: Bench) -> dict[int, dict]:
    """The slots as the panel's status page (and ``GET /api/status``) shows them."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET}, config=bench.config)
    try:
        with app.app_context(), bench.db.read() as session:
            return {slot["number"]: slot for slot in snapshot(session)["slots"]}
    finally:
        app.extensions["locker_db"].dispose()


def test_nothing_opens_on_a_silent_expander_and_a_badge_gets_another_slot(bank):
    bank.go_to("07:55")
    chip = bank.backend.sim_expanders.chips["mcp0"]
    chip.disconnect()
    bank.settle(bank.backend.expanders.check_s)
    bank.settle(0)
    bank.badge(ALICE)  # the first free slots are on mcp0: she is given slot 6
    assert [bank.state(n) for n in range(1, PER_EXPANDER + 2)] == [
        *["free"] * PER_EXPANDER,
        "open_for_deposit",
    ]
    assert all(bank.unlocks(n) == 0 for n in range(1, PER_EXPANDER + 1))


def test_an_expander_that_answers_after_a_restart_resolves_the_fault(bank):
    bank.go_to("07:55")
    bank.backend.sim_expanders.chips["mcp0"].disconnect()
    bank.settle(bank.backend.expanders.check_s)
    bank.settle(0)
    bank.daemon.finish()
    bank.start()  # the expander, mended meanwhile, answers when the bank is built
    bank.settle(0)
    (fault,) = bank.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_why == "the expander mcp0 answers again"
    assert bank.controller.rules.unchecked == {}
    bank.badge(ALICE)
    assert bank.state(1) == "open_for_deposit"  # slot 1 opens again


def test_a_reset_expander_resolves_when_it_is_reinitialised_and_reads_back_right(bank):
    bank.go_to("07:55")
    bank.backend.sim_expanders.chips["mcp0"].reset()  # a power dip: every register lost
    bank.settle(bank.backend.expanders.check_s)  # the consistency read finds it reset
    bank.settle(0)
    (fault,) = bank.alerts(ev.ALERT_HARDWARE_FAULT)
    assert "mcp0" in fault.details["message"] and "lost its settings" in fault.details["message"]
    why = "the expander mcp0 was re-initialised and reads back right"
    assert fault.resolved_why == why  # re-initialised by the same check
    assert resolved(bank, ev.ALERT_HARDWARE_FAULT) == [why]
    assert bank.controller.rules.unchecked == {}
    bank.badge(ALICE)
    assert bank.state(1) == "open_for_deposit"


def test_a_reset_expander_that_does_not_read_back_right_stays_open_and_unchecked(bank, monkeypatch):
    bank.go_to("07:55")
    chip = bank.backend.sim_expanders.chips["mcp0"]
    write = chip._write

    def iocon_stuck(address: int, value: int) -> None:
        # A damaged chip: its IOCON does not take the driver's value.
        write(address, 0 if address == 0x0A else value)

    monkeypatch.setattr(chip, "_write", iocon_stuck)
    chip.reset()
    for _ in range(3):  # three checks: still wrong each time, still one alert
        bank.settle(bank.backend.expanders.check_s)
        bank.settle(0)
    (fault,) = bank.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_at is None
    assert set(bank.controller.rules.unchecked) == {"mcp0"}
    bank.badge(ALICE)  # slot 1 is on mcp0: she is given the first slot of mcp1
    assert bank.state(1) == "free" and bank.state(PER_EXPANDER + 1) == "open_for_deposit"
    monkeypatch.undo()  # mended
    bank.settle(bank.backend.expanders.check_s)
    bank.settle(0)
    (fault,) = bank.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_why == "the expander mcp0 was re-initialised and reads back right"


def flap(bench: Bench, pin, times: int) -> None:
    """Flip an input ``times`` times at one instant (a loose wire), then step."""
    for _ in range(times):
        pin.drive_low() if pin.state else pin.drive_high()
    bench.settle()


def test_a_flapping_input_resolves_once_it_has_not_flapped_for_ten_minutes(day):
    day.go_to("07:55")
    day.deposit(ALICE, 1)
    day.settle(2)
    sensor = day.sensor_pin(1)
    flap(day, sensor, 300)  # an even number: it ends as it began, a device present
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.details["component"] == "slot 1 device sensor"
    day.settle(SETTLE_S)  # settled; the clear time runs from here
    day.settle(CLEAR_S / 2)
    flap(day, sensor, 300)  # another burst of the same loose wire: the same alert
    day.settle(SETTLE_S)
    day.settle(CLEAR_S - 1)
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_at is None
    day.settle(1)
    day.settle(0)
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    why = "the slot 1 device sensor has not flapped for 10 minutes"
    assert fault.resolved_why == why
    assert resolved(day, ev.ALERT_HARDWARE_FAULT) == [why]
    assert day.state(1) == "held"


def stuck_lock_reported(day: Bench, monkeypatch) -> None:
    """Slot 1's lock driver dies with Alice's phone in; her break releases it
    :data:`STUCK_LOCK_RELEASES` times and the door never pops: a stuck lock."""
    day.go_to("07:55")
    day.deposit(ALICE, 1)
    # The lock's driver is dead: its output never leaves the level it is at.
    monkeypatch.setattr(day.lock_pin(1), "_change_state", lambda value: False)
    day.go_to("12:02")
    for _ in range(STUCK_LOCK_RELEASES):
        day.badge(ALICE)  # released for her break, but the door never pops
        day.settle(31)


def test_a_stuck_lock_resolves_when_an_unlock_moves_its_door_even_after_a_restart(day, monkeypatch):
    stuck_lock_reported(day, monkeypatch)
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.details["component"] == "lock" and fault.slot == 1
    day.badge(ALICE)  # still stuck: the door does not move, the alert stays, no second one
    day.settle(31)
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert fault.resolved_at is None
    day.daemon.finish()
    day.start()
    assert day.controller.rules.slots[1].lock_stuck  # remembered from the open alert
    monkeypatch.undo()  # the installer changed the driver
    day.badge(ALICE)
    day.settle(0.5)
    assert day.world.slot(1).door_open  # the sprung door popped
    (fault,) = day.alerts(ev.ALERT_HARDWARE_FAULT)
    why = "the lock of slot 1 works again: its door opened"
    assert fault.resolved_why == why
    assert resolved(day, ev.ALERT_HARDWARE_FAULT) == [why]


def test_a_door_forced_on_a_stuck_lock_does_not_resolve_it(day, monkeypatch):
    stuck_lock_reported(day, monkeypatch)
    day.door(1, True)  # prised open: the lock did not work
    faults = day.alerts(ev.ALERT_HARDWARE_FAULT)
    assert [f.resolved_at for f in faults] == [None]
    assert len(day.alerts(ev.ALERT_DOOR_FORCED)) == 1
