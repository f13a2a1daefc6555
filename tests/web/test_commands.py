"""Asking the daemon: the Command row, the doorbell, the wait, and the controller's clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from locker.doorbell import Doorbell, doorbell_path
from locker.models import Command
from tests.support.live import publish
from tests.support.panel import commands
from web.commands import NOT_RUNNING, NOT_YET, CommandOutcome, describe, send_command
from web.context import controller_now, daemon_state


def beat(config, at, *, simulated=True, controller_at=None):
    """A heartbeat as the daemon publishes it."""
    publish(
        config,
        heartbeat_at=at.isoformat(),
        simulated=simulated,
        clock_synchronised=True,
        controller_now=(controller_at or at).isoformat(),
    )


def test_an_unanswered_command_stays_queued_after_the_wait(app, config, db, clock):
    beat(config, clock.now())
    app.config["LOCKER_COMMAND_WAIT_S"] = 0.05
    with app.test_request_context():
        outcome = send_command("reload", {}, account="manager", client="127.0.0.1")
    assert outcome.status == "pending" and outcome.daemon_running
    assert describe(outcome) == NOT_YET
    (row,) = commands(db)
    assert (row.kind, row.account, row.client, row.status) == (
        "reload",
        "manager",
        "127.0.0.1",
        "pending",
    )


def test_the_wait_ends_as_soon_as_the_daemon_answers(app, config, db, clock, monkeypatch):
    beat(config, clock.now())
    polls = []

    def daemon_answers(seconds):
        polls.append(seconds)
        with db.write() as session:
            for command in session.query(Command):
                command.status, command.result = "done", {"reloaded": True}
            session.commit()

    monkeypatch.setattr("web.commands.time.sleep", daemon_answers)
    with app.test_request_context():
        outcome = send_command("reload", {}, account="manager", client="")
    assert outcome.status == "done" and outcome.result == {"reloaded": True}
    assert polls == [0.02]


def test_no_wait_when_the_daemon_is_down(app, config, db, clock, monkeypatch):
    beat(config, clock.now() - timedelta(seconds=16))
    monkeypatch.setattr("web.commands.wait_for_command", pytest.fail)
    with app.test_request_context():
        outcome = send_command("reload", {}, account="manager", client="")
    assert outcome.status == "pending" and not outcome.daemon_running
    assert describe(outcome) == NOT_RUNNING


def test_the_doorbell_rings_where_the_daemon_listens(app, config, clock, db):
    rung = threading.Event()
    bell = Doorbell(doorbell_path(config.data_dir), rung.set)
    bell.start()
    try:
        with app.test_request_context():
            send_command("reload", {}, account="manager", client="")
        assert rung.wait(2)
    finally:
        bell.close()


def test_the_controllers_clock_runs_on_from_its_last_heartbeat(app, config, db, clock):
    simulated_now = clock.now() + timedelta(hours=3)
    beat(config, clock.now() - timedelta(seconds=4), controller_at=simulated_now)
    with app.test_request_context(), db.read() as session:
        state = daemon_state(session)
        assert state.running
        assert controller_now(state) == simulated_now + timedelta(seconds=4)


def test_a_stopped_simulation_keeps_its_time(app, config, db, clock):
    simulated_now = clock.now() + timedelta(hours=3)
    beat(config, clock.now() - timedelta(minutes=5), controller_at=simulated_now)
    with app.test_request_context(), db.read() as session:
        assert controller_now(daemon_state(session)) == simulated_now


def test_a_real_daemon_uses_real_time(app, config, db, clock):
    beat(config, clock.now() - timedelta(seconds=3), simulated=False)
    with app.test_request_context(), db.read() as session:
        assert controller_now(daemon_state(session)) == clock.now()


@pytest.mark.parametrize(
    ("kind", "result", "names", "message"),
    [
        ("grant", {"waiting_for_badge": True}, {"person": "Alice"}, "at their next badge"),
        ("grant", {"slot": 2}, {"person": "Alice"}, "Alice: slot 2 is open"),
        ("release_all", {"slots": []}, {}, "no slot was holding a device"),
        ("release_all", {"slots": [1, 3]}, {}, "slots 1, 3 are open"),
        ("visitor_in", {"slot": 4}, {"visitor": "Sam"}, "open for Sam's phone"),
    ],
)
def test_describe_says_what_happened(kind, result, names, message):
    assert message in describe(CommandOutcome(1, kind, "done", result), names)


def test_describe_gives_the_daemons_reason_for_a_refusal():
    outcome = CommandOutcome(1, "release_slot", "failed", {"error": "slot 2 is free"})
    assert describe(outcome) == "The controller refused: slot 2 is free."
