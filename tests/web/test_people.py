"""The people page: adding people, enrolling and revoking badges, (de)activating somebody."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.decisions import BadgeRead
from locker.log.personal import resolve_one
from locker.models import Badge, Person
from tests.support.live import publish
from tests.support.panel import commands, shown

ALICE, BOB, MARY = 1, 2, 3


@pytest.fixture
def manager(auth):
    auth.login()
    return auth


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def person_named(db, name: str) -> Person | None:
    with db.read() as session:
        return session.scalar(select(Person).where(Person.name == name))


def badge(db, uid: str) -> Badge | None:
    with db.read() as session:
        return session.scalar(select(Badge).where(Badge.uid == uid))


def kinds(db) -> list[str]:
    return [c.kind for c in commands(db)]


def card_read(config, uid: str, at: datetime) -> None:
    """The daemon's live status says ``uid`` was read at ``at`` and is unknown."""
    publish(config, last_unknown_uid=uid, last_unknown_at=at.isoformat())


def new_person(**fields) -> dict[str, str]:
    return {"name": "Carol", "role": "staff", "slot": "", "badge": "", **fields}


def test_the_list_shows_everybody_with_their_badges(client, manager, daemon):
    text = page(client.get("/people"))
    assert 'data-testid="person-1-name">Alice</td>' in text
    assert '<span class="badge-uid" data-testid="badge-A1A1A1A1">A1A1A1A1</span>' in text
    assert 'data-testid="person-3-role">Manager or deputy</td>' in text
    assert 'data-testid="person-1-active">Yes</td>' in text
    assert 'data-testid="add-person-form"' in text
    assert 'data-testid="slots-4"' in text  # the read-only list of the config's slots


def test_a_viewer_reads_but_gets_no_forms(client, auth, daemon):
    auth.login("viewer")
    text = page(client.get("/people"))
    assert "Alice" in text
    assert 'data-testid="add-person-form"' not in text
    assert 'data-testid="revoke-A1A1A1A1"' not in text
    assert client.get("/people/1/enrol").status_code == 403
    assert client.get("/people/badges/A1A1A1A1/revoke").status_code == 403


def test_adding_a_person_with_a_slot_a_badge_and_setting_rights(client, manager, daemon, db):
    response = manager.post(
        "/people",
        new_person(slot="2", badge="ca:fe:ba:be", setting_authorised="y"),
        follow_redirects=True,
    )
    assert "Added Carol with badge CAFEBABE." in page(response)
    carol = person_named(db, "Carol")
    assert (carol.role, carol.slot_number, carol.setting_authorised) == ("staff", 2, True)
    assert badge(db, "CAFEBABE").person_id == carol.id
    added = [json.loads(e.details) for e in shown(db, ev.CONFIG_CHANGED)][-2:]
    assert [(d["what"], d["client"]) for d in added] == [
        ("person added", "127.0.0.1"),
        ("badge added", "127.0.0.1"),
    ]
    assert kinds(db) == ["reload"]
    # The daemon re-read its roster: the new badge opens a slot at once.
    daemon.controller.handle(BadgeRead("CAFEBABE"))
    assert shown(db, ev.BADGE_GRANTED)[-1].person_id == carol.id


def test_a_duplicate_name_is_named_and_nothing_is_added(client, manager, daemon, db):
    response = manager.post("/people", new_person(name="  Alice ", badge="CAFEBABE"))
    assert response.status_code == 409
    assert "there is already somebody called &#39;Alice&#39;" in response.get_data(as_text=True)
    assert 'data-testid="name-error"' in response.get_data(as_text=True)
    assert badge(db, "CAFEBABE") is None
    assert kinds(db) == []


@pytest.mark.parametrize(
    ("uid", "status", "words"),
    [
        ("nothex", 400, "not 4, 7 or 10 bytes of hex"),
        ("A1A1A1A1", 409, "already in use (Alice)"),
    ],
)
def test_a_bad_badge_adds_nobody(client, manager, daemon, db, uid, status, words):
    response = manager.post("/people", new_person(badge=uid))
    assert response.status_code == status
    assert words in page(response)
    assert 'data-testid="badge-error"' in page(response)
    assert person_named(db, "Carol") is None
    assert kinds(db) == []


def test_a_missing_name_is_refused(client, manager, daemon, db):
    response = manager.post("/people", new_person(name="   "))
    assert response.status_code == 400
    assert 'data-testid="name-error"' in page(response)
    assert person_named(db, "") is None


def test_a_name_with_markup_is_shown_as_text(client, manager, daemon, db):
    manager.post("/people", new_person(name="<script>alert(1)</script>"))
    assert person_named(db, "<script>alert(1)</script>") is not None
    raw = client.get("/people").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


