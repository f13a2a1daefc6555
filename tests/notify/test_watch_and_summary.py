"""The panel's watch on the controller, and the daily summary at closing."""

from __future__ import annotations

from sqlalchemy import select

from locker import events as ev
from locker.alerts import store_alert
from locker.clock import SimulatedClock
from locker.db import Database, migrate
from locker.decisions import LogEntry, RaiseAlert
from locker.log import append
from locker.models import Alert, Event
from locker.notify_policy import Destination
from locker.people import add_person
from locker.rota import set_shift
from locker_app.notify.channel import AppriseChannel
from locker_app.notify.worker import NotifyWorker
from tests.support.live import publish
from tests.support.nursery import MONDAY, at, notify_config


def beat(config, clock):
    publish(config, heartbeat_at=clock.now().isoformat(), simulated=False)


def kinds(db):
    with db.read() as session:
        return [e.kind for e in session.scalars(select(Event).order_by(Event.id))]


def test_a_silent_controller_raises_an_alert_after_a_minute_and_resolves_when_back(
    config, db, smtp, receiver
):
    real = SimulatedClock(at(MONDAY, "10:00"))
    worker = NotifyWorker(config, db, real)
    beat(config, real)
    worker.tick()
    real.advance(55)
    worker.tick()  # 55 s of silence: nothing yet
    with db.read() as session:
        assert session.scalars(select(Alert)).all() == []
    real.advance(10)
    worker.tick()
    with db.read() as session:
        (alert,) = session.scalars(select(Alert))
    assert alert.alert == ev.ALERT_CONTROLLER_OFFLINE and alert.resolved_at is None
    assert "Controller not running" in smtp.subjects()[0]
    assert receiver.bodies[0]["title"] == smtp.subjects()[0]  # a safety alert: the hook too
    real.advance(600)
    worker.tick()  # still silent: raised once only
    beat(config, real)
    worker.tick()
    with db.read() as session:
        (alert,) = session.scalars(select(Alert))
    assert alert.resolved_why == "the controller is running again"
    assert smtp.subjects()[-1] == "[Test Nursery] Resolved: Controller not running"
    assert kinds(db).count(ev.ALERT_RAISED) == 1 and kinds(db).count(ev.ALERT_RESOLVED) == 1


def test_a_panel_started_with_no_controller_at_all_raises_it_after_a_minute(config, db, smtp):
    real = SimulatedClock(at(MONDAY, "10:00"))
    worker = NotifyWorker(config, db, real)
    worker.tick()
    real.advance(61)
    worker.tick()
    assert kinds(db) == [ev.ALERT_RAISED, ev.NOTIFY_SENT, ev.NOTIFY_SENT]


def test_the_daily_summary_goes_once_at_closing_with_the_day_in_it(tmp_path, smtp, clock):
    config = notify_config(
        tmp_path,
        Destination("office", smtp.url(), ("safety",)),
        summary_to=("office",),
        panel_url="http://locker.local:8080",
    )
    db = Database(config.db_url)
    migrate(db.engine)
    with db.write() as session:
        alice = add_person(session, "Alice", actor="test", at=clock.now())
        bob = add_person(session, "Bob", actor="test", at=clock.now())
        for person in (alice, bob):
            start, end = at(MONDAY, "08:00"), at(MONDAY, "16:00")
            set_shift(session, person.id, MONDAY, start, end, at=clock.now(), actor="test")
        append(session, LogEntry(ev.DEPOSIT_CONFIRMED, "daemon", 1, alice.id), clock.now())
        append(session, LogEntry(ev.RELEASE_MANAGER, "mary", 1, alice.id), clock.now())
        store_alert(session, RaiseAlert(ev.ALERT_OVERDUE, "late", slot=1), clock.now())
        session.commit()
    real = SimulatedClock(at(MONDAY, "18:29"))
    worker = NotifyWorker(config, db, real, channel=AppriseChannel(config))
    publish(config, heartbeat_at=real.now().isoformat())
    worker.tick()
    assert smtp.messages == []  # the overdue alert is not the office's kind; no summary yet
    real.advance(60)
    publish(config, heartbeat_at=real.now().isoformat())
    worker.tick()
    worker.tick()
    assert smtp.subjects() == ["[Test Nursery] Daily summary, Mon 05 Jan"]
    text = smtp.messages[0].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Alerts (1):" in text and "Device overdue, slot 1" in text
    assert "Overrides (1):" in text and "Released by a manager for Alice by mary" in text
    assert "never deposited a device (1):\n  Bob" in text
    assert "http://locker.local:8080/report?day=2026-01-05" in text
    db.dispose()
