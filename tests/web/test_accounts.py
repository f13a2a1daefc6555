"""The admin's accounts page: deactivate and activate, end sessions, revoke tokens."""

from __future__ import annotations

import html
import json

import pytest

from locker import events as ev
from locker.subject_access import held_counts
from tests.support.panel import AuthActions, shown

MANAGER, VIEWER, ADMIN = 1, 2, 3


@pytest.fixture
def admin(auth):
    auth.login("admin")
    return auth


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_page_lists_accounts_sessions_and_tokens(client, admin, token):
    token("manager")
    text = page(client.get("/accounts"))
    assert 'data-testid="account-3-sessions">1<' in text  # the admin's own
    assert 'data-testid="token-1"' in text and "never" in text
    assert 'data-testid="account-3-toggle"' not in text  # not yourself
    assert 'data-testid="nav-accounts"' in text


def test_deactivating_ends_the_sessions_and_tokens_and_stops_logins(app, client, admin, token, db):
    other = app.test_client()
    AuthActions(other).login("manager")
    headers = token("manager")
    assert other.get("/api/status").status_code == 200
    response = admin.post(f"/accounts/{MANAGER}/active", {"active": "0"}, follow_redirects=True)
    assert "manager is deactivated" in page(response)
    assert other.get("/api/status").status_code == 401
    assert client.get("/api/status", headers=headers).status_code == 401
    assert AuthActions(app.test_client()).login("manager").status_code == 200  # refused
    changed = json.loads(shown(db, ev.CONFIG_CHANGED)[-1].details)
    assert changed == {
        "what": "panel account deactivated",
        "username": "manager",
        "sessions_ended": 1,
        "tokens_revoked": 1,
        "client": "127.0.0.1",
    }
    assert shown(db, ev.CONFIG_CHANGED)[-1].actor == "admin"
    admin.post(f"/accounts/{MANAGER}/active", {"active": "1"})
    assert AuthActions(app.test_client()).login("manager").status_code == 302
    assert client.get("/api/status", headers=headers).status_code == 401  # stays revoked


def test_ending_all_sessions_of_an_account(app, client, admin):
    phone, desk = app.test_client(), app.test_client()
    AuthActions(phone).login("viewer")
    AuthActions(desk).login("viewer")
    response = admin.post(f"/accounts/{VIEWER}/end-sessions", follow_redirects=True)
    assert "2 sessions of viewer ended." in page(response)
    assert phone.get("/").status_code == 302 and desk.get("/").status_code == 302
    assert client.get("/accounts").status_code == 200  # the admin's own goes on


def test_revoking_a_token_from_the_panel(client, admin, token):
    headers = token("viewer")
    assert client.get("/api/status", headers=headers).status_code == 200
    response = admin.post("/tokens/1/revoke", follow_redirects=True)
    assert "Token 1 of viewer is revoked." in page(response)
    assert client.get("/api/status", headers=headers).status_code == 401
    again = admin.post("/tokens/1/revoke")
    assert again.status_code == 409 and "already revoked" in page(again)


@pytest.mark.parametrize(
    ("path", "form", "status", "words"),
    [
        (f"/accounts/{ADMIN}/active", {"active": "0"}, 409, "your own account"),
        (f"/accounts/{MANAGER}/active", {"active": "maybe"}, 400, "active must be 1"),
        ("/accounts/99/active", {"active": "0"}, 404, "no panel account 99"),
        ("/accounts/99/end-sessions", {}, 404, "no panel account 99"),
        ("/tokens/99/revoke", {}, 404, "no API token 99"),
        (f"/tokens/{10**30}/revoke", {}, 404, "no API token"),
        (f"/accounts/{10**30}/end-sessions", {}, 404, "no panel account"),
        (f"/accounts/{10**30}/active", {"active": "1"}, 404, "no panel account"),
        (f"/accounts/{MANAGER}/active", {"active": "1"}, 409, "already active"),
    ],
)
def test_mistakes_are_named(client, admin, path, form, status, words):
    response = admin.post(path, form)
    assert response.status_code == status
    assert words in page(response)


def test_an_admin_says_whose_an_account_is_and_the_export_then_holds_it(client, admin, db, people):
    alice = people["Alice"]
    response = admin.post(f"/accounts/{MANAGER}/person", {"person": str(alice)})
    assert response.status_code == 302
    text = page(client.get("/accounts"))
    assert f'<option value="{alice}" selected>Alice</option>' in text
    linked = json.loads(shown(db, ev.CONFIG_CHANGED)[-1].details)
    assert (linked["what"], linked["username"], linked["person_id"]) == (
        "panel account linked to a person",
        "manager",
        alice,
    )
    with db.read() as session:
        held = held_counts(session, alice)
    assert held["panel_accounts"] == 1
    assert "1 panel accounts they use" in page(client.get(f"/people/{alice}"))
    assert admin.post(f"/accounts/{MANAGER}/person", {"person": ""}).status_code == 302
    assert "panel account unlinked" in shown(db, ev.CONFIG_CHANGED)[-1].details


@pytest.mark.parametrize(
    ("person", "status", "words"),
    [("x", 400, "person must be a person's id"), ("999", 404, "nobody with id 999")],
)
def test_a_bad_person_for_an_account_is_named(client, admin, people, person, status, words):
    response = admin.post(f"/accounts/{MANAGER}/person", {"person": person})
    assert response.status_code == status and words in page(response)


def test_only_an_admin_says_whose_an_account_is(client, auth, people):
    auth.login("manager")
    assert auth.post(f"/accounts/{MANAGER}/person", {"person": "1"}).status_code == 403
