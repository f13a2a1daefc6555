"""The simulator: a 404 without simulated hardware; strict input; a day played over the API."""

from __future__ import annotations

import html
import json

import pytest

from locker import events as ev
from locker.log.personal import shown_events
from locker.models import Command
from locker.people import add_person
from tests.support.live import publish, published
from tests.support.panel import at, commands, events, slot_state
from web.commands import NOT_YET
from web.sim import NOT_SIMULATED

SIM_ROUTES = [
    ("GET", "/sim"),
    ("GET", "/api/sim/state"),
    ("GET", "/api/sim/outputs"),
    ("POST", "/api/sim/badge"),
    ("POST", "/api/sim/slots/1"),
    ("POST", "/api/sim/clock"),
]


@pytest.fixture
def manager(auth):
    auth.login()
    return auth


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# ------------------------------------------------------------ not simulated


@pytest.mark.parametrize(("method", "path"), SIM_ROUTES, ids=[p for _, p in SIM_ROUTES])
@pytest.mark.parametrize("heartbeat", [False, True], ids=["no-daemon", "real-hardware"])
def test_without_simulated_hardware_every_sim_route_is_a_404(
    client, manager, people, db, clock, config, method, path, heartbeat
):
    if heartbeat:
        publish(config, heartbeat_at=clock.now().isoformat(), simulated=False)
    if method == "GET":
        response = client.get(path)
    else:
        response = manager.post_json(path, {"uid": "A1A1A1A1", "door": "open", "advance_s": 1})
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json == {"error": NOT_SIMULATED}
    else:
        assert NOT_SIMULATED in page(response)
    assert commands(db) == []
    assert 'data-testid="nav-sim"' not in page(client.get("/"))


def test_the_nav_links_to_the_simulator_when_simulated(client, manager, daemon):
    text = page(client.get("/"))
    assert 'data-testid="nav-sim"' in text
    assert 'data-testid="nav-people"' in text and 'data-testid="nav-rota"' in text


# ------------------------------------------------------------------ bad input

BAD = [
    ("/api/sim/badge", {"data": "{", "content_type": "application/json"}, 400, "not valid JSON"),
    ("/api/sim/badge", {"data": "uid=A1A1A1A1"}, 415, "Content-Type: application/json"),
    ("/api/sim/badge", {"json": ["A1A1A1A1"]}, 400, "JSON object"),
    ("/api/sim/badge", {"json": {}}, 400, "uid must be the card's UID"),
    ("/api/sim/badge", {"json": {"uid": 12345678}}, 400, "uid must be the card's UID"),
    ("/api/sim/badge", {"json": {"uid": "xyz"}}, 400, "not 4, 7 or 10 bytes of hex"),
    ("/api/sim/badge", {"json": {"uid": "A1A1A1"}}, 400, "not 4, 7 or 10 bytes of hex"),
    ("/api/sim/badge", {"json": {"uid": "A" * 100}}, 400, "uid must be the card's UID"),
    ("/api/sim/badge", {"json": {"uid": "A1A1A1A1", "slot": 1}}, 400, "unknown field 'slot'"),
    ("/api/sim/slots/1", {"json": {}}, 400, "send door"),
    ("/api/sim/slots/1", {"json": {"door": "ajar"}}, 400, 'door must be "open" or "closed"'),
    ("/api/sim/slots/1", {"json": {"door": True}}, 400, 'door must be "open" or "closed"'),
    ("/api/sim/slots/1", {"json": {"door": None}}, 400, 'door must be "open" or "closed"'),
    ("/api/sim/slots/1", {"json": {"device": "yes"}}, 400, "device must be true"),
    ("/api/sim/slots/1", {"json": {"device": 1}}, 400, "device must be true"),
    ("/api/sim/slots/1", {"json": {"lock": "open"}}, 400, "unknown field 'lock'"),
    ("/api/sim/slots/9", {"json": {"door": "open"}}, 404, "there is no slot 9"),
    ("/api/sim/slots/0", {"json": {"door": "open"}}, 404, "there is no slot 0"),
    (f"/api/sim/slots/{2**80}", {"json": {"door": "open"}}, 404, "there is no slot"),
    ("/api/sim/slots/-1", {"json": {"door": "open"}}, 404, "nothing here"),
    ("/api/sim/slots/one", {"json": {"door": "open"}}, 404, "nothing here"),
    ("/api/sim/clock", {"json": {}}, 400, "send advance_s (seconds) or to"),
    ("/api/sim/clock", {"json": {"advance_s": 60, "to": "09:00"}}, 400, "not both"),
    ("/api/sim/clock", {"json": {"advance_s": "60"}}, 400, "advance_s must be a number"),
    ("/api/sim/clock", {"json": {"advance_s": True}}, 400, "advance_s must be a number"),
    ("/api/sim/clock", {"json": {"advance_s": None}}, 400, "advance_s must be a number"),
    ("/api/sim/clock", {"json": {"advance_s": 0}}, 400, "above 0 and at most 604800"),
    ("/api/sim/clock", {"json": {"advance_s": -5}}, 400, "above 0 and at most 604800"),
    ("/api/sim/clock", {"json": {"advance_s": 604801}}, 400, "above 0 and at most 604800"),
    ("/api/sim/clock", {"json": {"advance_s": 10**400}}, 400, "above 0 and at most 604800"),
    (
        "/api/sim/clock",
        {"data": '{"advance_s": NaN}', "content_type": "application/json"},
        400,
        "finite",
    ),
    ("/api/sim/clock", {"json": {"to": "9 o'clock"}}, 400, "to must be a time of day as HH:MM"),
    ("/api/sim/clock", {"json": {"to": "25:00"}}, 400, "to must be a time of day as HH:MM"),
    ("/api/sim/clock", {"json": {"to": 900}}, 400, "to must be a local time of day"),
    ("/api/sim/clock", {"json": {"speed": 2}}, 400, "unknown field 'speed'"),
]


