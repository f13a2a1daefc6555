"""People: adding and changing them, each change logged."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.log import verify
from locker.log.personal import resolve_one
from locker.models import Event
from locker.people import add_person, update_person


@pytest.fixture
def two(db, clock):
    with db.write() as session:
        alice = add_person(session, "Alice", badge="A1A1A1A1", slot=1, at=clock.now(), actor="t")
        bob = add_person(session, "Bob", at=clock.now(), actor="t")
        session.commit()
        return alice.id, bob.id


def change(db, clock, person_id, **fields):
    wanted = {"name": "Alice", "role": "staff", "slot": 1, "setting_authorised": False}
    with db.write() as session:
        changes = update_person(
            session, person_id, **{**wanted, **fields}, at=clock.now(), actor="mary"
        )
        session.commit()
        return changes


def test_a_change_is_stored_and_logged_as_before_and_after(db, clock, two):
    alice, _ = two
    changes = change(db, clock, alice, name=" Alice   Jones ", role="manager", slot=None)
    assert changes == {
        "name": ["Alice", "Alice Jones"],
        "role": ["staff", "manager"],
        "slot": [1, None],
    }
    with db.read() as session:
        logged = session.scalars(select(Event).where(Event.kind == ev.CONFIG_CHANGED)).all()[-1]
        assert (logged.actor, logged.person_id) == ("mary", alice)
        shown = resolve_one(session, json.loads(logged.details), alice)
        assert shown["changes"] == changes
        assert verify(session).ok


def test_no_change_logs_nothing(db, clock, two):
    alice, _ = two
    with db.read() as session:
        before = len(session.scalars(select(Event)).all())
    assert change(db, clock, alice) == {}
    with db.read() as session:
        assert len(session.scalars(select(Event)).all()) == before


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"name": "Bob"}, Conflict, "already somebody called 'Bob'"),
        ({"name": "  "}, InvalidRequest, "a name of 1 to 120"),
        ({"role": "boss"}, InvalidRequest, "role must be one of"),
    ],
)
def test_a_bad_change_is_named_and_nothing_changes(db, clock, two, fields, error, words):
    alice, _ = two
    with pytest.raises(error, match=words):
        change(db, clock, alice, **fields)
    assert change(db, clock, alice) == {}  # still as it was


def test_another_persons_slot_is_refused(db, clock, two):
    _, bob = two
    with pytest.raises(Conflict, match="slot 1 is already Alice's"):
        change(db, clock, bob, name="Bob", slot=1)


def test_nobody_to_change(db, clock, two):
    with pytest.raises(NotFound, match="nobody with id 99"):
        change(db, clock, 99)
