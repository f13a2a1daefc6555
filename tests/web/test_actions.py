"""The manager's forms, end to end through the fake daemon."""

from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.events import GRANT_REASONS
from locker.models import Alert, Slot
from tests.support.panel import commands, raise_alert, shown
from web.commands import NOT_RUNNING
from web.words import GRANT_REASON_WORDS

ALICE = 1


@pytest.fixture
def manager(auth):
    auth.login()
    return auth


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def slot_state(db, number: int) -> str:
    with db.read() as session:
        return session.get(Slot, number).state


def test_the_actions_page_has_every_form(client, manager, daemon):
    text = page(client.get("/actions"))
    for form in ("grant", "release-slot", "release-all", "visitor-in", "visitor-out"):
        assert f'data-testid="{form}-form"' in text
    assert "Alice" in text and "Mary" in text


def test_a_slot_link_preselects_the_slot(client, manager, daemon):
    text = page(client.get("/actions?slot=3"))
    assert '<option selected value="3">' in text


def test_granting_a_release_at_once(client, manager, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    response = manager.post(
        "/actions/grant",
        {
            "grant-person_id": str(ALICE),
            "grant-reason": "emergency",
            "grant-when": "now",
            "grant-return_minutes": "15",
        },
        follow_redirects=True,
    )
    assert "Release granted for Alice: slot 1 is open." in page(response)
    assert slot_state(db, 1) == "open_for_release"
    (grant,) = commands(db)
    assert grant.payload["return_minutes"] == 15 and grant.payload["open_now"] is True


def test_a_grant_for_other_needs_a_note(client, manager, daemon, db):
    response = manager.post(
        "/actions/grant",
        {"grant-person_id": str(ALICE), "grant-reason": "other", "grant-when": "badge"},
    )
    assert response.status_code == 400
    assert "needs a note" in page(response)
    assert commands(db) == []


def test_the_grant_form_caps_the_note_as_the_command_does(client, manager, daemon, db):
    assert 'maxlength="200"' in page(client.get("/actions"))
    response = manager.post(
        "/actions/grant",
        {
            "grant-person_id": str(ALICE),
            "grant-reason": "other",
            "grant-note": "x" * 201,
            "grant-when": "badge",
        },
    )
    assert response.status_code == 400
    assert "do not write health details here" in page(response)
    assert commands(db) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"grant-reason": "emergency", "grant-when": "badge"}, "grant-person_id"),
        ({"grant-person_id": "1", "grant-when": "badge"}, "grant-reason"),
        ({"grant-person_id": "1", "grant-reason": "party", "grant-when": "badge"}, "grant-reason"),
        (
            {"grant-person_id": "999", "grant-reason": "outing", "grant-when": "badge"},
            "grant-person_id",
        ),
        (
            {
                "grant-person_id": "1",
                "grant-reason": "outing",
                "grant-when": "badge",
                "grant-return_minutes": "-5",
            },
            "grant-return_minutes",
        ),
    ],
)
def test_a_form_mistake_is_named_beside_its_field(client, manager, daemon, db, fields, field):
    response = manager.post("/actions/grant", fields)
    assert response.status_code == 400
    assert f'data-testid="{field}-error"' in page(response)
    assert commands(db) == []


