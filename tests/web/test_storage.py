"""The panel while the database is unusable: a 503 naming why, never a 500, nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from locker.live_status import status_path, write_live_status
from tests.support.panel import SECRET, AuthActions, commands
from web import create_app

ALICE = 1


def test_changes_while_the_database_is_locked_are_503_with_the_reason(
    quick_app, people, daemon, db, config, token
):
    bearer = token()
    client = quick_app.test_client()
    auth = AuthActions(client)
    auth.login()
    csrf = {"X-CSRFToken": auth.csrf_token("/")}
    conn = sqlite3.connect(config.db_url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        status = client.get("/api/status")
        assert status.status_code == 200  # reading never waits for the write lock
        # Nor does a bearer token's read (its last-used stamp gives way to the lock).
        assert quick_app.test_client().get("/api/status", headers=bearer).status_code == 200
        grant = client.post(
            "/api/grants", json={"person_id": ALICE, "reason": "training"}, headers=csrf
        )
        assert grant.status_code == 503
        assert "database is locked" in grant.json["error"]
        assert "nothing was changed" in grant.json["error"]
        assert grant.headers["Retry-After"]
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert commands(db) == []  # nothing half-stored
    again = client.post(
        "/api/grants", json={"person_id": ALICE, "reason": "training"}, headers=csrf
    )
    assert again.status_code == 200


def test_healthz_says_storage_is_failing_while_the_daemon_reports_it(client, daemon, config):
    path = status_path(config.status_dir)
    now = daemon.clock.now()
    write_live_status(
        path,
        {"heartbeat_at": now, "storage": "failing", "storage_error": "database or disk is full"},
    )
    # The heartbeat row is stale (the daemon cannot write it), the live file is fresh.
    daemon.clock.advance(60)
    write_live_status(
        path,
        {
            "heartbeat_at": daemon.clock.now(),
            "storage": "failing",
            "storage_error": "database or disk is full",
        },
    )
    body = client.get("/healthz").json
    assert body["daemon"] == "ok" and body["storage"] == "failing"


def test_the_status_page_says_the_locker_cannot_write(client, auth, daemon, config):
    write_live_status(
        status_path(config.status_dir),
        {
            "heartbeat_at": daemon.clock.now(),
            "storage": "failing",
            "storage_error": "database or disk is full",
        },
    )
    auth.login()
    page = client.get("/").get_data(as_text=True)
    banner = page.split('data-testid="banner-storage"')[0].rsplit("<p", 1)[1]
    assert "hidden" not in banner
    assert "database or disk is full" in page
    assert client.get("/api/status").json["daemon"]["storage"] == "failing"


def test_a_deleted_database_is_not_recreated_by_the_panel(config, db, clock, accounts):
    path = Path(config.db_url.removeprefix("sqlite:///"))
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    from locker.errors import LockerError

    with pytest.raises(LockerError, match="cannot open the database"):
        create_app({"TESTING": True, "SECRET_KEY": SECRET}, config=config, clock=clock)
    assert not path.exists()
