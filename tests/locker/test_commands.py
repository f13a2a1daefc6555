"""Commands: stale unlocking commands expire, repeated open-now grants are one grant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.clock import SimulatedClock
from locker.commands import CommandKind, opens_a_slot, too_old
from locker.controller import Controller
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, SensorReading, Unlock
from locker.log import verify
from locker.models import Command, Event, Grant
from locker.people import add_person
from locker.rota import set_shift
from tests.support.nursery import MONDAY, at, make_config


@pytest.fixture
def clock():
    return SimulatedClock(at(MONDAY, "09:00"))


@pytest.fixture
def controller(db, clock):
    config = make_config()
    with db.write() as session:
        alice = add_person(session, "Alice", badge="A1A1A1A1", at=clock.now(), actor="test")
        set_shift(
            session,
            alice.id,
            MONDAY,
            at(MONDAY, "08:00"),
            at(MONDAY, "16:00"),
            [],
            at=clock.now(),
            actor="test",
        )
        session.commit()
    ctl = Controller(config, db, clock)
    ctl.start({s.number: SensorReading(False, False) for s in config.slots})
    # Alice's phone goes into slot 1.
    ctl.handle(BadgeRead("A1A1A1A1"))
    ctl.handle(DoorChanged(1, True))
    ctl.handle(DeviceChanged(1, True))
    ctl.handle(DoorChanged(1, False))
    return ctl


def queue(db, kind, payload, requested_at):
    with db.write() as session:
        row = Command(
            kind=kind,
            payload=payload,
            account="mary",
            client="10.0.0.5",
            created_at=requested_at,
            requested_at=requested_at,
        )
        session.add(row)
        session.commit()
        return row.id


def row(db, command_id):
    with db.read() as session:
        return session.get(Command, command_id)


def logged(db, kind):
    with db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind)))


@pytest.mark.parametrize(
    ("kind", "payload", "unlocking"),
    [
        (CommandKind.RELEASE_ALL, {"reason": "fire", "confirm": True}, True),
        (CommandKind.RELEASE_SLOT, {"slot": 1, "reason": "x"}, True),
        (CommandKind.GRANT, {"person_id": 1, "reason": "emergency", "open_now": True}, True),
        (CommandKind.GRANT, {"person_id": 1, "reason": "emergency", "open_now": False}, False),
        (CommandKind.VISITOR_IN, {"name": "Ofsted"}, True),
        (CommandKind.VISITOR_OUT, {"slot": 5}, True),
        (CommandKind.STOCK, {"slot": 6}, True),
        (CommandKind.SIM_BADGE, {"uid": "A1A1A1A1"}, True),
        (CommandKind.RELOAD, {}, False),
        (CommandKind.SIM_CLOCK, {"advance_s": 60}, False),
    ],
)
def test_which_commands_open_a_slot(kind, payload, unlocking):
    assert opens_a_slot(kind, payload) is unlocking
    assert too_old(kind, payload, 61.0, 60.0) is unlocking
    assert not too_old(kind, payload, 59.0, 60.0)


def test_a_command_from_the_future_beyond_the_limit_is_too_old():
    # A clock stepped back between asking and now: the real age is unknown.
    assert too_old(CommandKind.RELEASE_ALL, {}, -61.0, 60.0)
    assert not too_old(CommandKind.RELEASE_ALL, {}, -1.0, 60.0)


def test_a_stale_release_all_opens_nothing_and_is_logged_expired(controller, db, clock):
    asked = clock.now() - timedelta(seconds=61)
    command_id = queue(db, "release_all", {"reason": "fire", "confirm": True}, asked)
    assert controller.expire_if_stale(command_id, clock.now())
    stored = row(db, command_id)
    assert stored.status == "expired"
    assert "61 s old" in stored.result["error"] and "nothing was opened" in stored.result["error"]
    (expired,) = logged(db, ev.COMMAND_EXPIRED)
    assert expired.actor == "mary"
    assert '"command":"release_all"' in expired.details and '"age_s":61.0' in expired.details
    # Already expired: the daemon cannot run it any more.
    assert not controller.expire_if_stale(command_id, clock.now())
    assert logged(db, ev.RELEASE_ALL) == []
    with db.read() as session:
        assert verify(session).ok


def test_a_fresh_release_all_is_carried_out(controller, db, clock):
    command_id = queue(db, "release_all", {"reason": "fire", "confirm": True}, clock.now())
    assert not controller.expire_if_stale(command_id, clock.now() + timedelta(seconds=60))
    outputs, result = controller.run_command(command_id)
    assert [o.slot for o in outputs if isinstance(o, Unlock)] == [1]
    assert result["slots"] == [1]


def test_a_command_without_a_request_time_counts_as_stale(controller, db, clock):
    # Rows queued before requested_at was kept (an upgrade) are never run late.
    with db.write() as session:
        session.add(
            Command(kind="release_slot", payload={"slot": 1, "reason": "x"}, created_at=clock.now())
        )
        session.commit()
    (command_id,) = controller.pending_commands()
    assert controller.expire_if_stale(command_id, clock.now())
    assert '"age_s":null' in logged(db, ev.COMMAND_EXPIRED)[0].details


def test_old_commands_that_open_nothing_still_run(controller, db, clock):
    command_id = queue(db, "reload", {}, clock.now() - timedelta(hours=3))
    assert not controller.expire_if_stale(command_id, clock.now())
    assert controller.run_command(command_id)[1] == {"reloaded": True}


def grant_payload(open_now=True):
    return {"person_id": 1, "reason": "emergency", "open_now": open_now, "return_minutes": 15}


def test_five_open_now_grants_open_once_and_leave_no_live_grant(controller, db, clock):
    ids = [queue(db, "grant", grant_payload(), clock.now()) for _ in range(5)]
    unlocks = []
    for command_id in ids:
        outputs, _ = controller.run_command(command_id)
        unlocks += [o for o in outputs if isinstance(o, Unlock)]
    assert [u.slot for u in unlocks] == [1]
    with db.read() as session:
        grants = list(session.scalars(select(Grant)))
        assert len(grants) == 1 and grants[0].used_at is not None
        results = [session.get(Command, i).result for i in ids]
    assert all(r["grant_id"] == grants[0].id for r in results)
    assert [r.get("same_grant", False) for r in results] == [False, True, True, True, True]


def test_the_phone_back_in_is_not_released_again_by_a_repeated_grant(controller, db, clock):
    first = queue(db, "grant", grant_payload(), clock.now())
    controller.run_command(first)
    # Alice takes the phone, uses it, and puts it back.
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, False))
    controller.handle(DoorChanged(1, False))
    clock.advance(30)
    controller.handle(BadgeRead("A1A1A1A1"))
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, True))
    controller.handle(DoorChanged(1, False))
    # The retry of the first request arrives: the same grant, nothing opens.
    retry = queue(db, "grant", grant_payload(), clock.now())
    outputs, result = controller.run_command(retry)
    assert outputs == [] and result["same_grant"]
    # And her next badge is refused: no standing grant was left behind.
    clock.advance(60)
    assert not [o for o in controller.handle(BadgeRead("A1A1A1A1")) if isinstance(o, Unlock)]
    assert logged(db, ev.BADGE_REFUSED)


def test_an_open_now_grant_with_nothing_held_is_refused_not_left_waiting(controller, db, clock):
    controller.run_command(queue(db, "grant", grant_payload(), clock.now()))
    # Long after: the phone is out, a new open-now grant has nothing to open.
    clock.advance(600)
    command_id = queue(db, "grant", grant_payload(), clock.now())
    outputs, result = controller.run_command(command_id)
    assert outputs == [] and "nothing to open now" in result["error"]
    with db.read() as session:
        assert session.scalar(select(Grant).where(Grant.used_at.is_(None))) is None


def test_a_next_badge_grant_still_waits_for_the_badge(controller, db, clock):
    outputs, result = controller.run_command(
        queue(db, "grant", grant_payload(open_now=False), clock.now())
    )
    assert outputs == [] and result["waiting_for_badge"]


def test_the_controller_ignores_a_command_it_does_not_know(db, clock):
    config = make_config()
    ctl = Controller(config, db, clock)
    ctl.start({s.number: SensorReading(False, False) for s in config.slots})
    command_id = queue(db, "make_tea", {}, clock.now())
    outputs, result = ctl.run_command(command_id)
    assert outputs == [] and "unknown command" in result["error"]