def test_without_the_daemon_the_change_waits_for_it(client, manager, people, db):
    response = manager.post("/people", new_person(), follow_redirects=True)
    text = page(response)
    assert "Added Carol." in text
    assert "The controller is not running; it will read the change when it starts." in text
    assert [(c.kind, c.status) for c in commands(db)] == [("reload", "pending")]


def test_deactivating_and_reactivating(client, manager, daemon, db):
    response = manager.post("/people/1/active", {"active": "no"}, follow_redirects=True)
    assert "Alice is deactivated." in page(response)
    assert person_named(db, "Alice").active is False
    daemon.controller.handle(BadgeRead("A1A1A1A1"))
    refused = shown(db, ev.BADGE_REFUSED)[-1]
    with db.read() as session:
        assert resolve_one(session, json.loads(refused.details), refused.person_id) == {
            "explanation": "This person is no longer active.",
            "reason": "inactive",
            "uid": "A1A1A1A1",
        }
    response = manager.post("/people/1/active", {"active": "yes"}, follow_redirects=True)
    assert "Alice is active again." in page(response)
    assert person_named(db, "Alice").active is True
    logged = [e.details for e in shown(db, ev.CONFIG_CHANGED) if e.person_id == ALICE]
    assert '"what":"person deactivated"' in logged[-2] and '"client":"127.0.0.1"' in logged[-2]
    assert '"what":"person reactivated"' in logged[-1]
    assert kinds(db) == ["reload", "reload"]


@pytest.mark.parametrize("path", ["/people/999/active", f"/people/{2**70}/active"])
def test_an_unknown_person_is_a_404(client, manager, daemon, path):
    assert manager.post(path, {"active": "no"}).status_code == 404


def test_active_must_be_yes_or_no(client, manager, daemon):
    assert manager.post("/people/1/active", {"active": "maybe"}).status_code == 400


# ------------------------------------------------------------------ enrolling


def open_enrol(client, person_id: int = BOB) -> tuple[str, str]:
    """Press "Enrol a badge": the page's URL (with its start moment) and that moment."""
    response = client.get(f"/people/{person_id}/enrol")
    assert response.status_code == 302
    url = response.headers["Location"]
    return url, parse_qs(urlsplit(url).query)["since"][0]


def test_enrol_offers_the_card_read_after_it_opened(client, manager, daemon, clock, db, config):
    url, since = open_enrol(client)
    assert datetime.fromisoformat(since) == clock.now()
    card_read(config, "0BADCAFE", clock.now() - timedelta(seconds=1))  # before: not offered
    text = page(client.get(url))
    assert re.search(r'data-testid="enrol-card" hidden', text)
    assert client.get(f"/people/enrol/card?since={since}").json["card"] is None

    clock.advance(3)
    card_read(config, "0BADCAFE", clock.now())
    text = page(client.get(url))
    assert '<strong id="enrol-card-uid" data-testid="enrol-card-uid">0BADCAFE</strong>' in text
    assert 'name="uid" id="enrol-give-uid" value="0BADCAFE"' in text
    assert client.get(f"/people/enrol/card?since={since}").json["card"] == {
        "uid": "0BADCAFE",
        "seen_local": "07:30:03",
        "taken": None,
    }

    response = manager.post(f"/people/{BOB}/badges", {"uid": "0BADCAFE", "since": since})
    assert response.headers["Location"] == "/people"
    assert badge(db, "0BADCAFE").person_id == BOB
    assert kinds(db) == ["reload"]
    assert "This card is already Bob&#39;s badge" in client.get(url).get_data(as_text=True)


def test_the_enrol_script_needs_a_start_moment(client, manager, daemon):
    response = client.get("/people/enrol/card?since=yesterday")
    assert response.status_code == 400
    assert "since" in response.json["error"]


def test_a_typed_uid_is_checked_and_kept(client, manager, daemon, db):
    url, since = open_enrol(client)
    response = manager.post(f"/people/{BOB}/badges", {"uid": "12-34", "since": since})
    assert response.status_code == 400
    text = page(response)
    assert "not 4, 7 or 10 bytes of hex" in text
    assert 'value="12-34"' in text
    response = manager.post(f"/people/{BOB}/badges", {"uid": "04 a1 b2 c3 d4 e5 f6"})
    assert response.status_code == 302
    assert badge(db, "04A1B2C3D4E5F6").person_id == BOB


def test_enrolling_for_nobody_is_a_404(client, manager, daemon):
    assert client.get("/people/999/enrol").status_code == 404
    assert manager.post("/people/999/badges", {"uid": "CAFEBABE"}).status_code == 404


