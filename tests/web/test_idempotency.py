"""Idempotency keys: a repeated or retried request is carried out once."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from locker.models import Grant
from tests.support.panel import commands

ALICE = 1
GRANT = {"person_id": ALICE, "reason": "training"}


@pytest.fixture
def manager(auth):
    auth.login("manager")
    return auth


def test_the_same_key_twice_gets_the_first_answer(client, token, people, daemon, db):
    headers = {**token(), "Idempotency-Key": "grant-alice-1"}
    first = client.post("/api/grants", json=GRANT, headers=headers)
    again = client.post("/api/grants", json=GRANT, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(commands(db)) == 1
    with db.read() as session:
        assert len(session.scalars(select(Grant)).all()) == 1


def test_without_a_key_each_request_is_carried_out(client, token, people, daemon, db):
    for _ in range(2):
        assert client.post("/api/grants", json=GRANT, headers=token()).status_code == 200
    assert len(commands(db)) == 2


def test_a_key_reused_for_another_request_is_refused(client, token, people, daemon, db):
    headers = {**token(), "Idempotency-Key": "k1"}
    client.post("/api/grants", json=GRANT, headers=headers)
    other = client.post("/api/grants", json={**GRANT, "reason": "outing"}, headers=headers)
    assert other.status_code == 422
    assert "already used for a different request" in other.json["error"]
    assert len(commands(db)) == 1


def test_keys_belong_to_one_account(client, token, people, daemon, db, accounts):
    key = {"Idempotency-Key": "shared"}
    assert client.post("/api/grants", json=GRANT, headers={**token(), **key}).status_code == 200
    assert (
        client.post("/api/grants", json=GRANT, headers={**token("admin"), **key}).status_code == 200
    )
    assert len(commands(db)) == 2


def test_a_malformed_key_is_a_400_naming_it(client, token, people, daemon):
    headers = {**token(), "Idempotency-Key": "no spaces; please"}
    response = client.post("/api/grants", json=GRANT, headers=headers)
    assert response.status_code == 400 and "Idempotency-Key" in response.json["error"]


def test_concurrent_requests_with_one_key_are_carried_out_once(app, token, people, daemon, db):
    headers = {**token(), "Idempotency-Key": "double-click"}
    answers = []

    def send():
        answers.append(app.test_client().post("/api/grants", json=GRANT, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a.status_code for a in answers] == [200] * 5
    assert len({a.get_data() for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 4
    assert len(commands(db)) == 1


def test_a_failure_of_ours_is_not_kept_so_a_retry_is_carried_out(client, token, people, db, daemon):
    headers = {**token(), "Idempotency-Key": "evacuation-1"}
    body = {"reason": "fire", "confirm": True}
    daemon.clock.advance(60)  # the heartbeat is stale: the daemon counts as down
    assert client.post("/api/release-all", json=body, headers=headers).status_code == 503
    daemon.heartbeat()
    retry = client.post("/api/release-all", json=body, headers=headers)
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry.headers
    assert len(commands(db)) == 1


def test_a_form_sent_twice_is_carried_out_once(client, manager, people, daemon, db):
    page = manager.client.get("/actions").get_data(as_text=True)
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f-]{36})"', page)
    assert len(keys) == len(set(keys)) >= 5  # a fresh key for every form
    form = {
        "grant-person_id": str(ALICE),
        "grant-reason": "outing",
        "grant-when": "badge",
        "idempotency_key": keys[0],
    }
    first = manager.post("/actions/grant", form)
    again = manager.post("/actions/grant", form, follow_redirects=True)
    assert first.status_code == 302
    assert "it was carried out once" in again.get_data(as_text=True)
    assert len(commands(db)) == 1
