"""Bearer tokens: a read stays a read; the last-use stamp never holds a request up."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select

from locker.accounts import revoke_token
from locker.models import ApiToken
from web.words import PRIVACY_WORDS


def last_used(db):
    with db.read() as session:
        return session.scalar(select(ApiToken.last_used_at))


def test_a_token_is_stamped_at_most_once_a_minute(client, token, db, clock):
    headers = token()
    assert client.get("/api/status", headers=headers).status_code == 200
    first = last_used(db)
    assert first == clock.now()
    clock.advance(30)
    assert client.get("/api/status", headers=headers).status_code == 200
    assert last_used(db) == first
    clock.advance(31)
    assert client.get("/api/status", headers=headers).status_code == 200
    assert last_used(db) == clock.now()


def test_a_locked_database_does_not_hold_up_or_fail_a_token_read(client, token, db, config):
    headers = token()
    blocker = sqlite3.connect(config.db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # somebody holds the write lock, as the daemon may
        response = client.get("/api/status", headers=headers)
        assert response.status_code == 200, response.json
        # The events are personal data: a first look of the day must be put on
        # record (data.viewed) before it is shown, and the lock is held, so it is
        # refused in words, to be tried again; never a 500 or a read off the record.
        events = client.get("/api/events", headers=headers)
        assert events.status_code == 503
        assert events.json == {"error": PRIVACY_WORDS["view_not_recorded"]}
        assert events.headers["Retry-After"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert last_used(db) is None  # skipped, not waited for
    assert client.get("/api/events", headers=headers).status_code == 200


def test_a_revoked_token_gets_401(client, token, db, clock):
    headers = token()
    assert client.get("/api/status", headers=headers).status_code == 200
    with db.write() as session:
        (token_id,) = session.scalars(select(ApiToken.id))
        revoke_token(session, token_id, at=clock.now(), actor="test")
        session.commit()
    response = client.get("/api/status", headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": "the bearer token is unknown or revoked"}
