"""The JSON API: what it answers, and a 4xx naming the problem for every bad request."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.models import Alert, Slot
from tests.support.panel import commands, raise_alert, shown
from web.commands import NOT_RUNNING

ALICE = 1  # the people fixture adds Alice first

# (method, path, request keyword arguments, status, words the error must contain)
BAD_REQUESTS = [
    (
        "POST",
        "/api/grants",
        {"data": "{", "content_type": "application/json"},
        400,
        "not valid JSON",
    ),
    ("POST", "/api/grants", {"data": b"\xff\xfe", "content_type": "application/json"}, 400, "JSON"),
    ("POST", "/api/grants", {"data": "person_id=1"}, 415, "Content-Type: application/json"),
    ("POST", "/api/grants", {"data": "null", "content_type": "application/json"}, 400, "object"),
    ("POST", "/api/grants", {"json": [1, 2]}, 400, "JSON object"),
    (
        "POST",
        "/api/grants",
        {"data": "[" * 60000, "content_type": "application/json"},
        400,
        "nested",
    ),
    ("POST", "/api/grants", {"json": {"note": "x" * 70000}}, 413, "too large"),
    ("POST", "/api/grants", {"json": {}}, 400, "person_id must be a whole number"),
    ("POST", "/api/grants", {"json": {"person_id": "1", "reason": "emergency"}}, 400, "person_id"),
    ("POST", "/api/grants", {"json": {"person_id": True, "reason": "emergency"}}, 400, "person_id"),
    ("POST", "/api/grants", {"json": {"person_id": 1.5, "reason": "emergency"}}, 400, "person_id"),
    ("POST", "/api/grants", {"json": {"person_id": 10**30, "reason": "outing"}}, 400, "between"),
    ("POST", "/api/grants", {"json": {"person_id": 0, "reason": "outing"}}, 400, "between"),
    ("POST", "/api/grants", {"json": {"person_id": 999, "reason": "outing"}}, 404, "id 999"),
    ("POST", "/api/grants", {"json": {"person_id": ALICE}}, 400, "reason must be one of"),
    ("POST", "/api/grants", {"json": {"person_id": ALICE, "reason": "party"}}, 400, "reason"),
    ("POST", "/api/grants", {"json": {"person_id": ALICE, "reason": "other"}}, 400, "needs a note"),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "other", "note": "   "}},
        400,
        "needs a note",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "note": 5}},
        400,
        "note",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "note": "\ud800"}},
        400,
        "not plain text",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "note": "y" * 501}},
        400,
        "too long",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "open_now": "yes"}},
        400,
        "open_now",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "return_minutes": 0}},
        400,
        "return_minutes",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "return_minutes": "30"}},
        400,
        "return_minutes",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "return_minutes": 1441}},
        400,
        "return_minutes",
    ),
    (
        "POST",
        "/api/grants",
        {"json": {"person_id": ALICE, "reason": "outing", "opennow": True}},
        400,
        "unknown field 'opennow'",
    ),
    ("POST", "/api/slots/99/release", {"json": {"reason": "x"}}, 404, "no slot 99"),
    ("POST", "/api/slots/0/release", {"json": {"reason": "x"}}, 404, "no slot 0"),
    ("POST", "/api/slots/-1/release", {"json": {"reason": "x"}}, 404, "nothing here"),
    ("POST", "/api/slots/one/release", {"json": {"reason": "x"}}, 404, "nothing here"),
    ("POST", f"/api/slots/{10**30}/release", {"json": {"reason": "x"}}, 404, "no slot"),
    ("POST", "/api/slots/1/release", {"json": {}}, 400, "reason is needed"),
    ("POST", "/api/slots/1/release", {"json": {"reason": 5}}, 400, "reason must be text"),
    ("POST", "/api/slots/1/release", {"json": {"reason": "\x00"}}, 400, "reason"),
    ("POST", "/api/slots/1/release", {}, 415, "Content-Type"),
    ("POST", "/api/release-all", {"json": {"reason": "fire"}}, 400, "confirm must be true"),
    ("POST", "/api/release-all", {"json": {"reason": "fire", "confirm": "true"}}, 400, "confirm"),
    ("POST", "/api/release-all", {"json": {"reason": "fire", "confirm": 1}}, 400, "confirm"),
    ("POST", "/api/release-all", {"json": {"confirm": True}}, 400, "reason is needed"),
    ("POST", "/api/alerts/999/ack", {}, 404, "no alert 999"),
    ("POST", f"/api/alerts/{10**30}/ack", {}, 404, "no alert"),
    ("POST", "/api/alerts/x/ack", {}, 404, "nothing here"),
    ("GET", "/api/events?after_id=abc", {}, 400, "after_id"),
    ("GET", "/api/events?after_id=-1", {}, 400, "after_id"),
    ("GET", "/api/events?after_id=1e3", {}, 400, "after_id"),
    ("GET", f"/api/events?after_id={10**30}", {}, 400, "after_id"),
    ("GET", "/api/events?limit=0", {}, 400, "limit"),
    ("GET", "/api/events?limit=1001", {}, 400, "limit"),
    ("GET", "/api/events?limit= 5", {}, 400, "limit"),
    ("GET", "/api/events?kind=badge.eaten", {}, 400, "not an event kind"),
    ("GET", "/api/grants", {}, 405, "allowed: POST"),
    ("PUT", "/api/status", {}, 405, "allowed: GET"),
    ("DELETE", "/api/alerts/1/ack", {}, 405, "allowed: POST"),
    ("GET", "/api/nope", {}, 404, "nothing here"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "words"),
    BAD_REQUESTS,
    ids=[f"{m} {p[:40]} {i}" for i, (m, p, *_) in enumerate(BAD_REQUESTS)],
)
def test_a_bad_request_gets_a_4xx_naming_the_problem(
    client, token, daemon, method, path, kwargs, status, words
):
    response = client.open(path, method=method, headers=token(), **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert words in response.json["error"]


def test_a_session_caller_gets_the_same_answers(client, auth, daemon):
    auth.login()
    response = auth.post_json("/api/grants", {"person_id": "1", "reason": "emergency"})
    assert response.status_code == 400
    assert response.json == {"error": "person_id must be a whole number"}


def test_healthz_reports_the_daemons_heartbeat(client, daemon):
    assert client.get("/healthz").json == {
        "web": "ok",
        "daemon": "ok",
        "last_heartbeat": "2026-01-05T07:30:00Z",
        "storage": "ok",
    }
    daemon.clock.advance(16)
    assert client.get("/healthz").json["daemon"] == "down"


def test_healthz_without_a_daemon(client):
    assert client.get("/healthz").json == {
        "web": "ok",
        "daemon": "down",
        "last_heartbeat": None,
        "storage": "ok",
    }


def test_status_shows_slots_shifts_and_open_alerts(client, token, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    alert_id = raise_alert(db, daemon.clock.now(), person_id=ALICE)
    body = client.get("/api/status", headers=token("viewer")).json
    assert body["now"] == "2026-01-05T07:30:00Z"
    assert body["clock_synchronised"] is True
    first = body["slots"][0]
    assert {k: first[k] for k in ("number", "label", "kind", "state", "locked")} == {
        "number": 1,
        "label": "1",
        "kind": "staff",
        "state": "held",
        "locked": True,
    }
    assert first["door_open"] is False and first["device_present"] is True
    assert first["occupant"] == {"id": ALICE, "name": "Alice"}
    assert [s["state"] for s in body["slots"][1:]] == ["free", "free", "free"]
    alice, bob = body["on_shift"]
    assert (alice["name"], alice["device"], alice["slot"]) == ("Alice", "in", 1)
    assert (bob["name"], bob["device"]) == ("Bob", "none")
    (alert,) = body["alerts"]
    assert alert == {
        **alert,
        "id": alert_id,
        "alert": "door_forced",
        "slot": 1,
        "person_id": ALICE,
        "raised_at": "2026-01-05T07:30:00Z",
    }


def test_people_lists_badges_slots_and_todays_shift(client, token, daemon):
    people = client.get("/api/people", headers=token()).json["people"]
    assert [p["name"] for p in people] == ["Alice", "Bob", "Mary"]
    alice = people[0]
    assert alice["badges"] == ["A1A1A1A1"] and alice["role"] == "staff"
    assert alice["shift_today"] == {
        "start": "2026-01-05T08:00:00Z",
        "end": "2026-01-05T16:00:00Z",
        "breaks": [{"start": "2026-01-05T12:00:00Z", "end": "2026-01-05T12:30:00Z"}],
    }
    assert people[2]["shift_today"] is None


def test_events_are_paged_oldest_first_by_id(client, token, daemon, db):
    stored = [e.id for e in shown(db)]
    headers = token()
    first = client.get("/api/events?limit=3", headers=headers).json
    assert [e["id"] for e in first["events"]] == stored[:3]
    assert first["more"] is True
    rest = client.get(
        f"/api/events?after_id={first['next_after_id']}&limit=1000", headers=headers
    ).json
    # Fetching the token logged one more event after the first page.
    assert [e["id"] for e in rest["events"]] == [e.id for e in shown(db)][3:]
    assert rest["more"] is False
    event = rest["events"][0]
    assert set(event) >= {"id", "ts", "kind", "actor", "slot", "person_id", "details", "hash"}
    assert isinstance(event["details"], dict)


def test_events_of_one_kind(client, token, daemon):
    body = client.get("/api/events?kind=system.started", headers=token()).json
    assert [e["kind"] for e in body["events"]] == ["system.started"]


def test_a_grant_opens_the_slot_at_once(client, token, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    response = client.post(
        "/api/grants",
        json={"person_id": ALICE, "reason": "emergency", "open_now": True, "return_minutes": 20},
        headers=token(),
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "done"
    assert response.json["result"]["slot"] == 1
    assert "slot 1 is open" in response.json["message"]
    with db.read() as session:
        assert session.get(Slot, 1).state == "open_for_release"
    (created,) = shown(db, ev.GRANT_CREATED)
    assert created.actor == "manager"
    assert json.loads(created.details)["client"] == "127.0.0.1"


def test_a_grant_can_wait_for_the_next_badge(client, token, daemon):
    response = client.post(
        "/api/grants", json={"person_id": ALICE, "reason": "outing"}, headers=token()
    )
    assert response.status_code == 200
    assert response.json["result"]["waiting_for_badge"] is True


def test_a_request_the_daemon_refuses_is_a_409_with_its_reason(client, token, daemon):
    response = client.post("/api/slots/2/release", json={"reason": "check"}, headers=token())
    assert response.status_code == 409
    assert response.json["error"] == "slot 2 is free, not holding a device"
    assert response.json["status"] == "failed"


def test_a_session_caller_releases_only_with_the_password(client, auth, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    auth.login()
    daemon.advance(6 * 60)  # the password typed at login no longer covers a release
    missing = auth.post_json("/api/slots/1/release", {"reason": "check"})
    assert missing.status_code == 403 and "password" in missing.json["error"]
    wrong = auth.post_json("/api/slots/1/release", {"reason": "check", "password": "guess"})
    assert wrong.status_code == 403
    assert json.loads(shown(db, ev.AUTH_FAILED)[-1].details)["purpose"] == "release a slot"
    right = auth.post_json(
        "/api/slots/1/release", {"reason": "check", "password": "manager-password"}
    )
    assert right.status_code == 200, right.json
    assert right.json["result"]["slot"] == 1


def test_a_token_caller_releases_all_without_a_password(client, token, daemon, db):
    daemon.deposit("A1A1A1A1", 1)
    daemon.deposit("B0B0B0B0", 2)
    response = client.post(
        "/api/release-all", json={"reason": "fire drill", "confirm": True}, headers=token()
    )
    assert response.status_code == 200
    assert response.json["result"]["slots"] == [1, 2]
    (logged,) = shown(db, ev.RELEASE_ALL)
    assert json.loads(logged.details)["reason"] == "fire drill"


def test_acknowledging_an_alert_stores_and_logs_it(client, token, daemon, db):
    alert_id = raise_alert(db, daemon.clock.now())
    daemon.advance(60)
    response = client.post(f"/api/alerts/{alert_id}/ack", headers=token())
    assert response.status_code == 200
    assert response.json == {
        "id": alert_id,
        "alert": "door_forced",
        "acknowledged_at": "2026-01-05T07:31:00Z",
        "acknowledged_by": "manager",
    }
    (logged,) = shown(db, ev.ALERT_ACKNOWLEDGED)
    assert logged.actor == "manager" and logged.slot == 1
    assert json.loads(logged.details)["alert_id"] == alert_id
    again = client.post(f"/api/alerts/{alert_id}/ack", headers=token())
    assert again.status_code == 409 and "already acknowledged" in again.json["error"]
    assert client.get("/api/status", headers=token()).json["alerts"] == []


def test_without_a_daemon_the_request_waits_in_the_queue(client, token, people, db):
    response = client.post(
        "/api/grants", json={"person_id": ALICE, "reason": "training"}, headers=token()
    )
    assert response.status_code == 202
    assert response.json["message"] == NOT_RUNNING
    (queued,) = commands(db)
    assert (queued.kind, queued.status, queued.account) == ("grant", "pending", "manager")
    assert queued.payload == {
        "person_id": ALICE,
        "reason": "training",
        "note": "",
        "open_now": False,
    }


def test_a_bug_answers_a_bare_500_in_json(client, token, daemon, monkeypatch):
    def broken(session):
        raise RuntimeError("a bug")

    monkeypatch.setattr("web.api.snapshot", broken)
    response = client.get("/api/status", headers=token())
    assert response.status_code == 500
    assert response.json == {"error": "internal error in the panel; it has been logged"}


def test_an_alert_row_is_untouched_by_a_refused_ack(client, token, daemon, db):
    alert_id = raise_alert(db, daemon.clock.now())
    client.post(f"/api/alerts/{alert_id}/ack", headers=token("viewer"))
    with db.read() as session:
        assert session.scalar(select(Alert.acknowledged_at).where(Alert.id == alert_id)) is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/release-all", {"reason": "fire drill", "confirm": True}),
        ("/api/slots/1/release", {"reason": "family emergency"}),
        ("/api/grants", {"person_id": ALICE, "reason": "emergency", "open_now": True}),
    ],
)
def test_without_a_daemon_an_unlocking_request_is_refused_not_queued(
    client, token, people, db, path, body
):
    # Queued, it would open slots whenever the daemon came back, with nobody there.
    response = client.post(path, json=body, headers=token())
    assert response.status_code == 503
    assert response.json["error"] == "The locker controller is not running; nothing was opened."
    assert response.headers["Retry-After"] == "30"
    assert commands(db) == []
