"""Names, notes and reasons are plain text: no bidi overrides, zero-width or control characters."""

from __future__ import annotations

import html

import pytest

from locker.commands import text
from locker.errors import InvalidRequest
from tests.support.panel import commands

ALICE = 1
#: Right-to-left override, zero-width space, first-strong isolate, byte-order mark,
#: line separator, a private-use character, an escape.
HIDDEN = ["\u202e", "\u200b", "\u2068", "\ufeff", "\u2028", "\ue000", "\x1b"]


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_text_names_the_character_it_refuses(char):
    with pytest.raises(InvalidRequest) as refused:
        text(f"Ali{char}ce", "the name")
    assert str(refused.value).startswith(f"the name contains U+{ord(char):04X}, a control")
    assert "not plain text" in str(refused.value)


def test_text_keeps_what_people_type():
    typed = "Zoë O'Brien – école 😀\nsecond line\twith a tab"
    assert text(typed, "note") == typed


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_a_grant_note_with_a_hidden_character_is_refused(client, token, daemon, db, char):
    body = {"person_id": ALICE, "reason": "other", "note": f"fire {char}drill"}
    response = client.post("/api/grants", json=body, headers=token())
    assert response.status_code == 400
    assert f"note contains U+{ord(char):04X}" in response.json["error"]
    assert commands(db) == []


def test_a_release_reason_with_a_bidi_override_is_refused(client, token, daemon, db):
    body = {"reason": "evacuation\u202e"}
    response = client.post("/api/slots/1/release", json=body, headers=token())
    assert response.status_code == 400
    assert "reason contains U+202E" in response.json["error"]
    response = client.post("/api/release-all", json={**body, "confirm": True}, headers=token())
    assert response.status_code == 400
    assert commands(db) == []


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/actions/visitor-in", {"visitor-in-name": "Ofsted\u200bin", "visitor-in-slot": ""}),
        ("/people", {"name": "Car\u202eol", "role": "staff", "slot": "", "badge": ""}),
    ],
    ids=["visitor", "person"],
)
def test_a_name_with_a_hidden_character_is_refused_in_the_forms(
    client, auth, daemon, db, path, form
):
    auth.login()
    response = auth.post(path, {**form, "password": "manager-password"})
    assert response.status_code == 400
    assert "not plain text" in html.unescape(response.get_data(as_text=True))
    assert commands(db) == []
