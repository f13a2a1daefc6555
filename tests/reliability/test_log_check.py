"""The daemon verifies the event log once a day, after the daily checkpoint (from the
last verified checkpoint, the whole chain at least weekly),
on a thread of its own, and records what it found as a ``log.verified`` event.

The daemon is stepped by hand (:class:`tests.support.bench.Bench`); the
verification thread is joined, or held on an event, never waited for by time.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker import events as ev
from locker import log_check as log_check_module
from locker.controller import Controller
from locker.daemon import Daemon
from locker.log import last_whole_check, verify
from locker.log.verification import FULL_EVERY
from locker.models import Event
from tests.support.bench import ALICE, Bench
from tests.support.nursery import MONDAY, at
from tests.support.timers import FakeTimer

#: How long a test lets the held verification thread wait before giving up;
#: a safety net so a broken test cannot hang, never a timing assertion.
SAFETY_S = 60


@pytest.fixture
def bench(tmp_path):
    bench = Bench(tmp_path)
    yield bench
    if bench.daemon.log_check is not None:
        bench.daemon.log_check.join()
    bench.close()


def record_the_check(bench: Bench) -> None:
    """Let the running verification end, then step so the loop records it."""
    check = bench.daemon.log_check
    assert check is not None, "no verification is running"
    check.join()
    bench.settle(1)


def next_day(bench: Bench, days: int = 1) -> None:
    """Step the loop on to 00:05 ``days`` later than Monday: the daily checkpoint."""
    target = at(MONDAY + timedelta(days=days), "00:05")
    bench.settle((target - bench.clock.now()).total_seconds())


def test_the_whole_log_is_verified_after_each_daily_checkpoint(bench):
    bench.settle(1)  # the first pass of the day takes Monday's checkpoint
    assert bench.count(ev.LOG_CHECKPOINT) == 1
    record_the_check(bench)
    assert bench.count(ev.LOG_VERIFIED) == 1
    bench.deposit(ALICE, 1)
    next_day(bench)
    assert bench.count(ev.LOG_CHECKPOINT) == 2
    record_the_check(bench)
    assert bench.count(ev.LOG_VERIFIED) == 2
    with bench.db.read() as session:
        newest = last_whole_check(session)
        record = session.get(Event, newest.event_id)
        checkpoint_record = session.scalar(
            select(Event.id)
            .where(Event.kind == ev.LOG_CHECKPOINT)
            .order_by(Event.id.desc())
            .limit(1)
        )
        whole = verify(session)
    assert newest.report is not None and newest.report.ok
    # It covers the log through the checkpoint that came before it.
    assert newest.report.head_id >= checkpoint_record
    assert newest.report.checked == newest.report.head_id
    assert newest.started == at(MONDAY + timedelta(days=1), "00:05")
    assert record.actor == "system"
    assert whole.ok  # the record is a chained event like any other
    assert bench.alerts(ev.ALERT_LOG_BROKEN) == []


def test_a_broken_chain_is_recorded_and_raises_one_alert(bench):
    bench.settle(1)
    record_the_check(bench)
    bench.deposit(ALICE, 1)
    with bench.db.read() as session:
        # The first event after the last verified checkpoint (and its record): Alice's badge.
        badge = session.scalar(select(Event.id).where(Event.kind == ev.BADGE_GRANTED))
    with bench.db.write() as session:
        session.execute(text(f"UPDATE events SET actor = 'someone else' WHERE id = {badge}"))
        session.commit()
    next_day(bench)
    record_the_check(bench)
    with bench.db.read() as session:
        newest = last_whole_check(session)
        raised = list(session.scalars(select(Event).where(Event.kind == ev.ALERT_RAISED)))
    assert newest.report is not None
    assert (newest.report.ok, newest.report.first_bad_id) == (False, badge)
    assert newest.report.head_id == badge - 1
    (alert,) = bench.alerts(ev.ALERT_LOG_BROKEN)
    assert alert.details["first_bad_id"] == badge
    assert f"found it broken at event {badge}" in alert.details["message"]
    assert any(f'"alert_id":{alert.id}' in e.details for e in raised)

    # Still broken the next day: recorded again, but the open alert is not repeated.
    next_day(bench, days=2)
    record_the_check(bench)
    assert bench.count(ev.LOG_VERIFIED) == 3
    assert len(bench.alerts(ev.ALERT_LOG_BROKEN)) == 1
    # Once acknowledged, a chain still broken raises it again.
    with bench.db.write() as session:
        session.execute(text("UPDATE alerts SET acknowledged_at = '2026-01-07 09:00:00.000000'"))
        session.commit()
    next_day(bench, days=3)
    record_the_check(bench)
    assert len(bench.alerts(ev.ALERT_LOG_BROKEN)) == 2


def test_an_edit_before_the_checkpoint_is_found_by_the_weekly_whole_walk(bench):
    bench.settle(1)
    record_the_check(bench)
    with bench.db.write() as session:
        session.execute(text("UPDATE events SET actor = 'someone else' WHERE id = 4"))
        session.commit()
    nights = []
    for day in range(1, FULL_EVERY + 1):
        next_day(bench, days=day)
        record_the_check(bench)
        with bench.db.read() as session:
            nights.append(last_whole_check(session).report)
    # Resumed from the checkpoint (which still holds) until the whole walk was due.
    assert [n.resumed_from is not None for n in nights] == [True] * (FULL_EVERY - 1) + [False]
    assert all(n.ok for n in nights[:-1])
    assert (nights[-1].ok, nights[-1].first_bad_id) == (False, 4)
    assert len(bench.alerts(ev.ALERT_LOG_BROKEN)) == 1


def test_the_loop_keeps_stepping_while_the_log_is_verified(bench, monkeypatch):
    walked = threading.Event()
    release = threading.Event()
    real_verify = log_check_module.verify_since_checkpoint

    def held(session):
        # The real walk, then hold the read transaction open until the test says.
        report = real_verify(session)
        walked.set()
        release.wait(SAFETY_S)
        return report

    monkeypatch.setattr(log_check_module, "verify_since_checkpoint", held)
    bench.settle(1)
    check = bench.daemon.log_check
    assert check is not None
    assert walked.wait(SAFETY_S)
    # The loop goes on, writing beside the open reader: Alice deposits, a day passes.
    bench.deposit(ALICE, 1)
    bench.go_to("12:00")
    next_day(bench)
    assert check.thread.is_alive() and not check.done()
    assert bench.daemon.log_check is check  # one verification at a time
    assert bench.count(ev.LOG_CHECKPOINT) == 2
    assert bench.count(ev.LOG_VERIFIED) == 0
    release.set()
    record_the_check(bench)
    with bench.db.read() as session:
        first = last_whole_check(session)
        deposit = session.scalar(select(Event.id).where(Event.kind == ev.DEPOSIT_CONFIRMED))
    # It verified the log as it stood when it started: before Alice's deposit.
    assert first.report is not None and first.report.ok
    assert first.report.head_id < deposit
    # Tuesday's checkpoint came while it walked: the next walk starts once it is recorded.
    assert bench.daemon.log_check is not None
    record_the_check(bench)
    with bench.db.read() as session:
        second = last_whole_check(session)
    assert bench.count(ev.LOG_VERIFIED) == 2
    assert second.report is not None and second.report.head_id > deposit
    assert second.started == at(MONDAY + timedelta(days=1), "00:05")


def test_a_verification_that_cannot_run_is_logged_and_tried_again(bench, monkeypatch, caplog):
    def failing(session):
        raise OSError("disk I/O error")

    monkeypatch.setattr(log_check_module, "verify_since_checkpoint", failing)
    bench.settle(1)
    record_the_check(bench)
    assert bench.count(ev.LOG_VERIFIED) == 0
    assert "could not run" in caplog.text
    monkeypatch.undo()
    next_day(bench)
    record_the_check(bench)
    assert bench.count(ev.LOG_VERIFIED) == 1


def restart(bench: Bench) -> Daemon:
    """Stop the bench's daemon and start a new one on the same database and world."""
    bench.daemon.finish()
    backend = Backend.from_config(
        bench.config,
        bench.clock,
        data_dir=Path(bench.config.data_dir),
        pin_factory=SimulatedPinFactory(),
        timer_factory=FakeTimer,
        reader_clock=bench.clock,
    )
    bench.daemon = Daemon(
        Controller(bench.config, bench.db, bench.clock), backend, real_clock=bench.clock
    )
    bench.daemon.begin(reader_thread=False)
    return bench.daemon


def test_a_restart_verifies_the_log_if_the_last_checkpoint_was_not(bench):
    bench.settle(1)
    bench.daemon.log_check.join()  # ended, but the daemon stops before recording it
    restarted = restart(bench)
    assert restarted.log_check is not None
    record_the_check(bench)
    assert bench.count(ev.LOG_VERIFIED) == 1
    # Once recorded, another restart on the same day does not verify again.
    assert restart(bench).log_check is None
    bench.settle(1)
    assert bench.count(ev.LOG_CHECKPOINT) == 1