@pytest.mark.parametrize(
    ("path", "request_kw", "status", "words"), BAD, ids=[f"{b[0]} {b[3]}" for b in BAD]
)
def test_bad_input_is_a_4xx_naming_the_problem(
    client, manager, daemon, db, path, request_kw, status, words
):
    headers = {"X-CSRFToken": manager.csrf_token("/")}
    response = client.post(path, headers=headers, **request_kw)
    assert response.status_code == status
    assert response.is_json
    assert words in response.json["error"]
    assert commands(db) == []


def test_a_bearer_token_drives_the_simulator_too(client, token, daemon, db):
    response = client.post("/api/sim/clock", json={"advance_s": "soon"}, headers=token())
    assert response.status_code == 400
    assert response.json == {"error": "advance_s must be a number of seconds"}


def test_nothing_is_queued_while_the_daemon_is_down(client, manager, daemon, clock, db):
    clock.advance(60)  # no heartbeat for a minute
    response = manager.post_json("/api/sim/badge", {"uid": "A1A1A1A1"})
    assert response.status_code == 409
    assert "the controller is not running" in response.json["error"]
    assert commands(db) == []


def test_a_refusal_by_the_daemon_is_a_409(client, manager, daemon, db, monkeypatch):
    def refuse(command_id):
        with db.write() as session:
            command = session.get(Command, command_id)
            command.status, command.result = "failed", {"error": "slot 1: the world broke"}
            session.commit()
        return "failed", {"error": "slot 1: the world broke"}

    monkeypatch.setattr("web.commands.wait_for_command", refuse)
    response = manager.post_json("/api/sim/slots/1", {"door": "open"})
    assert response.status_code == 409
    assert response.json["error"] == "the simulator refused: slot 1: the world broke"
    assert response.json["status"] == "failed"


def test_a_slow_daemon_gets_a_202(client, manager, daemon, db, monkeypatch):
    monkeypatch.setattr("web.commands.wait_for_command", lambda command_id: ("pending", {}))
    response = manager.post_json("/api/sim/slots/2", {"device": True, "door": "open"})
    assert response.status_code == 202
    assert response.json["message"] == NOT_YET
    (queued,) = commands(db)
    assert (queued.kind, queued.payload) == (
        "sim_slot",
        {"slot": 2, "door": "open", "device": True},
    )


# ------------------------------------------------------------------ outputs


def test_outputs_cover_every_slot(client, manager, daemon, db, config):
    blank = client.get("/api/sim/outputs").json
    assert blank["slots"]["4"] == {"lock_energised": False, "unlock_count": 0, "led": None}
    assert blank["leds"] == {"green": False, "red": False} and blank["buzzer"] is False
    assert blank["max_energised_at_once"] == 0
    publish(
        config,
        outputs={
            "slots": {"1": {"lock_energised": True, "unlock_count": 2, "led": True}},
            "leds": {"green": True, "red": False},
            "buzzer": True,
            "max_energised_at_once": 2,
        },
    )
    answer = client.get("/api/sim/outputs").json
    assert answer["max_energised_at_once"] == 2
    assert answer["slots"]["1"] == {"lock_energised": True, "unlock_count": 2, "led": True}
    assert answer["leds"] == {"green": True, "red": False} and answer["buzzer"] is True
    assert set(answer["slots"]) == {"1", "2", "3", "4"}


# ------------------------------------------------------------------ the page


