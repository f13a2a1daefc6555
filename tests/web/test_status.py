"""The live status page: the grid of slots, shifts, alerts and the banners."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime

from locker.people import add_person
from tests.support.live import publish
from tests.support.panel import raise_alert
from tests.support.sql import recorded_statements
from web.context import local_text


def page(client) -> str:
    return html.unescape(client.get("/").get_data(as_text=True))


def test_the_grid_shows_each_slot_in_words(client, auth, daemon):
    daemon.advance(30 * 60)
    daemon.deposit("A1A1A1A1", 1)
    auth.login("viewer")
    text = page(client)
    for number in (1, 2, 3, 4):
        assert f'data-testid="slot-{number}"' in text
    assert 'data-testid="slot-1" data-state="held"' in text
    assert '<p class="slot-state" data-testid="slot-1-state">Device locked in</p>' in text
    assert '<p class="slot-occupant" data-testid="slot-1-occupant">Alice</p>' in text
    assert "Since 08:00" in text
    assert "Door closed · Device in · Locked" in text
    assert '<p class="slot-state" data-testid="slot-2-state">Free</p>' in text


def test_shifts_say_whose_device_is_in(client, auth, daemon):
    daemon.deposit("A1A1A1A1", 1)
    auth.login()
    text = page(client)
    assert 'data-testid="shift-1-device">In slot 1</td>' in text
    assert 'data-testid="shift-2-device">Not deposited</td>' in text
    assert "08:00–16:00" in text and "12:00–12:30" in text


def test_a_manager_can_release_a_held_slot_from_the_grid(client, auth, daemon):
    daemon.deposit("A1A1A1A1", 1)
    auth.login()
    assert 'href="/actions?slot=1#release-slot"' in page(client)
    client.post("/logout", data={"csrf_token": auth.csrf_token("/")})
    auth.login("viewer")
    assert "#release-slot" not in page(client)


def test_open_alerts_are_listed_with_an_acknowledge_button(client, auth, daemon, db):
    alert_id = raise_alert(db, daemon.clock.now(), alert="tamper", slot=2)
    auth.login()
    text = page(client)
    assert "Device removed while locked" in text
    assert f'data-testid="ack-{alert_id}"' in text
    auth.logout()
    auth.login("viewer")
    text = page(client)
    assert "Device removed while locked" in text
    assert f'data-testid="ack-{alert_id}"' not in text


def test_safety_alerts_come_first_and_the_others_fold_into_one_line(client, auth, daemon, db):
    now = daemon.clock.now()
    raise_alert(db, now, alert="no_deposit", slot=None, person_id=1)
    raise_alert(db, now, alert="no_deposit", slot=None, person_id=2)
    raise_alert(db, now, alert="door_left_open", slot=3)
    forced = raise_alert(db, now, alert="door_forced", slot=2)
    auth.login("viewer")
    text = page(client)
    safety, others = text.split('data-testid="other-alerts"')
    assert f'data-testid="alert-{forced}"' in safety.split('data-testid="alert-list"')[1]
    assert 'data-testid="group-no_deposit"' in others and "no_deposit" not in safety
    assert '<strong id="other-alerts-text">3 other alerts</strong>' in others
    assert "On shift, no device deposited (2) · Door left open" in others
    summary = client.get("/api/status").json["other_alerts"]
    assert summary == {
        "count": 3,
        "text": "3 other alerts",
        "kinds": "On shift, no device deposited (2) · Door left open",
    }


def test_without_operational_alerts_there_is_no_folded_line(client, auth, daemon, db):
    raise_alert(db, daemon.clock.now(), alert="door_forced", slot=2)
    auth.login()
    assert 'data-testid="other-alerts" open hidden' in page(client)
    assert client.get("/api/status").json["other_alerts"]["count"] == 0


def test_no_banner_while_the_daemon_runs_with_a_synchronised_clock(client, auth, daemon):
    auth.login()
    text = page(client)
    assert 'data-testid="banner-daemon" hidden' in text
    assert 'data-testid="banner-clock" hidden' in text


def test_a_banner_when_the_daemon_is_down(client, auth, daemon):
    auth.login()
    daemon.clock.advance(16)
    text = page(client)
    assert 'data-testid="banner-daemon" >' in text
    assert "Last heard from at 07:30." in text


def test_a_banner_when_the_daemon_never_ran(client, auth):
    auth.login()
    text = page(client)
    assert 'data-testid="banner-daemon" >' in text
    assert "It has not started yet." in text
    assert 'data-testid="slot-1" data-state="unknown"' in text


def test_a_banner_when_the_clock_is_not_synchronised(client, auth, daemon, config):
    publish(config, clock_synchronised=False)
    auth.login()
    assert 'data-testid="banner-clock" >' in page(client)
    assert client.get("/api/status").json["clock_synchronised"] is False


def test_names_are_escaped(client, auth, daemon, db):
    with db.write() as session:
        person = add_person(
            session, "<script>alert(1)</script>", badge="C0C0C0C0", at=daemon.clock.now(), actor="t"
        )
        session.commit()
    daemon.controller.reload_roster()
    daemon.deposit("C0C0C0C0", 1)
    auth.login()
    raw = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert person.id


def test_local_time_follows_british_summer_time(app):
    with app.app_context():
        summer = datetime(2026, 7, 1, 7, 5, tzinfo=UTC)
        assert local_text(summer, date(2026, 7, 1)) == "08:05"
        assert local_text(summer, date(2026, 7, 2)) == "Wed 01 Jul 08:05"


def test_the_page_loads_its_script_and_styles_from_the_panel(client, auth):
    auth.login()
    text = page(client)
    assert '<script src="/static/status.js" defer></script>' in text
    assert 'href="/static/panel.css"' in text
    assert "http://" not in text and "https://" not in text


def test_the_status_reads_only_the_people_it_names(client, auth, daemon, db):
    # A nursery's list of people only grows (leavers stay, forgotten or not):
    # the page refreshed every few seconds must not read them all.
    daemon.deposit("A1A1A1A1", 1)
    auth.login("viewer")
    with db.write() as session:
        for n in range(60):
            add_person(session, f"Leaver {n}", at=daemon.clock.now(), actor="t")
        session.commit()
    with recorded_statements(client.application.extensions["locker_db"].engine) as sent:
        status = client.get("/api/status").json
    loaded = [parameters for statement, parameters in sent if "FROM people" in statement]
    assert status["slots"][0]["occupant"]["name"] == "Alice"
    assert {s["name"] for s in status["on_shift"]} == {"Alice", "Bob"}
    # One read of the people, by id: Alice and Bob, not the 63 on the list.
    assert len(loaded) == 1 and len(loaded[0]) == 2
