"""The controller: decisions are committed to the database before any output."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from locker import events as ev
from locker.controller import Controller
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, Lock, SensorReading, Unlock
from locker.log import verify
from locker.models import Alert, Command, Custody, Event, Grant, Slot


def events(db, kind=None):
    with db.read() as session:
        query = select(Event).order_by(Event.id)
        if kind:
            query = query.where(Event.kind == kind)
        return list(session.scalars(query))


def slot_row(db, number):
    with db.read() as session:
        return session.get(Slot, number)


def deposit(controller, number=1):
    outputs = controller.handle(BadgeRead("A1A1A1A1"))
    controller.handle(DoorChanged(number, True))
    controller.handle(DeviceChanged(number, True))
    return outputs, controller.handle(DoorChanged(number, False))


def test_start_creates_slots_and_logs_the_start(controller, db, config):
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Slot)) == len(config.slots)
    kinds = [e.kind for e in events(db)]
    assert ev.SYSTEM_STARTED in kinds
    assert kinds.count(ev.CONFIG_CHANGED) >= 1


def test_deposit_is_stored_and_logged_before_the_unlock_is_returned(controller, db):
    opened, closed = deposit(controller)
    assert Unlock(1) in opened and Lock(1) in closed
    row = slot_row(db, 1)
    assert row.state == "held" and row.locked and row.device_present
    stored = [e.kind for e in events(db)]
    assert stored.index(ev.SLOT_UNLOCKED) < stored.index(ev.DEPOSIT_CONFIRMED)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Custody)) == 1
        assert verify(session).ok


def test_a_failed_commit_drives_nothing_and_keeps_the_stored_state(controller, db, monkeypatch):
    before = len(events(db))

    def broken_append(*args, **kwargs):
        raise RuntimeError("disk full")

    # The decision's entries are appended where the rules' state is stored.
    monkeypatch.setattr("locker.rules_store.append", broken_append)
    with pytest.raises(RuntimeError):
        controller.handle(BadgeRead("A1A1A1A1"))
    monkeypatch.undo()
    assert len(events(db)) == before
    assert slot_row(db, 1).state == "free"
    assert controller.rules.slots[1].state.value == "free"  # reloaded from the database


def test_alerts_are_stored_with_their_id_in_the_log(controller, db):
    deposit(controller)
    controller.handle(DoorChanged(1, True))  # forced
    with db.read() as session:
        alert = session.scalars(select(Alert)).one()
    assert alert.alert == ev.ALERT_DOOR_FORCED
    (raised,) = events(db, ev.ALERT_RAISED)
    assert f'"alert_id":{alert.id}' in raised.details


def submit(db, clock, kind, **payload):
    with db.write() as session:
        command = Command(
            kind=kind, payload=payload, account="mary", client="127.0.0.1", created_at=clock.now()
        )
        session.add(command)
        session.commit()
        return command.id


def test_grant_command_opens_now_and_is_marked_done(controller, db, clock, people):
    deposit(controller)
    command_id = submit(
        db,
        clock,
        "grant",
        person_id=people["alice"],
        reason="emergency",
        open_now=True,
        return_minutes=20,
    )
    outputs, result = controller.run_command(command_id)
    assert Unlock(1) in outputs
    assert result["slot"] == 1
    with db.read() as session:
        assert session.get(Command, command_id).status == "done"
        grant = session.scalars(select(Grant)).one()
        assert grant.used_at is not None and grant.created_by == "mary"
    assert [e.kind for e in events(db)][-4:-1] == [
        ev.GRANT_CREATED,
        ev.RELEASE_GRANT,
        ev.GRANT_USED,
    ]


@pytest.mark.parametrize(
    ("kind", "payload", "error"),
    [
        ("grant", {"person_id": 99, "reason": "emergency"}, "no active person"),
        ("grant", {"person_id": "1", "reason": "emergency"}, "person_id must be a whole number"),
        ("grant", {"person_id": 1, "reason": "bored"}, "reason must be one of"),
        ("grant", {"person_id": 1, "reason": "other"}, "needs a note"),
        ("grant", {"person_id": 1, "reason": "outing", "return_minutes": 0}, "between 1 and"),
        ("release_slot", {"slot": 1, "reason": "x"}, "not holding a device"),
        ("release_slot", {"slot": 77, "reason": "x"}, "no slot 77"),
        ("release_all", {"reason": "fire"}, "confirm"),
        ("teleport", {}, "unknown command"),
    ],
)
def test_bad_commands_fail_with_a_reason_and_change_nothing(
    controller, db, clock, kind, payload, error
):
    before = len(events(db))
    command_id = submit(db, clock, kind, **payload)
    outputs, result = controller.run_command(command_id)
    assert outputs == []
    assert error in result["error"]
    with db.read() as session:
        command = session.get(Command, command_id)
        assert command.status == "failed" and error in command.result["error"]
        assert session.scalar(select(func.count()).select_from(Grant)) == 0
    assert len(events(db)) == before


def test_restart_reconciles_and_never_unlocks(controller, config, db, clock):
    deposit(controller)
    controller.handle(BadgeRead("4D4D4D4D"))  # Mary's slot opens; the daemon dies
    restarted = Controller(config, db, clock)
    sensors = {s.number: SensorReading(False, False) for s in config.slots}
    sensors[1] = SensorReading(False, True)
    outputs = restarted.start(sensors)
    assert not [o for o in outputs if isinstance(o, Unlock)]
    assert slot_row(db, 2).state == "free"
    assert slot_row(db, 1).state == "held"
    with db.read() as session:
        assert verify(session).ok


def test_a_restart_does_not_repeat_todays_no_deposit_alerts(controller, config, db, clock):
    clock.advance(3600)  # 08:30: both are on shift with nothing deposited
    controller.tick()
    with db.read() as session:
        first = session.scalar(select(func.count()).select_from(Alert))
    assert first == 2
    restarted = Controller(config, db, clock)
    restarted.start({s.number: SensorReading(False, False) for s in config.slots})
    clock.advance(60)
    restarted.tick()
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == first


def test_a_clock_jump_is_remembered_across_a_restart(controller, config, db, clock):
    """After a jump, a restarted daemon still waits for a synchronisation."""
    clock.advance(10)
    controller.tick()
    clock.jump(-86400)
    controller.tick()
    assert not controller.rules.clock_trusted
    restarted = Controller(config, db, clock)
    restarted.start({s.number: SensorReading(False, False) for s in config.slots})
    assert not restarted.rules.clock_trusted
    assert events(db)[-1].kind != ev.CLOCK_SYNCHRONISED
    clock.synchronise()
    clock.advance(1)
    restarted.tick()
    assert restarted.rules.clock_trusted
    assert ev.CLOCK_SYNCHRONISED in [e.kind for e in events(db)]
