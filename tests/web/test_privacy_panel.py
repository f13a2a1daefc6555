"""The person's privacy page, the access request download and the access log."""

from __future__ import annotations

import contextlib
import html
import io
import json
import sqlite3
import zipfile

import pytest

from locker import events as ev
from locker.log import verify
from tests.support.panel import AuthActions, events, shown
from tests.support.sql import recorded_statements
from web import privacy

ALICE = 1


def viewed(db) -> list[tuple[str, str, int | None]]:
    return [
        (e.actor, json.loads(e.details)["what"], e.person_id) for e in shown(db, ev.DATA_VIEWED)
    ]


def test_the_person_page_says_what_is_held_and_is_logged_once_a_day(
    client, auth, db, people, clock
):
    auth.login()
    response = client.get(f"/people/{ALICE}")
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "What the locker holds about Alice" in text
    assert "1 badges (cards)" in text and "1 shifts" in text
    assert "A1A1A1A1" in text
    assert "Download everything we hold (access request)" in text
    client.get(f"/people/{ALICE}")
    assert viewed(db) == [("manager", "person", ALICE)]


def test_a_viewer_sees_the_page_with_the_card_masked_and_cannot_download(client, auth, db, people):
    auth.login("viewer")
    text = client.get(f"/people/{ALICE}").get_data(as_text=True)
    assert "A1A1A1A1" not in text and "****A1A1" in text
    assert "Download everything" not in text
    response = client.get(f"/people/{ALICE}/export.zip")
    assert response.status_code == 403
    assert shown(db, ev.PERSON_EXPORTED) == []


def test_the_download_holds_everything_and_is_logged_every_time(client, auth, db, people):
    auth.login()
    response = client.get(f"/people/{ALICE}/export.zip")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert "access-request-person1-" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert json.loads(archive.read("person.json"))[0]["name"] == "Alice"
    assert [s["person_id"] for s in json.loads(archive.read("shifts.json"))] == [ALICE]
    assert "Alice" in archive.read("summary.html").decode()
    client.get(f"/people/{ALICE}/export.zip")
    exported = shown(db, ev.PERSON_EXPORTED)
    assert [(e.actor, e.person_id, json.loads(e.details)) for e in exported] == [
        ("manager", ALICE, {"via": "panel"})
    ] * 2
    with db.read() as session:
        assert verify(session).ok


@pytest.mark.parametrize("path", ["/people/99", "/people/99/export.zip"])
def test_nobody_by_that_id_is_a_plain_404(client, auth, people, path):
    auth.login()
    response = client.get(path)
    assert response.status_code == 404
    assert "there is nobody with id 99" in response.get_data(as_text=True)


def test_looking_at_the_log_and_the_report_is_logged_once_a_day(client, auth, db, people):
    auth.login("viewer")
    for _ in range(2):
        assert client.get("/log").status_code == 200
        assert client.get("/log/overrides").status_code == 200
        assert client.get("/report").status_code == 200
    assert viewed(db) == [("viewer", "log", None), ("viewer", "report", None)]


def test_a_second_look_the_same_day_takes_no_write_lock(client, auth, db, people):
    # The daemon commits every badge under SQLite's write lock; a manager
    # reloading the log must not queue for it once her view is on record.
    auth.login("viewer")
    assert client.get("/log").status_code == 200
    with recorded_statements(client.application.extensions["locker_db"].engine) as sent:
        assert client.get("/log").status_code == 200
    assert sent and not [s for s, _ in sent if s.startswith("BEGIN IMMEDIATE")]
    assert viewed(db) == [("viewer", "log", None)]


def test_a_look_on_record_is_known_without_asking_and_the_next_day_is_recorded_again(
    client, auth, db, people, clock, monkeypatch
):
    asked = []
    ask = privacy.viewed_since

    def counted(session, **view):
        asked.append(view["what"])
        return ask(session, **view)

    monkeypatch.setattr(privacy, "viewed_since", counted)
    auth.login("viewer")
    for _ in range(3):
        assert client.get("/log").status_code == 200
    # The first look asks and records; the others are known to be on record.
    assert asked == ["log"]
    assert viewed(db) == [("viewer", "log", None)]
    clock.advance(24 * 3600)
    auth.login("viewer")  # the session ended overnight
    assert client.get("/log").status_code == 200
    assert client.get("/log").status_code == 200
    assert asked == ["log", "log"]
    assert viewed(db) == [("viewer", "log", None)] * 2


def test_every_download_of_the_log_is_logged_after_it_is_sent(client, auth, db, people):
    auth.login()
    first = client.get("/log/export.csv?format=jsonl")
    lines = [json.loads(line) for line in first.get_data(as_text=True).splitlines()]
    assert ev.DATA_VIEWED not in {line["kind"] for line in lines}
    assert viewed(db) == []  # not before the server closes the download
    first.close()
    client.get("/log/export.csv").close()
    assert viewed(db) == [("manager", "log_export", None)] * 2


def test_a_page_refused_or_not_found_is_not_logged_as_viewed(client, auth, db, people):
    auth.login()
    assert client.get("/log?day=not-a-day").status_code == 400
    assert viewed(db) == []


def test_the_api_events_read_is_logged_for_the_tokens_account(client, db, people, token):
    assert client.get("/api/events", headers=token("admin")).status_code == 200
    assert viewed(db) == [("admin", "api_events", None)]


