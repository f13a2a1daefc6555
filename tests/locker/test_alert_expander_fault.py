"""The rules and a silent expander: its slots are not opened, the outage is remembered
across a restart (from its open alert), and only its answering again resolves it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.clock import SimulatedClock
from locker.controller import Controller
from locker.decisions import (
    BadgeRead,
    DeviceChanged,
    DoorChanged,
    Fault,
    HardwareRecovered,
    ReleaseSlot,
    SensorReading,
)
from locker.errors import InvalidRequest
from locker.models import Alert
from locker.people import add_person
from tests.support.nursery import MONDAY, at, make_config

ALICE = "A1A1A1A1"
SILENT = Fault("expander", "expander mcp0 does not answer", unit="mcp0", slots=(1, 2))


@pytest.fixture
def clock():
    return SimulatedClock(at(MONDAY, "09:00"))


@pytest.fixture
def config():
    return make_config()


def started(config, db, clock) -> Controller:
    controller = Controller(config, db, clock)
    controller.start({s.number: SensorReading(False, False) for s in config.slots})
    return controller


@pytest.fixture
def controller(config, db, clock):
    with db.write() as session:
        add_person(session, "Alice", role="staff", badge=ALICE, at=clock.now(), actor="t")
        session.commit()
    return started(config, db, clock)


def faults(db) -> list[Alert]:
    with db.read() as session:
        query = select(Alert).where(Alert.alert == ev.ALERT_HARDWARE_FAULT).order_by(Alert.id)
        return list(session.scalars(query))


def test_a_badge_is_given_a_slot_the_silent_expander_does_not_serve(controller, db):
    controller.handle(SILENT)
    (fault,) = faults(db)
    assert "slots 1–2 cannot be checked" in fault.details["message"]
    controller.handle(BadgeRead(ALICE))
    assert controller.rules.slots[3].state.value == "open_for_deposit"
    assert [controller.rules.slots[n].state.value for n in (1, 2)] == ["free", "free"]


def test_a_manager_cannot_release_a_slot_that_cannot_be_checked(controller):
    controller.handle(BadgeRead(ALICE))
    for change in (DoorChanged(1, True), DeviceChanged(1, True), DoorChanged(1, False)):
        controller.handle(change)
    assert controller.rules.slots[1].state.value == "held"
    controller.handle(SILENT)
    with pytest.raises(InvalidRequest, match="slot 1 cannot be checked"):
        controller.rules.handle(ReleaseSlot(1, "test", "mary"), controller.clock.read())


def test_the_outage_is_remembered_across_a_restart_and_not_raised_twice(
    controller, config, db, clock
):
    controller.handle(SILENT)
    again = started(config, db, clock)
    assert again.rules.unchecked == {"mcp0": (1, 2)}
    again.handle(SILENT)  # still silent when the new run looks
    assert len(faults(db)) == 1
    again.handle(HardwareRecovered("expander", "mcp0"))
    (fault,) = faults(db)
    assert fault.resolved_why == "the expander mcp0 answers again"
    assert again.rules.unchecked == {}


def test_an_expander_that_was_never_silent_resolves_nothing(controller, db):
    controller.handle(Fault("expander", "expander mcp1 had lost its settings", unit="mcp1"))
    controller.handle(HardwareRecovered("expander", "mcp0"))
    (fault,) = faults(db)
    assert fault.resolved_at is None  # mcp1's fault, not mcp0's


def test_a_reset_expander_resolves_in_the_words_of_its_recovery(controller, db):
    controller.handle(Fault("expander", "expander mcp1 had lost its settings", unit="mcp1"))
    why = "the expander mcp1 was re-initialised and reads back right"
    controller.handle(HardwareRecovered("expander", "mcp1", why=why))
    (fault,) = faults(db)
    assert fault.resolved_why == why