# ------------------------------------------------------------------ revoking


def test_revoking_asks_first_then_the_badge_is_refused(client, manager, daemon, db):
    text = page(client.get("/people/badges/A1A1A1A1/revoke"))
    assert '<strong data-testid="revoke-name">Alice</strong>' in text
    assert 'data-testid="revoke-confirm"' in text
    assert badge(db, "A1A1A1A1").revoked_at is None

    assert manager.post("/people/badges/A1A1A1A1/revoke").status_code == 400
    response = manager.post(
        "/people/badges/a1:a1:a1:a1/revoke", {"confirm": "yes"}, follow_redirects=True
    )
    assert "Alice's card A1A1A1A1 is revoked: it opens nothing now." in page(response)
    assert badge(db, "A1A1A1A1").revoked_at is not None
    assert 'data-testid="badge-A1A1A1A1"' not in page(client.get("/people"))
    assert kinds(db) == ["reload"]
    daemon.controller.handle(BadgeRead("A1A1A1A1"))
    assert '"reason":"revoked"' in shown(db, ev.BADGE_REFUSED)[-1].details

    again = manager.post(
        "/people/badges/A1A1A1A1/revoke", {"confirm": "yes"}, follow_redirects=True
    )
    assert "badge A1A1A1A1 was already revoked" in page(again)
    assert kinds(db) == ["reload"]


@pytest.mark.parametrize("uid", ["DEADBEEF", "not-a-uid", "x" * 300])
def test_revoking_an_unknown_badge_is_a_404(client, manager, daemon, uid):
    assert client.get(f"/people/badges/{uid}/revoke").status_code == 404
    assert manager.post(f"/people/badges/{uid}/revoke", {"confirm": "yes"}).status_code == 404


# ------------------------------------------------------------ changing a person


def details_of(name="Alice", role="staff", slot="", **fields) -> dict[str, str]:
    return {"name": name, "role": role, "slot": slot, **fields}


def test_the_change_form_shows_what_is_stored(client, manager, daemon):
    text = page(client.get("/people/1/edit"))
    assert 'value="Alice"' in text
    assert 'data-testid="edit-person-form"' in text
    assert 'data-testid="edit-1"' in page(client.get("/people"))


def test_a_person_is_renamed_made_a_manager_and_given_a_slot(client, manager, daemon, db):
    response = manager.post(
        "/people/1/edit",
        details_of(name="Alice  Jones", role="manager", slot="2", setting_authorised="y"),
        follow_redirects=True,
    )
    text = page(response)
    assert "Changed the name, the role, the own slot, the setting's devices permission" in text
    alice = person_named(db, "Alice Jones")
    assert (alice.id, alice.role, alice.slot_number, alice.setting_authorised) == (
        1,
        "manager",
        2,
        True,
    )
    (logged,) = [e for e in shown(db, ev.CONFIG_CHANGED) if "person changed" in e.details]
    assert logged.actor == "manager" and logged.person_id == 1
    assert json.loads(logged.details)["changes"]["role"] == ["staff", "manager"]
    assert json.loads(logged.details)["client"] == "127.0.0.1"
    assert kinds(db) == ["reload"]
    assert badge(db, "A1A1A1A1").person_id == 1  # badges stay


def test_saving_without_a_change_logs_nothing(client, manager, daemon, db):
    before = len(shown(db))
    response = manager.post("/people/1/edit", details_of(), follow_redirects=True)
    assert "Nothing was changed." in page(response)
    assert len(shown(db)) == before and kinds(db) == []


def test_another_persons_name_or_slot_is_refused_and_nothing_changes(client, manager, daemon, db):
    manager.post("/people/2/edit", details_of(name="Bob", slot="3"))
    response = manager.post("/people/1/edit", details_of(name="Bob"))
    assert response.status_code == 409
    assert "there is already somebody called &#39;Bob&#39;" in response.get_data(as_text=True)
    response = manager.post("/people/1/edit", details_of(slot="3"))
    assert response.status_code == 400  # slot 3 is not offered: it is Bob's
    assert person_named(db, "Alice").slot_number is None


def test_changing_needs_a_manager_and_a_real_person(client, auth, daemon):
    auth.login("viewer")
    assert client.get("/people/1/edit").status_code == 403
    auth.logout()
    auth.login()
    assert client.get("/people/999/edit").status_code == 404


def test_the_log_shows_a_change_as_before_and_after(client, manager, daemon):
    manager.post("/people/1/edit", details_of(role="manager"))
    text = page(client.get("/log"))
    assert "role: staff → manager" in text
