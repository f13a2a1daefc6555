"""Logging in and out: every attempt logged, wrong passwords throttled, sessions that expire."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from locker import events as ev
from locker.accounts import set_password
from locker.models import LoginThrottle, PanelAccount
from tests.support.panel import AuthActions, make_config, shown
from web import create_app
from web.auth import WRONG_LOGIN, shown_name
from web.throttle import throttle_delay


def account(db, username="manager") -> PanelAccount:
    with db.read() as session:
        return session.scalar(select(PanelAccount).where(PanelAccount.username == username))


def details(event) -> dict:
    return json.loads(event.details)


def counter(db, key: str) -> LoginThrottle | None:
    with db.read() as session:
        return session.get(LoginThrottle, key)


def test_a_login_is_logged_and_opens_the_status_page(client, auth, db):
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    (login,) = shown(db, ev.AUTH_LOGIN)
    assert login.actor == "manager"
    assert details(login) == {"username": "manager", "client": "127.0.0.1"}
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("manager", "not-my-password", "wrong password"),
        ("nobody", "manager-password", "unknown user"),
    ],
)
def test_a_failed_login_says_nothing_more_and_is_logged(
    client, auth, db, username, password, reason
):
    response = auth.login(username, password)
    assert response.status_code == 200
    assert WRONG_LOGIN in response.get_data(as_text=True)
    (failed,) = shown(db, ev.AUTH_FAILED)
    expected = {"client": "127.0.0.1", "reason": reason, "purpose": "login", "attempts": 1}
    if username == "manager":
        expected["username"] = "manager"  # only a name that is an account's is logged
    assert details(failed) == expected
    assert client.get("/").status_code == 302


def test_a_disabled_account_cannot_log_in_and_its_session_ends(client, auth, db):
    auth.login()
    with db.write() as session:
        session.scalar(
            select(PanelAccount).where(PanelAccount.username == "manager")
        ).active = False
        session.commit()
    assert client.get("/").status_code == 302
    response = auth.login()
    assert WRONG_LOGIN in response.get_data(as_text=True)
    assert details(shown(db, ev.AUTH_FAILED)[-1])["reason"] == "account disabled"


def test_logout_is_logged_and_ends_the_session(client, auth, db):
    auth.login()
    response = auth.logout()
    assert response.headers["Location"] == "/login"
    (logout,) = shown(db, ev.AUTH_LOGOUT)
    assert logout.actor == "manager"
    assert client.get("/").status_code == 302


def test_logout_needs_a_post(client, auth):
    auth.login()
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        (0, None),
        (4, None),
        (5, 30),
        (6, 60),
        (7, 120),
        (9, 480),
        (10, 900),
        (11, 900),
        (10**6, 900),
    ],
)
def test_the_throttle_doubles_up_to_fifteen_minutes(failures, seconds):
    delay = throttle_delay(failures)
    assert delay == (None if seconds is None else timedelta(seconds=seconds))


PAIR = "pair:127.0.0.1 manager"


def test_five_wrong_passwords_throttle_that_name_from_that_address_for_thirty_seconds(
    client, auth, db, clock
):
    for _ in range(5):
        auth.login("manager", "guess-guess")
    row = counter(db, PAIR)
    assert row.failures == 5
    assert row.throttled_until == clock.now() + timedelta(seconds=30)

    # Even the right password waits out the throttle, and trying does not extend it.
    response = auth.login()
    assert WRONG_LOGIN in response.get_data(as_text=True)
    assert counter(db, PAIR).failures == 5

    clock.advance(31)
    assert auth.login().status_code == 302
    row = counter(db, PAIR)
    assert row.failures == 0 and row.throttled_until is None
    assert counter(db, "addr:127.0.0.1").failures == 5  # the address keeps its wrong ones


def test_a_wrong_password_after_the_throttle_doubles_it(client, auth, db, clock):
    with db.write() as session:
        session.add(
            LoginThrottle(
                key=PAIR,
                failures=6,
                throttled_until=clock.now() - timedelta(seconds=1),
                updated_at=clock.now(),
                unlogged=0,
            )
        )
        session.commit()
    auth.login("manager", "guess-guess")
    assert counter(db, PAIR).throttled_until == clock.now() + timedelta(seconds=120)


def test_throttling_one_name_leaves_the_others_alone(client, auth, db):
    for _ in range(5):
        auth.login("manager", "guess-guess")
    assert auth.login("admin").status_code == 302


def test_an_unknown_name_is_counted_like_a_known_one(client, auth, db, clock):
    for _ in range(6):
        auth.login("nobody", "guess-guess")
        auth.login("manager", "guess-guess")
    known, unknown = counter(db, PAIR), counter(db, "pair:127.0.0.1 nobody")
    assert (known.failures, known.throttled_until) == (unknown.failures, unknown.throttled_until)


def test_failed_logins_are_logged_once_a_minute_per_address(client, auth, db, clock):
    for _ in range(28):
        auth.login("manager", "guess-guess")
        clock.advance(0.3)
    (first,) = shown(db, ev.AUTH_FAILED)
    assert details(first) == {
        "client": "127.0.0.1",
        "reason": "wrong password",
        "purpose": "login",
        "attempts": 1,
        "username": "manager",
    }
    clock.advance(60)
    auth.login("someone-else", "guess-guess")
    second = shown(db, ev.AUTH_FAILED)[-1]
    # The 27 unlogged ones and this one; a name without an account stays out of the log.
    assert details(second) == {
        "client": "127.0.0.1",
        "reason": "unknown user",
        "purpose": "login",
        "attempts": 28,
    }


def test_a_login_after_unlogged_failures_logs_them_first(client, auth, db, clock):
    auth.login("manager", "guess-1")
    auth.login("manager", "guess-2")
    auth.login("manager", "guess-3")
    assert auth.login().status_code == 302
    summary = shown(db, ev.AUTH_FAILED)[-1]
    assert details(summary) == {"client": "127.0.0.1", "reason": "earlier attempts", "attempts": 2}
    assert summary.id < shown(db, ev.AUTH_LOGIN)[-1].id


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("manager", "manager"),
        ("x" * 80, "x" * 40),
        ("evil\x1b[2Jname", "evil\\x1b[2Jname"),
        ("a\u202eb", "a\\u202eb"),
    ],
)
def test_a_logged_name_is_cut_short_and_escaped(typed, shown):
    assert shown_name(typed) == shown


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_the_site(client, auth, target):
    token = auth.csrf_token()
    response = client.post(
        "/login",
        data={
            "username": "manager",
            "password": "manager-password",
            "next": target,
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/"


def test_the_session_cookie_is_httponly_and_samesite(client, auth):
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "Expires=" in cookie  # permanent: ends after the idle timeout


def test_secure_cookies_when_configured(tmp_path, db, clock, accounts):
    config = make_config(tmp_path, secure_cookies=True, session_idle_min=5)
    app = create_app({"TESTING": True}, config=config, clock=clock)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=5)
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    app.extensions["locker_db"].dispose()


def test_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_the_session_ends_after_the_idle_timeout_by_the_apps_clock(client, auth, clock):
    auth.login()
    assert client.get("/").status_code == 200
    clock.advance(14 * 60)  # default session_idle_min is 15
    assert client.get("/").status_code == 200  # a person's request starts the timer again
    clock.advance(14 * 60)
    assert client.get("/").status_code == 200
    clock.advance(16 * 60)
    assert client.get("/").status_code == 302


def test_the_session_cookie_expires_by_the_apps_clock(client, auth, clock):
    response = auth.login()
    expires = re.search(r"Expires=([^;]+)", response.headers["Set-Cookie"]).group(1)
    assert parsedate_to_datetime(expires) == (clock.now() + timedelta(minutes=15)).replace(
        microsecond=0
    )


def test_a_person_refreshes_the_session_but_the_status_poll_does_not(client, auth):
    auth.login()
    assert "Set-Cookie" in client.get("/api/status").headers
    assert "Set-Cookie" not in client.get("/api/status", headers={"X-Panel-Poll": "1"}).headers


def test_an_outdated_hash_is_upgraded_at_login(client, auth, db, monkeypatch):
    before = account(db).password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)
    monkeypatch.setattr("locker.accounts._hasher", stronger)
    assert auth.login().status_code == 302
    after = account(db).password_hash
    assert after != before and "t=2" in after
    assert client.get("/").status_code == 200  # the session carries the new hash's key


def test_a_new_password_ends_the_sessions_started_with_the_old_one(app, client, auth, db, clock):
    auth.login()
    other = app.test_client()
    AuthActions(other).login("viewer")
    with db.write() as session:
        set_password(session, "manager", "a brand new password", at=clock.now(), actor="admin")
        session.commit()
    assert client.get("/").status_code == 302  # back to the login page
    assert other.get("/").status_code == 200  # another account's session goes on
    assert auth.login().status_code == 200  # the old password is refused
    assert auth.login(password="a brand new password").status_code == 302
    assert client.get("/").status_code == 200
    (changed,) = [e for e in shown(db, ev.CONFIG_CHANGED) if "password" in e.details]
    assert details(changed) == {
        "what": "panel account password changed",
        "username": "manager",
        "sessions_ended": 1,
        "tokens_revoked": 0,
    }
    assert "brand new" not in changed.details
