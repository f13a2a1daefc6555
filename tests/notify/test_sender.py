"""The outbox sender against a real SMTP server and HTTP receiver."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.alerts import resolve_alert, store_alert
from locker.decisions import RaiseAlert
from locker.models import Event, NotifyMessage
from locker_app.notify.channel import AppriseChannel
from locker_app.notify.sender import Sender
from tests.support.nursery import MONDAY, at


def raise_alert(db, clock, kind=ev.ALERT_DOOR_FORCED, slot=2):
    with db.write() as session:
        row = store_alert(
            session, RaiseAlert(kind, f"{kind} on slot {slot}", slot=slot), clock.now()
        )
        session.commit()
        return row.id


def sender(config, db, clock) -> Sender:
    return Sender(config, db, AppriseChannel(config), clock.now)


def logged(db, kind):
    with db.read() as session:
        return [
            json.loads(e.details) for e in session.scalars(select(Event).where(Event.kind == kind))
        ]


def test_an_alert_reaches_every_destination_that_wants_it_once(config, db, clock, smtp, receiver):
    raise_alert(db, clock)
    raise_alert(db, clock, ev.ALERT_OVERDUE, slot=1)  # operational: e-mail only
    send = sender(config, db, clock)
    assert send.run_once() == 2
    assert send.run_once() == 0
    assert smtp.subjects() == [
        "[Test Nursery] Door forced open (slot 2)",
        "[Test Nursery] Device overdue (slot 1)",
    ]
    assert [b["title"] for b in receiver.bodies] == ["[Test Nursery] Door forced open (slot 2)"]
    sent = logged(db, ev.NOTIFY_SENT)
    assert sorted(d["destination"] for d in sent) == ["hook", "office-email", "office-email"]
    assert all("url" not in d and "127.0.0.1" not in str(d) for d in sent)


def test_a_resolved_alert_is_sent_too_with_why(config, db, clock, smtp):
    alert_id = raise_alert(db, clock)
    with db.write() as session:
        from locker.models import Alert

        resolve_alert(session, session.get(Alert, alert_id), "the door was shut", clock.now())
        session.commit()
    sender(config, db, clock).run_once()
    assert smtp.subjects()[-1] == "[Test Nursery] Resolved: Door forced open (slot 2)"
    assert "the door was shut" in smtp.messages[-1].get_body(("plain",)).get_content()
    assert logged(db, ev.ALERT_RESOLVED)[0]["why"] == "the door was shut"


def test_smtp_down_for_an_hour_the_message_arrives_after_exactly_once(config, db, clock, smtp):
    smtp.stop()
    raise_alert(db, clock)
    send = sender(config, db, clock)
    for _ in range(60):  # an hour, a minute at a time
        send.run_once()
        clock.advance(60)
    failed = [d for d in logged(db, ev.NOTIFY_FAILED) if d["destination"] == "office-email"]
    assert 5 <= len(failed) <= 15  # retried with growing pauses, not every minute
    assert smtp.messages == []
    smtp.start()
    clock.advance(600)
    send.run_once()
    send.run_once()
    assert smtp.subjects() == ["[Test Nursery] Door forced open (slot 2)"]
    # The hook had it at once and never again.
    assert [d["destination"] for d in logged(db, ev.NOTIFY_SENT)] == ["hook", "office-email"]


def test_nothing_is_lost_or_repeated_across_a_restart_of_the_sender(config, db, clock, smtp):
    smtp.stop()
    raise_alert(db, clock)
    sender(config, db, clock).run_once()  # the hook gets it; e-mail fails
    smtp.start()
    clock.advance(3600)
    sender(config, db, clock).run_once()  # a new sender: the panel was restarted
    assert len(smtp.messages) == 1
    with db.read() as session:
        (row,) = session.scalars(select(NotifyMessage))
        assert (row.outcome, sorted(row.delivered)) == ("sent", ["hook", "office-email"])


def test_operational_alerts_wait_out_quiet_hours_safety_ones_do_not(config, db, clock, smtp):
    clock.advance((at(MONDAY, "22:00") - clock.now()).total_seconds())
    raise_alert(db, clock, ev.ALERT_FORGOTTEN_DEVICE, slot=1)
    raise_alert(db, clock, ev.ALERT_TAMPER, slot=3)
    send = sender(config, db, clock)
    send.run_once()
    assert smtp.subjects() == ["[Test Nursery] Device removed while locked (slot 3)"]
    clock.advance(8 * 3600)  # 06:00: still quiet
    send.run_once()
    assert len(smtp.messages) == 1
    clock.advance(3600)  # 07:00
    send.run_once()
    assert smtp.subjects()[-1] == "[Test Nursery] Device forgotten after closing (slot 1)"


def test_a_message_is_given_up_after_the_retry_period(config, db, clock, smtp):
    smtp.stop()
    raise_alert(db, clock, ev.ALERT_OVERDUE)
    send = sender(config, db, clock)
    for _ in range(26):
        send.run_once()
        clock.advance(3600)
    with db.read() as session:
        (row,) = session.scalars(select(NotifyMessage))
    assert row.outcome == "gave_up"
    assert logged(db, ev.NOTIFY_FAILED)[-1]["retry_at"] is None
    assert timedelta(hours=24) <= row.finished_at - row.created_at <= timedelta(hours=26)


class Crash(BaseException):
    """The panel process dies (power cut, OOM kill) after the server accepted a message
    and before its acceptance was committed."""


def crashing_after_the_send(config, db, clock, monkeypatch) -> Sender:
    send = sender(config, db, clock)

    def crash(message_id, dest):
        raise Crash

    monkeypatch.setattr(send, "_sent", crash)
    return send


def test_a_crash_between_acceptance_and_commit_resends_exactly_once_more(
    config, db, clock, smtp, receiver, monkeypatch
):
    # At least once: a duplicate door-forced message beats a lost one.
    raise_alert(db, clock, ev.ALERT_OVERDUE, slot=1)  # operational: office-email only
    with pytest.raises(Crash):
        crashing_after_the_send(config, db, clock, monkeypatch).run_once()
    assert len(smtp.messages) == 1 and logged(db, ev.NOTIFY_SENT) == []
    restarted = sender(config, db, clock)  # the panel starts again
    for _ in range(5):
        restarted.run_once()
        clock.advance(600)
    assert smtp.subjects() == ["[Test Nursery] Device overdue (slot 1)"] * 2  # once more only
    assert [d["destination"] for d in logged(db, ev.NOTIFY_SENT)] == ["office-email"]


def test_a_crash_after_the_first_of_two_destinations_resends_only_that_one(
    config, db, clock, smtp, receiver, monkeypatch
):
    raise_alert(db, clock)  # safety: the e-mail and the webhook
    with pytest.raises(Crash):
        crashing_after_the_send(config, db, clock, monkeypatch).run_once()
    first = len(smtp.messages) + len(receiver.bodies)
    assert first == 1
    restarted = sender(config, db, clock)
    for _ in range(5):
        restarted.run_once()
        clock.advance(600)
    # The one that was not committed goes again, the other for the first time: each
    # destination has it once or twice, never three times.
    assert sorted([len(smtp.messages), len(receiver.bodies)]) == [1, 2]
    assert sorted(d["destination"] for d in logged(db, ev.NOTIFY_SENT)) == ["hook", "office-email"]


def _apprise_plugins_loaded_by(code: str) -> int:
    """How many of apprise's plugin modules a fresh interpreter has after ``code``."""
    count = "import sys; print(sum(m.startswith('apprise.plugins.') for m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{count}"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    return int(done.stdout.strip())


CHANNEL_OF = (
    "from tests.support.nursery import notify_config\n"
    "from locker.notify_policy import Destination\n"
    "from locker_app.notify.channel import AppriseChannel, check_destinations\n"
    "config = notify_config('/tmp', {destinations})\n"
    "check_destinations(config)\n"
    "AppriseChannel(config)"
)


def test_a_panel_that_sends_nothing_loads_none_of_apprises_plugins():
    """Apprise loads all its plugins (16 MB) when asked anything; with no destination
    there is nothing to ask it, so the panel's memory stays without them."""
    imported = _apprise_plugins_loaded_by("import apprise")  # its base classes
    assert _apprise_plugins_loaded_by(CHANNEL_OF.format(destinations="")) == imported
    hook = "Destination('hook', 'json://127.0.0.1:9/x', ('all',))"
    # The check above is only worth something if a destination does load them.
    assert _apprise_plugins_loaded_by(CHANNEL_OF.format(destinations=hook)) > imported + 100
