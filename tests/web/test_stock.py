"""Stocking a setting slot from the panel and the API: the setting's own tablet goes in."""

from __future__ import annotations

import pytest

from locker import events as ev
from tests.support.panel import KINDS, commands, make_config, page, shown, slot_state
from web.words import STOCK_WORDS

PASSWORD = "manager-password"
#: Slot 5 is the setting's.
SETTING = 5


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path, kinds=(*KINDS, "setting"))


def test_the_api_opens_a_free_setting_slot(client, token, daemon, db):
    response = client.post(f"/api/slots/{SETTING}/stock", json={}, headers=token())
    assert response.status_code == 200, response.json
    assert response.json["message"] == (
        "Slot 5 is open: put the setting's device in and close the door."
    )
    assert response.json["result"] == {"slot": SETTING}
    assert slot_state(db, SETTING) == "open_for_deposit"
    ((kind, payload),) = [(c.kind, c.payload) for c in commands(db)]
    assert (kind, payload) == ("stock", {"slot": SETTING})
    (unlocked,) = shown(db, ev.SLOT_UNLOCKED)
    assert (unlocked.slot, unlocked.actor) == (SETTING, "manager")


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/slots/1/stock", {}, 400, "slot 1 is not a setting slot"),
        ("/api/slots/4/stock", {}, 400, "slot 4 is not a setting slot"),
        ("/api/slots/99/stock", {}, 404, "there is no slot 99"),
        (f"/api/slots/{2**80}/stock", {}, 404, "there is no slot"),
        ("/api/slots/5/stock", {"slot": 1}, 400, "unknown field 'slot'"),
        ("/api/slots/5/stock", [], 400, "must be a JSON object"),
    ],
)
def test_a_bad_stock_request_is_a_4xx_naming_the_problem(
    client, token, daemon, db, path, body, status, error
):
    response = client.post(path, json=body, headers=token())
    assert response.status_code == status
    assert error in response.json["error"]
    assert commands(db) == []


def test_a_setting_slot_that_is_not_free_is_refused(client, token, daemon, db):
    assert client.post("/api/slots/5/stock", json={}, headers=token()).status_code == 200
    again = client.post("/api/slots/5/stock", json={}, headers=token())
    assert again.status_code == 409
    assert again.json["error"] == (
        "slot 5 is not free (open for a device to go in): "
        "only an empty setting slot opens to be stocked"
    )
    assert len(commands(db)) == 1


def test_stocking_needs_the_password_again_and_a_running_daemon(auth, daemon, clock, db):
    auth.login()
    daemon.advance(6 * 60)  # past the minutes the login's password covers
    refused = auth.post_json("/api/slots/5/stock", {})
    assert refused.status_code == 403
    assert "type your password again in 'password'" in refused.json["error"]
    assert commands(db) == []
    clock.advance(60)  # no heartbeat for a minute: the daemon is down
    down = auth.post_json("/api/slots/5/stock", {"password": PASSWORD})
    assert down.status_code == 503
    assert "not running; nothing was opened" in down.json["error"]
    assert commands(db) == []


def test_the_same_idempotency_key_twice_stocks_once(client, token, daemon, db):
    headers = {**token(), "Idempotency-Key": "stock-5-a"}
    first = client.post("/api/slots/5/stock", json={}, headers=headers)
    again = client.post("/api/slots/5/stock", json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len(commands(db)) == 1


def test_the_status_page_offers_the_free_setting_slot_only(client, auth, daemon):
    auth.login()
    text = page(client.get("/"))
    assert f'data-testid="slot-5-stock">{STOCK_WORDS}</a>' in text
    assert 'href="/actions?stock=5#stock"' in text
    for number in (1, 2, 3, 4):
        assert f'data-testid="slot-{number}-stock"' not in text
    assert f'data-stock-words="{STOCK_WORDS}"' in text  # for status.js's redraw


def test_a_viewer_is_not_offered_the_button(client, auth, daemon):
    auth.login("viewer")
    assert 'data-testid="slot-5-stock"' not in page(client.get("/"))


def test_the_form_opens_the_slot_with_the_password(client, auth, daemon, db):
    auth.login()
    daemon.advance(6 * 60)  # past the minutes the login's password covers
    form = page(client.get("/actions?stock=5"))
    assert 'data-testid="stock-form"' in form
    assert '<option selected value="5">' in form
    refused = auth.post("/actions/stock", {"stock-slot": "5"})
    assert refused.status_code == 400
    assert "Type your password again to open a setting slot" in page(refused)
    done = auth.post("/actions/stock", {"stock-slot": "5", "stock-password": PASSWORD})
    assert done.status_code == 302
    assert slot_state(db, SETTING) == "open_for_deposit"
    status = page(client.get("/"))
    assert "Slot 5 is open: put the setting's device in and close the door." in status
    assert 'data-testid="slot-5-stock"' not in status


def test_a_tablet_stocked_on_the_simulated_day_is_held(client, token, world, db):
    bearer = token()
    response = client.post("/api/slots/5/stock", json={}, headers=bearer)
    assert response.status_code == 200, response.json
    assert slot_state(db, SETTING) == "open_for_deposit"
    assert client.get("/api/sim/outputs", headers=bearer).json["slots"]["5"]["unlock_count"] == 1

    put_in = client.post("/api/sim/slots/5", json={"door": "open", "device": True}, headers=bearer)
    assert put_in.status_code == 200, put_in.json
    shut = client.post("/api/sim/slots/5", json={"door": "closed"}, headers=bearer)
    assert shut.status_code == 200, shut.json
    assert slot_state(db, SETTING) == "held"
    assert (
        client.get("/api/sim/outputs", headers=bearer).json["slots"]["5"]["lock_energised"] is False
    )