def test_releasing_a_slot_needs_the_password_again(client, manager, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    fields = {"release-slot-slot": "1", "release-slot-reason": "sick child"}
    wrong = manager.post("/actions/release-slot", {**fields, "release-slot-password": "guess"})
    assert wrong.status_code == 400
    assert "That is not your password." in page(wrong)
    assert commands(db) == []
    assert json.loads(shown(db, ev.AUTH_FAILED)[-1].details)["purpose"] == "release a slot"

    right = manager.post(
        "/actions/release-slot",
        {**fields, "release-slot-password": "manager-password"},
        follow_redirects=True,
    )
    assert "Alice's device is released from slot 1: the slot is open." in page(right)
    assert slot_state(db, 1) == "open_for_release"
    (released,) = shown(db, ev.RELEASE_MANAGER)
    assert released.actor == "manager"
    assert json.loads(released.details) == {
        "reason": "sick child",
        "client": "127.0.0.1",
    }


def test_a_refusal_from_the_controller_is_shown(client, manager, daemon):
    response = manager.post(
        "/actions/release-slot",
        {
            "release-slot-slot": "2",
            "release-slot-reason": "check",
            "release-slot-password": "manager-password",
        },
        follow_redirects=True,
    )
    assert "The controller refused: slot 2 is free, not holding a device." in page(response)


def test_release_all_needs_the_confirmation_and_the_password(client, manager, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    fields = {"release-all-reason": "fire", "release-all-password": "manager-password"}
    unconfirmed = manager.post("/actions/release-all", fields)
    assert unconfirmed.status_code == 400
    assert 'data-testid="release-all-confirm-error"' in page(unconfirmed)
    assert commands(db) == []

    response = manager.post(
        "/actions/release-all", {**fields, "release-all-confirm": "y"}, follow_redirects=True
    )
    assert "Release all: slot 1 is open." in page(response)
    assert slot_state(db, 1) == "open_for_release"


def test_a_visitor_signs_in_and_out(client, manager, daemon, db):
    response = manager.post(
        "/actions/visitor-in",
        {"visitor-in-name": "Ofsted inspector", "visitor-in-slot": ""},
        follow_redirects=True,
    )
    assert "Slot 4 is open for Ofsted inspector's phone." in page(response)
    daemon.put_in(4)
    assert slot_state(db, 4) == "held"
    status = page(client.get("/"))
    assert "Visitor: Ofsted inspector" in status

    response = manager.post(
        "/actions/visitor-out", {"visitor-out-slot": "4"}, follow_redirects=True
    )
    assert "Slot 4 is open: Ofsted inspector can take their phone." in page(response)
    assert slot_state(db, 4) == "open_for_release"


def test_a_visitor_slot_must_be_a_visitor_slot(client, manager, daemon, db):
    response = manager.post("/actions/visitor-out", {"visitor-out-slot": "1"})
    assert response.status_code == 400
    assert commands(db) == []


def test_acknowledging_an_alert_from_the_status_page(client, manager, daemon, db):
    alert_id = raise_alert(db, daemon.clock.now())
    assert f'data-testid="ack-{alert_id}"' in page(client.get("/"))
    response = manager.post(f"/alerts/{alert_id}/ack", follow_redirects=True)
    assert "Alert acknowledged: door forced open at slot 1." in page(response)
    assert f'data-testid="alert-{alert_id}"' not in page(response)
    with db.read() as session:
        assert (
            session.scalar(select(Alert.acknowledged_by).where(Alert.id == alert_id)) == "manager"
        )
    again = manager.post(f"/alerts/{alert_id}/ack", follow_redirects=True)
    assert "already acknowledged" in page(again)


def test_without_the_daemon_the_manager_is_told_it_will_happen_later(client, manager, people, db):
    response = manager.post(
        "/actions/grant",
        {"grant-person_id": str(ALICE), "grant-reason": "outing", "grant-when": "badge"},
        follow_redirects=True,
    )
    assert NOT_RUNNING in page(response)
    assert commands(db)[0].status == "pending"


def test_every_grant_reason_has_words_on_the_form():
    assert tuple(GRANT_REASON_WORDS) == GRANT_REASONS


def test_without_the_daemon_release_all_says_nothing_was_opened(client, manager, people, db):
    response = manager.post(
        "/actions/release-all",
        {
            "release-all-reason": "fire drill",
            "release-all-confirm": "y",
            "release-all-password": "manager-password",
        },
    )
    assert response.status_code == 503
    assert "The locker controller is not running; nothing was opened." in page(response)
    assert commands(db) == []
