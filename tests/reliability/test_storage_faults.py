"""Storage faults, in process: the daemon stays up, opens nothing, and catches the log up.

The real daemon, controller and backend on a simulated bank and clock (the
``Bench``), with faults made on the real SQLite file: another connection
holding the write lock, the database refusing to grow (``max_page_count``, as
a full disk does), the file deleted, replaced or damaged. Real time is the
bench's clock too, so the daemon's retries are moved on by jumping it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest
from sqlalchemy import event, select

from locker import events as ev
from locker.daemon import EXIT_RESTART
from locker.live_status import read_live_status, status_path
from locker.models import Event
from locker.storage_guard import RETRY_S
from tests.support.bench import ALICE, Bench


@pytest.fixture
def bench(tmp_path):
    held = Bench(tmp_path, busy_timeout_s=0.05)
    held.go_to("08:00")
    held.deposit(ALICE, 1)
    yield held
    held.close()


def live(bench) -> dict:
    return read_live_status(status_path(bench.config.status_dir)) or {}


def events_of(bench, kind):
    with bench.db.read() as session:
        rows = session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id))
        return [(e, json.loads(e.details)) for e in rows]


def wait_out(bench, seconds: float) -> None:
    """Let ``seconds`` pass on the bench's clock (real time too), one loop pass a second."""
    for _ in range(int(seconds)):
        bench.settle(1.0)


def lights(bench) -> tuple[bool, bool]:
    shown = bench.world.outputs()["leds"]
    return shown["green"], shown["red"]


