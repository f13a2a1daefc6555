"""A badge's decision does not grow with the open alerts: the lifecycle looks only at
what the decision touched (counted in SQL statements, not timed)."""

from __future__ import annotations

from sqlalchemy import event

from locker import events as ev
from locker.alerts import store_alert
from locker.clock import SimulatedClock
from locker.controller import Controller
from locker.db import Database, migrate
from locker.decisions import BadgeRead, RaiseAlert, SensorReading
from locker.log import verify
from locker.people import add_person
from tests.support.nursery import MONDAY, at, make_config

ALICE = "A1A1A1A1"


def bank(tmp_path, open_alerts: int) -> tuple[Controller, list[int]]:
    """A controller with Alice (her badge deposits) and ``open_alerts`` open alerts for
    people who are not here; returns it and its count of SQL statements from now on."""
    config = make_config()
    tmp_path.mkdir()
    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    migrate(db.engine)
    clock = SimulatedClock(at(MONDAY, "09:00"))
    with db.write() as session:
        add_person(session, "Alice", role="staff", badge=ALICE, at=clock.now(), actor="t")
        for i in range(open_alerts):
            person = add_person(session, f"Absent {i}", role="staff", at=clock.now(), actor="t")
            alert = RaiseAlert(ev.ALERT_NO_DEPOSIT, "no device", person_id=person.id)
            store_alert(session, alert, clock.now())
        session.commit()
    controller = Controller(config, db, clock)
    controller.start({s.number: SensorReading(False, False) for s in config.slots})
    statements = [0]

    def count(*_args) -> None:
        statements[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    return controller, statements


def test_a_badge_costs_the_same_statements_with_60_alerts_open_as_with_none(tmp_path):
    counted = {}
    for open_alerts in (0, 60):
        controller, statements = bank(tmp_path / str(open_alerts), open_alerts)
        controller.handle(BadgeRead(ALICE))
        assert controller.rules.slots[1].state.value == "open_for_deposit"
        counted[open_alerts] = statements[0]
    assert counted[60] == counted[0]


def test_a_badge_reads_the_heads_and_the_holders_rows_once_and_writes_its_slot_unread(tmp_path):
    """The deposit's two events share one read of the chain's head and of Alice's row;
    the slot the rules hold whole is written, not loaded first."""
    controller, _ = bank(tmp_path / "a", 0)
    said: list[str] = []
    event.listen(
        controller.db.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_rest: said.append(" ".join(statement.split())),
    )
    controller.handle(BadgeRead(ALICE))
    appended = [s for s in said if s.startswith("INSERT INTO events")]
    assert len(appended) == 2  # badge.granted and slot.unlocked
    assert len([s for s in said if s.startswith("SELECT events.id, events.hash")]) == 1
    assert len([s for s in said if s.startswith("SELECT people.")]) == 1
    assert [s for s in said if s.startswith("SELECT slots.")] == []
    assert len([s for s in said if s.startswith("UPDATE slots")]) == 1
    with controller.db.read() as session:
        assert verify(session).ok
