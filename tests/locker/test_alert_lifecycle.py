"""Alerts resolve themselves when their condition ends, on a simulated day."""

from __future__ import annotations

import json

from sqlalchemy import select

from locker import events as ev
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged
from locker.models import Alert, Event, NotifyMessage
from tests.support.nursery import MONDAY, at


def deposit(controller, number=1):
    controller.handle(BadgeRead("A1A1A1A1"))
    controller.handle(DoorChanged(number, True))
    controller.handle(DeviceChanged(number, True))
    controller.handle(DoorChanged(number, False))


def alerts(db, kind):
    with db.read() as session:
        return list(session.scalars(select(Alert).where(Alert.alert == kind).order_by(Alert.id)))


def to(clock, controller, hhmm):
    while clock.now() < at(MONDAY, hhmm):
        clock.advance(30)
        controller.tick()


def test_a_forced_door_resolves_when_shut_but_stays_unacknowledged(controller, db):
    controller.handle(DoorChanged(2, True))
    (alert,) = alerts(db, ev.ALERT_DOOR_FORCED)
    assert alert.resolved_at is None
    controller.handle(DoorChanged(2, False))
    (alert,) = alerts(db, ev.ALERT_DOOR_FORCED)
    assert alert.resolved_why == "the door was shut" and alert.acknowledged_at is None
    with db.read() as session:
        resolved = session.scalars(select(Event).where(Event.kind == ev.ALERT_RESOLVED)).one()
        topics = [m.topic for m in session.scalars(select(NotifyMessage))]
    assert json.loads(resolved.details)["why"] == "the door was shut"
    assert topics == [ev.ALERT_RAISED, ev.ALERT_RESOLVED]


def test_door_left_open_resolves_when_the_door_shuts(controller, db, clock):
    controller.handle(BadgeRead("A1A1A1A1"))
    controller.handle(DoorChanged(1, True))
    clock.advance(200)
    controller.tick()
    assert alerts(db, ev.ALERT_DOOR_LEFT_OPEN)[0].resolved_at is None
    controller.handle(DoorChanged(1, False))
    assert alerts(db, ev.ALERT_DOOR_LEFT_OPEN)[0].resolved_why == "the door was shut"


def test_no_deposit_resolves_when_the_person_deposits(controller, db, clock, people):
    to(clock, controller, "08:20")
    alice, mary = alerts(db, ev.ALERT_NO_DEPOSIT)
    assert alice.person_id == people["alice"] and alice.resolved_at is None
    deposit(controller)
    alice, mary = alerts(db, ev.ALERT_NO_DEPOSIT)
    assert alice.resolved_why == "they deposited their device" and mary.resolved_at is None


def test_no_deposit_resolves_when_the_shift_ends(controller, db, clock):
    to(clock, controller, "16:01")
    for alert in alerts(db, ev.ALERT_NO_DEPOSIT):
        assert alert.resolved_why == "their shift ended"


def test_overdue_resolves_when_the_device_comes_back(controller, db, clock):
    deposit(controller)
    to(clock, controller, "12:05")
    controller.handle(BadgeRead("A1A1A1A1"))  # on a break: released
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, False))
    controller.handle(DoorChanged(1, False))
    to(clock, controller, "12:45")
    (alert,) = alerts(db, ev.ALERT_OVERDUE)
    assert alert.resolved_at is None
    deposit(controller)
    assert alerts(db, ev.ALERT_OVERDUE)[0].resolved_why == "the device is back in its slot"


def test_unknown_badges_resolve_when_the_window_passes(controller, db, clock, config):
    for n in range(config.rules.unknown_badge_limit):
        controller.handle(BadgeRead(f"0000000{n}"))
        clock.advance(1)
    (alert,) = alerts(db, ev.ALERT_UNKNOWN_BADGES)
    clock.advance(config.rules.unknown_badge_window_s)
    controller.tick()
    assert alerts(db, ev.ALERT_UNKNOWN_BADGES)[0].resolved_why.startswith("no more unknown")


def test_tamper_resolves_when_a_device_is_back_in_the_slot(controller, db):
    deposit(controller)
    controller.handle(DeviceChanged(1, False))  # taken while locked
    (alert,) = alerts(db, ev.ALERT_TAMPER)
    assert alert.resolved_at is None
    controller.handle(DeviceChanged(1, True))
    assert alerts(db, ev.ALERT_TAMPER)[0].resolved_why == "a device is in the slot again"


def test_a_forgotten_device_resolves_when_collected(controller, db, clock):
    deposit(controller)
    to(clock, controller, "18:45")
    (alert,) = alerts(db, ev.ALERT_FORGOTTEN_DEVICE)
    assert alert.resolved_at is None
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, False))
    assert alerts(db, ev.ALERT_FORGOTTEN_DEVICE)[0].resolved_why == "the device was collected"