def test_a_hold_needs_a_reason_and_blocks_forgetting_until_released(client, auth, db, people):
    auth.login()
    response = auth.post(f"/people/{ALICE}/hold", {"hold": "on", "reason": "  "})
    assert response.status_code == 400
    assert "say why the hold is needed" in response.get_data(as_text=True)
    response = auth.post(f"/people/{ALICE}/hold", {"hold": "on", "reason": "LADO referral"})
    assert response.status_code == 302
    text = client.get(f"/people/{ALICE}").get_data(as_text=True)
    assert "On hold: LADO referral" in text
    response = forget(auth)
    assert response.status_code == 409
    assert "on legal hold" in response.get_data(as_text=True)
    assert shown(db, ev.PERSON_FORGOTTEN) == []
    assert auth.post(f"/people/{ALICE}/hold", {"hold": "release"}).status_code == 302
    assert forget(auth).status_code == 302
    assert [e.actor for e in shown(db, ev.PERSON_HOLD)] == ["manager", "manager"]


def forget(auth, **fields):
    data = {"confirm": "yes", "password": "manager-password", **fields}
    return auth.post(f"/people/{ALICE}/forget", data)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"confirm": ""}, 400, "Tick the box to confirm"),
        ({"password": ""}, 403, "Type your own password again"),
        ({"password": "not-it"}, 403, "That password is not right. Nothing was erased."),
    ],
)
def test_forget_wants_the_box_ticked_and_the_password_typed_again(
    client, auth, db, people, fields, status, message
):
    auth.login()
    response = forget(auth, **fields)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert shown(db, ev.PERSON_FORGOTTEN) == []


def test_after_forget_no_page_or_download_holds_the_name_or_the_card(client, auth, db, people):
    auth.login()
    response = forget(auth)
    assert response.status_code == 302
    flashed = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Alice is forgotten" in flashed  # said once, to the manager who did it
    pages = [
        f"/people/{ALICE}",
        f"/people/{ALICE}/forget",
        "/people",
        "/log",
        f"/log?person={ALICE}",
        "/log/overrides",
        "/report",
        "/rota",
        "/api/people",
        "/api/events",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        text = html.unescape(response.get_data(as_text=True))
        text = text.replace("Alice Smith", "")  # the rota page's example file
        assert "Alice" not in text and "A1A1A1A1" not in text, path
    downloads = [f"/people/{ALICE}/export.zip", "/log/export.csv", "/log/export.csv?format=jsonl"]
    for path in downloads:
        body = client.get(path).data
        contents = [body]
        if path.endswith(".zip"):
            archive = zipfile.ZipFile(io.BytesIO(body))
            contents = [archive.read(name) for name in archive.namelist()]
        for content in contents:
            for secret in (b"Alice", b"A1A1A1A1", bytes.fromhex("A1A1A1A1")):
                assert secret not in content, (path, secret)
    assert f"Former staff #{ALICE}" in client.get(f"/people/{ALICE}").get_data(as_text=True)


def test_a_viewer_cannot_hold_or_forget(client, auth, db, people):
    auth.login("viewer")
    assert client.get(f"/people/{ALICE}/forget").status_code == 403
    assert auth.post(f"/people/{ALICE}/hold", {"hold": "on", "reason": "x"}).status_code == 403
    assert shown(db, ev.PERSON_HOLD) == []


#: Every page that records its views, and how a test asks for it.
WATCHED_PAGES = ["/log", "/log/overrides", "/report", f"/people/{ALICE}", "/log/export.csv"]


@contextlib.contextmanager
def storage_fault(config):
    """Another process holds the write lock: nothing can be recorded meanwhile."""
    conn = sqlite3.connect(config.db_url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_a_view_that_cannot_be_recorded_is_refused_in_words_on_every_watched_page(
    quick_app, people, db, config, token, monkeypatch
):
    monkeypatch.setattr("web.privacy.WRITE_PROBE_S", 0.1)
    client = quick_app.test_client()
    AuthActions(client).login()
    bearer = token("admin")
    with storage_fault(config):
        for path in WATCHED_PAGES:
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"]
            text = html.unescape(response.get_data(as_text=True))
            assert "every look at it is recorded" in text, path
            assert "Alice" not in text and "A1A1A1A1" not in text, path
        api = quick_app.test_client().get("/api/events", headers=bearer)
        assert api.status_code == 503 and "recorded" in api.json["error"]
        # The status page runs the locker: it is not watched and keeps working.
        assert client.get("/").status_code == 200
    assert viewed(db) == []
    for path in WATCHED_PAGES:
        client.get(path).close()
    assert client.get("/api/events", headers=bearer).status_code == 200
    assert {what for _, what, _ in viewed(db)} == {
        "log",
        "report",
        "person",
        "log_export",
        "api_events",
    }
    # A second look the same day is on record already: shown during a fault too.
    with storage_fault(config):
        for path in ["/log", "/report", f"/people/{ALICE}"]:
            assert client.get(path).status_code == 200, path


def test_a_panel_login_is_hashed_without_the_account_name_or_the_address(client, auth, db):
    auth.login()
    (raw,) = events(db, ev.AUTH_LOGIN)
    assert raw.actor == "@account"
    assert "manager" not in raw.details and "127.0.0.1" not in raw.details
    (login,) = shown(db, ev.AUTH_LOGIN)
    assert login.actor == "manager"
    assert json.loads(login.details) == {"username": "manager", "client": "127.0.0.1"}
