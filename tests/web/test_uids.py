"""Viewers see the last four hex digits of a badge UID; managers and admins see it whole."""

from __future__ import annotations

import pytest

from locker.decisions import BadgeRead
from tests.support.live import publish
from web.uids import masked

WHOLE = ["A1A1A1A1", "B0B0B0B0", "4D4D4D4D", "0BADCAFE"]


@pytest.fixture
def logged(daemon, db):
    daemon.controller.handle(BadgeRead("0BADCAFE"))  # an unknown card: badge.unknown
    daemon.heartbeat()
    # As the real daemon notes it, for enrolling the card.
    publish(
        daemon.config,
        last_unknown_uid="0BADCAFE",
        last_unknown_at=daemon.clock.now().isoformat(),
    )
    return daemon


def test_masked_keeps_the_last_four_hex_digits():
    assert masked("4D4D4D4D") == "****4D4D"
    assert masked("04A1B2C3D4E5F6") == "****E5F6"


def page_texts(client) -> list[str]:
    texts = [client.get(p).get_data(as_text=True) for p in ("/people", "/log", "/log/overrides")]
    texts.append(client.get("/api/people").get_data(as_text=True))
    texts.append(client.get("/api/events?limit=1000").get_data(as_text=True))
    texts.append(client.get("/log/export.csv").get_data(as_text=True))
    texts.append(client.get("/log/export.csv?format=jsonl").get_data(as_text=True))
    since = "2026-01-05T00:00:00+00:00"
    texts.append(client.get("/people/enrol/card", query_string={"since": since}).get_data(True))
    return texts


def test_a_viewer_never_sees_a_whole_uid(client, auth, logged):
    auth.login("viewer")
    texts = page_texts(client)
    for uid in WHOLE:
        for text in texts:
            assert uid not in text
    mary = next(p for p in client.get("/api/people").json["people"] if p["name"] == "Mary")
    assert mary["badges"] == ["****4D4D"]
    assert "****4D4D" in texts[0]
    unknown = client.get("/api/events?kind=badge.unknown").json["events"]
    assert unknown[0]["details"]["uid"] == "****CAFE"
    assert "card number: ****CAFE" in texts[1]
    assert '""uid"":""****CAFE""' in texts[5]
    assert '"uid": "****CAFE"' in texts[6]
    assert '"uid":"****CAFE"' in texts[7].replace(" ", "")


def test_a_viewer_token_gets_masked_uids_too(client, token, logged):
    people = client.get("/api/people", headers=token("viewer")).json["people"]
    assert {b for p in people for b in p["badges"]} == {"****A1A1", "****B0B0", "****4D4D"}


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_whole_uids(client, auth, logged, role):
    auth.login(role)
    texts = page_texts(client)
    assert "4D4D4D4D" in texts[0] and "4D4D4D4D" in texts[3]
    assert "0BADCAFE" in texts[1] and "0BADCAFE" in texts[4]
    assert "0BADCAFE" in texts[5] and "0BADCAFE" in texts[6] and "0BADCAFE" in texts[7]
