"""Re-authentication before an action that opens a slot: one policy for forms and the API."""

from __future__ import annotations

import html

import pytest

from tests.support.panel import AuthActions, commands, make_config
from web import create_app

ALICE = 1
PASSWORD = "manager-password"
GRANT_NOW = {"person_id": ALICE, "reason": "emergency", "open_now": True}
LATER = 6 * 60  # past the default five minutes a typed password covers


@pytest.fixture
def manager(auth, daemon):
    auth.login()
    daemon.deposit("A1A1A1A1", 1)
    daemon.advance(LATER)
    return auth


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/grants", GRANT_NOW),
        ("/api/slots/1/release", {"reason": "check"}),
        ("/api/release-all", {"reason": "drill", "confirm": True}),
    ],
)
def test_opening_a_slot_without_the_password_is_refused(client, manager, db, path, body):
    response = manager.post_json(path, body)
    assert response.status_code == 403
    assert "type your password again in 'password'" in response.json["error"]
    assert commands(db) == []


def test_an_open_now_grant_with_the_password_opens_the_slot(client, manager, db):
    response = manager.post_json("/api/grants", {**GRANT_NOW, "password": PASSWORD})
    assert response.status_code == 200, response.json
    assert [c.kind for c in commands(db)] == ["grant"]
    assert "password" not in commands(db)[0].payload


def test_a_typed_password_covers_the_next_minutes_then_no_more(client, manager, daemon, db):
    assert manager.post_json("/api/grants", {**GRANT_NOW, "password": PASSWORD}).status_code == 200
    daemon.advance(4 * 60)
    covered = manager.post_json("/api/release-all", {"reason": "drill", "confirm": True})
    assert covered.status_code == 200, covered.json
    daemon.advance(2 * 60)
    assert manager.post_json("/api/slots/1/release", {"reason": "again"}).status_code == 403


def test_a_wrong_password_is_refused_even_inside_the_window(client, auth, daemon, db):
    auth.login()  # the login itself covers the next five minutes
    response = auth.post_json("/api/grants", {**GRANT_NOW, "password": "not-it"})
    assert response.status_code == 403
    assert response.json == {"error": "the password is wrong"}
    assert commands(db) == []


def test_a_grant_at_the_next_badge_opens_nothing_and_needs_no_password(client, manager, db):
    response = manager.post_json("/api/grants", {**GRANT_NOW, "open_now": False})
    assert response.status_code == 200, response.json


def test_a_bearer_token_is_its_own_credential(client, token, daemon, db):
    daemon.deposit("A1A1A1A1", 1)  # open now needs a device to open on
    response = client.post("/api/grants", json=GRANT_NOW, headers=token())
    assert response.status_code == 200, response.json


def test_password_must_be_text(client, manager):
    response = manager.post_json("/api/grants", {**GRANT_NOW, "password": 5})
    assert response.status_code == 400
    assert response.json == {"error": "password must be text"}


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (
            "/actions/grant",
            {"grant-person_id": str(ALICE), "grant-reason": "emergency", "grant-when": "now"},
        ),
        ("/actions/release-slot", {"release-slot-slot": "1", "release-slot-reason": "check"}),
        ("/actions/release-all", {"release-all-reason": "drill", "release-all-confirm": "y"}),
        ("/actions/visitor-in", {"visitor-in-name": "Inspector", "visitor-in-slot": ""}),
        ("/actions/visitor-out", {"visitor-out-slot": "4"}),
    ],
)
def test_every_form_that_opens_a_slot_asks_for_the_password(client, manager, db, path, form):
    refused = manager.post(path, form)
    assert refused.status_code == 400
    assert "Type your password again to" in page(refused)
    assert commands(db) == []
    password_field = path.removeprefix("/actions/") + "-password"
    done = manager.post(path, {**form, password_field: PASSWORD})
    assert done.status_code == 302, page(done)
    assert commands(db)


def test_reauth_min_zero_asks_every_time(tmp_path, db, clock, accounts, daemon):
    config = make_config(tmp_path, reauth_min=0)
    app = create_app({"TESTING": True}, config=config, clock=clock)
    auth = AuthActions(app.test_client())
    auth.login()
    response = auth.post_json("/api/grants", GRANT_NOW)
    assert response.status_code == 403
    assert "covers" not in response.json["error"]
    app.extensions["locker_db"].dispose()


@pytest.mark.parametrize(
    "password", ["", 5, [], {}, True, "x" * 5000, "\x00", "\u202e", "\ud800"], ids=repr
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/grants", GRANT_NOW),
        ("/api/slots/1/release", {"reason": "check"}),
        ("/api/release-all", {"reason": "drill", "confirm": True}),
    ],
)
def test_any_password_field_gets_a_4xx_never_a_500(client, manager, db, path, body, password):
    response = manager.post_json(path, {**body, "password": password})
    assert 400 <= response.status_code < 500, response.json
    assert isinstance(response.json["error"], str)
    assert commands(db) == []