class HeldLock:
    """Another process's write transaction on the database file."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self):
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_a_database_locked_for_40_s(bench, tmp_path):
    bench.go_to("12:05")  # Alice's break: her badge would release her phone
    unlocks = bench.unlocks(1)
    other = HeldLock(tmp_path / "locker.db")
    bench.badge(ALICE)
    assert bench.daemon.storage.failing
    assert bench.unlocks(1) == unlocks and not bench.lock_pin(1).state
    assert lights(bench) == (True, True)  # the out-of-service pattern, not "refused"
    assert live(bench)["storage"] == "failing"
    assert "locked" in live(bench)["storage_error"]
    wait_out(bench, 40)
    assert bench.daemon.storage.failing and bench.unlocks(1) == unlocks
    other.release()
    wait_out(bench, RETRY_S + 1)
    assert not bench.daemon.storage.failing
    assert live(bench)["storage"] == "ok"
    (alert,) = bench.alerts(ev.ALERT_STORAGE)
    assert "database is locked" in alert.details["message"]
    (refused, details), *_ = [
        (e, d) for e, d in events_of(bench, ev.BADGE_REFUSED) if d.get("reason") == "storage"
    ]
    assert details["recorded_late"] is True and refused.person_id is not None
    (recovered, summary), *_ = events_of(bench, ev.STORAGE_RECOVERED)
    assert summary["badges_refused"] == 1 and recovered.id > refused.id
    assert bench.chain_ok()
    # Storage is back: the same badge now opens the slot, as the rules allow.
    bench.badge(ALICE)
    assert bench.state(1) == "open_for_release" and bench.unlocks(1) == unlocks + 1


@pytest.fixture
def disk(bench):
    """Turn a full disk on and off: the database may not grow by a page."""
    full = {"on": False}

    @event.listens_for(bench.db.engine, "begin")
    def no_room(conn):
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        limit = pages if full["on"] else 1_073_741_823
        conn.exec_driver_sql(f"PRAGMA max_page_count = {limit}")

    return full


def test_a_full_disk(bench, disk):
    unlocks = bench.unlocks(1)
    disk["on"] = True
    bench.go_to("10:00")
    for _ in range(60):  # refused badges until the log needs a new page
        bench.badge(ALICE)
        if bench.daemon.storage.failing:
            break
    assert bench.daemon.storage.failing
    bench.go_to("12:05")  # her break: with a log, her badge would release the phone
    assert "full" in live(bench)["storage_error"]
    # While it lasts: a door forced open, Alice's badge refused, nothing opens.
    bench.world.set_door(2, True)
    bench.settle(1)
    bench.badge(ALICE)
    assert bench.unlocks(1) == unlocks and bench.state(1) == "held"
    wait_out(bench, 3 * RETRY_S)
    assert bench.daemon.storage.failing
    disk["on"] = False
    wait_out(bench, RETRY_S + 1)
    assert not bench.daemon.storage.failing
    forced = bench.alerts(ev.ALERT_DOOR_FORCED)
    assert forced and forced[-1].details.get("recorded_late") is True
    late = [d for _, d in events_of(bench, ev.BADGE_REFUSED) if d.get("reason") == "storage"]
    assert late and all(d["recorded_late"] for d in late)
    assert bench.alerts(ev.ALERT_STORAGE)
    assert bench.chain_ok()


def test_a_deleted_database_is_noticed_and_a_restored_one_needs_a_restart(bench, tmp_path):
    unlocks = bench.unlocks(1)
    path = tmp_path / "locker.db"
    backup = tmp_path / "backup.db"
    with sqlite3.connect(path) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    bench.go_to("12:05")
    assert bench.daemon.storage.failing
    assert "was deleted" in live(bench)["storage_error"]
    bench.badge(ALICE)
    assert bench.unlocks(1) == unlocks
    wait_out(bench, 2 * RETRY_S)
    assert bench.daemon.storage.failing and not bench.daemon.stop_event.is_set()
    shutil.copy(backup, path)  # the installer puts a database back
    wait_out(bench, RETRY_S + 1)
    # Only a new process can open the new file: the daemon ends, asking for a restart.
    assert bench.daemon.stop_event.is_set() and bench.daemon.exit_code == EXIT_RESTART
    assert bench.unlocks(1) == unlocks


def test_a_replaced_database_is_noticed(bench, tmp_path):
    path = tmp_path / "locker.db"
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    os.replace(copy, path)
    bench.settle(1)
    assert bench.daemon.storage.failing
    assert "replaced" in bench.daemon.storage.fault.error


def test_a_damaged_database_stops_every_unlock(bench, tmp_path):
    path = tmp_path / "locker.db"
    bench.settle(1)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    size = path.stat().st_size
    with path.open("r+b") as damaged:
        for offset in range(2 * page_size, size - page_size, 3 * page_size):
            damaged.seek(offset + 100)
            damaged.write(os.urandom(512))
    bench.db.engine.dispose()  # no cached page hides the damage
    bench.daemon.storage.check_integrity()
    assert bench.daemon.storage.failing
    assert "damaged" in bench.daemon.storage.fault.error or "cannot be read" in (
        bench.daemon.storage.fault.error
    )
    unlocks = bench.unlocks(1)
    bench.go_to("12:05")
    bench.badge(ALICE)
    assert bench.unlocks(1) == unlocks


def test_a_start_that_storage_prevents_comes_up_safe_and_reconciles_later(tmp_path):
    held = Bench(tmp_path, busy_timeout_s=0.05)
    held.go_to("08:00")
    held.deposit(ALICE, 1)
    held.daemon.finish()
    other = HeldLock(tmp_path / "locker.db")
    try:
        held.start()  # no restart loop: it comes up, failing
        assert held.daemon.storage.failing and not held.controller.started
        held.badge(ALICE)
        assert held.unlocks(1) == 1  # the deposit's pulse only
    finally:
        other.release()
    wait_out(held, RETRY_S + 1)
    assert not held.daemon.storage.failing and held.controller.started
    started = events_of(held, ev.SYSTEM_STARTED)
    assert [d["clean_stop"] for _, d in started] == [True, True]
    assert held.state(1) == "held" and held.chain_ok()
    held.close()


def test_system_started_says_whether_the_last_run_stopped_cleanly(tmp_path):
    held = Bench(tmp_path)
    # A crash: no system.stopped is logged before the next start.
    held.controller.start(held.backend.read_sensors())
    held.controller.stop()
    held.controller.start(held.backend.read_sensors())
    started = [d["clean_stop"] for _, d in events_of(held, ev.SYSTEM_STARTED)]
    assert started == [True, False, True]
    held.close()
