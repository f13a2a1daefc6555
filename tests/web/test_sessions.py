"""Server-side sessions: a cookie is worth nothing once its session has ended."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from locker.accounts import SESSION_MAX_AGE, end_sessions_of, set_active, set_password
from locker.models import PanelSession
from tests.support.panel import AuthActions, make_config
from web import create_app

COOKIE = "locker_session"


def replay(app, cookie: str):
    """A fresh browser carrying a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief


def logged_in_cookie(app, username: str = "manager") -> tuple[AuthActions, str]:
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(username)
    return auth, client.get_cookie(COOKIE).value


def sessions(db) -> list[PanelSession]:
    with db.read() as session:
        return list(session.scalars(select(PanelSession).order_by(PanelSession.id)))


def test_a_copied_cookie_is_refused_after_logout(app, db):
    auth, cookie = logged_in_cookie(app)
    assert replay(app, cookie).get("/api/status").status_code == 200
    auth.logout()
    assert replay(app, cookie).get("/api/status").status_code == 401
    response = replay(app, cookie).get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    (row,) = sessions(db)
    assert row.end_reason == "logout" and row.ended_at is not None


def test_logout_ends_only_that_session(app, db):
    phone, _ = logged_in_cookie(app)
    desk, desk_cookie = logged_in_cookie(app)
    phone.logout()
    assert replay(app, desk_cookie).get("/api/status").status_code == 200


def test_a_new_password_an_admin_or_a_deactivation_ends_every_session(app, db, clock):
    for end in (
        lambda s: set_password(s, "manager", "a brand new password", at=clock.now(), actor="t"),
        lambda s: end_sessions_of(s, "manager", at=clock.now(), actor="admin"),
        lambda s: set_active(s, "manager", False, at=clock.now(), actor="admin"),
    ):
        _, first = logged_in_cookie(app)
        _, second = logged_in_cookie(app)
        _, viewer = logged_in_cookie(app, "viewer")
        with db.write() as session:
            end(session)
            session.commit()
        assert replay(app, first).get("/api/status").status_code == 401
        assert replay(app, second).get("/api/status").status_code == 401
        assert replay(app, viewer).get("/api/status").status_code == 200


def test_a_session_ends_a_week_after_its_login_on_the_apps_clock(tmp_path, db, clock, accounts):
    # A manager on the panel every day keeps her cookie fresh (a day's idle
    # timeout here); the week is the server's, however fresh the cookie.
    config = make_config(tmp_path, session_idle_min=24 * 60)
    app = create_app({"TESTING": True}, config=config, clock=clock)
    client = app.test_client()
    AuthActions(client).login()
    daily = timedelta(hours=23)
    for _ in range(7):
        clock.advance(daily.total_seconds())
        assert client.get("/api/status").status_code == 200
    clock.advance((SESSION_MAX_AGE - 7 * daily).total_seconds() - 60)
    assert client.get("/api/status").status_code == 200
    clock.advance(120)
    assert client.get("/api/status").status_code == 401
    app.extensions["locker_db"].dispose()


def test_old_sessions_are_cleared_out_at_the_next_login(app, db, clock):
    logged_in_cookie(app)
    clock.advance((SESSION_MAX_AGE + timedelta(days=1)).total_seconds())
    logged_in_cookie(app)
    assert len(sessions(db)) == 1


def test_a_forged_cookie_id_with_someone_elses_key_is_refused(app, db):
    _, cookie = logged_in_cookie(app, "viewer")
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        data = serializer.loads(cookie)
        number, _, key = data["_user_id"].partition(":")
        data["_user_id"] = f"1:{key}"  # the manager's id, the viewer's session key
        forged = serializer.dumps(data)
    assert replay(app, forged).get("/api/status").status_code == 401