def test_the_page_has_a_control_for_everything(client, manager, daemon):
    text = page(client.get("/sim"))
    for testid in (
        "sim-badge-select",
        "sim-badge-uid",
        "sim-present",
        "sim-now",
        "sim-advance-60",
        "sim-advance-900",
        "sim-advance-3600",
        "sim-to-time",
        "sim-to-submit",
        "sim-led-green",
        "sim-led-red",
        "sim-buzzer",
        "sim-log",
        "sim-message",
    ):
        assert f'data-testid="{testid}"' in text, testid
    for n in (1, 2, 3, 4):
        for testid in ("door-open", "door-close", "device-in", "device-out", "lock", "unlocks"):
            assert f'data-testid="sim-{testid}-{n}"' in text
    assert '<option value="A1A1A1A1">Alice (A1A1A1A1)</option>' in text
    assert '<option value="unknown">' in text
    assert "Mon 05 Jan 2026, 07:30:00" in text
    assert 'src="/static/sim.js"' in text


def test_a_viewer_watches_without_buttons(client, auth, daemon):
    auth.login("viewer")
    text = page(client.get("/sim"))
    assert 'data-testid="sim-lock-1"' in text
    assert 'data-testid="sim-present"' not in text
    assert 'data-testid="sim-door-open-1"' not in text
    assert client.get("/api/sim/state").status_code == 200


def test_names_are_escaped_on_the_page(client, manager, daemon, db, clock):
    with db.write() as session:
        add_person(session, "<script>x()</script>", badge="0BADCAFE", at=clock.now(), actor="test")
        session.commit()
    raw = client.get("/sim").get_data(as_text=True)
    assert "<script>x()</script>" not in raw
    assert "&lt;script&gt;x()&lt;/script&gt; (0BADCAFE)" in raw


# ------------------------------------------------------------ a day, played


def test_a_deposit_played_through_the_api(client, manager, world, db, clock):
    response = manager.post_json("/api/sim/badge", {"uid": "a1:a1:a1:a1"})
    assert response.status_code == 200, response.json
    assert response.json["message"].startswith("Alice's badge opened slot 1")
    assert response.json["result"] == {"presented": "a1a1a1a1"}
    assert slot_state(db, 1) == "open_for_deposit"
    assert client.get("/api/sim/outputs").json["slots"]["1"]["unlock_count"] == 1

    response = manager.post_json("/api/sim/slots/1", {"door": "open", "device": True})
    assert response.status_code == 200, response.json
    assert response.json["message"].startswith("Slot 1: door opened and device put in.")
    response = manager.post_json("/api/sim/slots/1", {"door": "closed"})
    assert response.json["message"].startswith("Slot 1: door closed.")
    assert slot_state(db, 1) == "held"
    assert events(db, ev.DEPOSIT_CONFIRMED)[-1].person_id == 1

    state = client.get("/api/sim/state").json
    one = state["slots"][0]
    assert (one["number"], one["state"], one["occupant"]) == (1, "held", "Alice")
    assert (one["door_open"], one["device_present"], one["locked"]) == (False, True, True)
    assert one["unlock_count"] == 1


def test_a_forced_door_is_said_so(client, manager, world, db):
    response = manager.post_json("/api/sim/slots/2", {"door": "open"})
    assert response.status_code == 200
    assert response.json["result"]["forced"] is True
    assert "forced door" in response.json["message"]
    assert '"alert":"door_forced"' in events(db, ev.ALERT_RAISED)[-1].details


def test_an_unknown_card_is_there_to_enrol(client, manager, world, db, config):
    manager.post_json("/api/sim/badge", {"uid": "0BADCAFE"})
    unknown = events(db, ev.BADGE_UNKNOWN)[-1]
    with db.read() as session:
        (shown,) = shown_events(session, [unknown])
    assert shown.details == '{"uid":"0BADCAFE"}' and "0BADCAFE" not in unknown.details
    assert published(config)["last_unknown_uid"] == "0BADCAFE"


def test_moving_the_clock_on(client, manager, world, clock):
    response = manager.post_json("/api/sim/clock", {"advance_s": 90})
    assert response.status_code == 200, response.json
    assert clock.now() == at("07:31:30")
    assert response.json["message"] == (
        "Clock moved on 1 min 30 s: it is now Mon 05 Jan, 07:31:30."
    )
    response = manager.post_json("/api/sim/clock", {"to": "07:45"})
    assert response.status_code == 200, response.json
    assert clock.now() == at("07:45")
    assert response.json["message"] == "Clock moved on to 07:45: it is now Mon 05 Jan, 07:45:00."
    queued = json.loads(json.dumps([c.payload for c in commands(world.db)]))
    assert queued == [{"advance_s": 90}, {"advance_s": 810.0}]


def test_the_card_list_marks_the_managers(client, manager, daemon, people):
    text = page(client.get("/sim"))
    assert "Mary – manager (can approve on the spot) (4D4D4D4D)" in text
    assert "Alice (A1A1A1A1)" in text
