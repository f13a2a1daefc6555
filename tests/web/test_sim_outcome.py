"""The simulator says what happened: each move is answered by the decision the daemon logged.

Played on the real daemon over simulated hardware (the ``world`` fixture), whose
answers are in the log by the time the command is; the bounded watch for an
answer that does not come runs on a clock the test moves, never on real time.
"""

from __future__ import annotations

import pytest

from locker.clock import SimulatedClock
from locker.models import Command
from locker.people import revoke_badge
from tests.support.panel import at
from web.sim_outcome import NOT_DECIDED, Watch


@pytest.fixture
def manager(auth):
    auth.login()
    return auth


def said(manager, path: str, body: dict) -> str:
    """The simulator's answer to one move (it must be a 200)."""
    response = manager.post_json(path, body)
    assert response.status_code == 200, response.json
    return response.json["message"]


def deposit(manager, uid: str, slot: int) -> list[str]:
    """Badge, open, put a device in and close: what the simulator said at each step."""
    return [
        said(manager, "/api/sim/badge", {"uid": uid}),
        said(manager, f"/api/sim/slots/{slot}", {"door": "open", "device": True}),
        said(manager, f"/api/sim/slots/{slot}", {"door": "closed"}),
    ]


def test_a_deposit_says_whose_device_went_in_and_that_the_slot_locked(manager, world):
    badge, moved, closed = deposit(manager, "A1A1A1A1", 1)
    assert badge == (
        "Alice's badge opened slot 1 for a device to go in: put it in and close the door."
    )
    assert (
        moved
        == "Slot 1: door opened and device put in. The slot is now: open for a device to go in."
    )
    assert closed == "Slot 1: door closed. Alice's device is in slot 1: the slot locked."


def test_a_refusal_says_why_and_a_managers_badge_approves_it(manager, world, clock):
    deposit(manager, "A1A1A1A1", 1)
    said(manager, "/api/sim/clock", {"to": "09:00"})
    assert said(manager, "/api/sim/badge", {"uid": "A1A1A1A1"}) == (
        "Refused: Alice's badge opened nothing. On shift and not on a break. Next break at 12:00."
    )
    assert said(manager, "/api/sim/badge", {"uid": "4D4D4D4D"}) == (
        "Mary approved on the spot: slot 1 is open for Alice's device to be taken."
    )
    taken = said(manager, "/api/sim/slots/1", {"door": "open", "device": False})
    assert taken == "Slot 1: door opened and device taken out. The slot is now: device out."


def test_a_break_release_names_the_break(manager, world):
    deposit(manager, "B0B0B0B0", 1)
    said(manager, "/api/sim/clock", {"to": "12:05"})
    assert said(manager, "/api/sim/badge", {"uid": "B0B0B0B0"}) == (
        "Bob's badge opened slot 1 for the device to be taken (on a break)."
    )
    said(manager, "/api/sim/slots/1", {"door": "open", "device": False})
    assert said(manager, "/api/sim/slots/1", {"door": "closed"}) == (
        "Slot 1: door closed. The slot locked."
    )


def test_an_unknown_card_is_said_so(manager, world):
    assert said(manager, "/api/sim/badge", {"uid": "0BADCAFE"}) == (
        "Card 0BADCAFE is not known: nothing opened. "
        "To give it to somebody, enrol it on their People page."
    )


def test_a_door_shut_with_nothing_in_frees_the_slot(manager, world):
    said(manager, "/api/sim/badge", {"uid": "A1A1A1A1"})
    said(manager, "/api/sim/slots/1", {"door": "open"})
    assert said(manager, "/api/sim/slots/1", {"door": "closed"}) == (
        "Slot 1: door closed. No device was put in: the slot locked again."
    )


def test_a_forced_door_and_a_taken_device_raise_alerts_in_words(manager, world):
    deposit(manager, "A1A1A1A1", 1)
    forced = said(manager, "/api/sim/slots/1", {"door": "open"})
    assert (
        forced == "Slot 1: door opened. It was locked: that is a forced door (an alert is raised)."
    )
    assert said(manager, "/api/sim/slots/1", {"device": False}) == (
        "Slot 1: device taken out. Alert raised: device removed while locked."
    )


def test_a_move_that_changes_nothing_says_so(manager, world):
    assert said(manager, "/api/sim/slots/2", {"door": "closed"}) == (
        "Slot 2: door closed. Nothing changed."
    )


def test_no_answer_within_the_watch_says_so_after_a_bounded_wait(
    app, manager, daemon, db, monkeypatch
):
    def done_without_a_decision(command_id):
        with db.write() as session:
            command = session.get(Command, command_id)
            command.status, command.result = "done", {}
            session.commit()
        return "done", {}

    monkeypatch.setattr("web.commands.wait_for_command", done_without_a_decision)
    watch_clock = SimulatedClock(at("07:30"))
    naps = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        watch_clock.advance(seconds)

    app.extensions["locker_sim_watch"] = Watch(1.0, watch_clock.monotonic, nap)
    answer = said(manager, "/api/sim/badge", {"uid": "A1A1A1A1"})
    assert answer == f"Card A1A1A1A1 held to the reader; {NOT_DECIDED}"
    assert 1.0 <= sum(naps) < 1.1  # the whole watch, and no longer
    naps.clear()
    assert said(manager, "/api/sim/slots/1", {"door": "open"}) == (
        "Slot 1: door opened. The controller has not decided yet: "
        "its answer will show under Latest events."
    )
    assert 1.0 <= sum(naps) < 1.1


def test_the_log_feed_the_simulator_shows_carries_words(client, manager, world):
    deposit(manager, "A1A1A1A1", 1)
    feed = client.get("/api/events?limit=100").json["events"]
    granted = next(e for e in feed if e["kind"] == "badge.granted")
    assert granted["kind_text"] == "Badge accepted"
    assert granted["person_name"] == "Alice"
    assert "card number: A1A1A1A1" in granted["summary"] and "deposit" in granted["summary"]
    assert all(e["kind_text"] and "." not in e["kind_text"][:-1] for e in feed)


def test_a_revoked_card_is_refused_by_its_number(manager, world, db, clock):
    with db.write() as session:
        revoke_badge(session, "B0B0B0B0", at=clock.now(), actor="test")
        session.commit()
    world.daemon.controller.reload_roster()
    assert said(manager, "/api/sim/badge", {"uid": "B0B0B0B0"}) == (
        "Refused: card B0B0B0B0 opened nothing. This badge has been revoked."
    )
