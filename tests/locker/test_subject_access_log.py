"""The access log: one ``data.viewed`` per account, page kind and day; every export."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.access_log import record_view
from locker.log import verify
from locker.models import Event
from tests.support.nursery import MONDAY, at


def _view(db, actor, what, hhmm, person_id=None, day=MONDAY):
    now = at(day, hhmm)
    start = at(day, "00:00")
    with db.write() as session:
        event = record_view(
            session, actor=actor, what=what, at=now, day_start=start, person_id=person_id
        )
        session.commit()
        return event is not None


def _viewed(db):
    with db.read() as session:
        rows = session.scalars(select(Event).where(Event.kind == ev.DATA_VIEWED).order_by(Event.id))
        return [(e.actor, json.loads(e.details)["what"], e.person_id) for e in rows]


def test_a_page_kind_is_logged_once_a_day_per_account_and_person(db):
    assert _view(db, "mary", "log", "08:00")
    assert not _view(db, "mary", "log", "09:00")
    assert _view(db, "sam", "log", "09:00")
    assert _view(db, "mary", "report", "09:05")
    assert _view(db, "mary", "person", "09:10", person_id=3)
    assert not _view(db, "mary", "person", "09:11", person_id=3)
    assert _view(db, "mary", "person", "09:12", person_id=4)
    assert _view(db, "mary", "log", "08:00", day=MONDAY + timedelta(days=1))
    assert _viewed(db) == [
        ("mary", "log", None),
        ("sam", "log", None),
        ("mary", "report", None),
        ("mary", "person", 3),
        ("mary", "person", 4),
        ("mary", "log", None),
    ]
    with db.read() as session:
        assert verify(session).ok


def test_every_export_of_the_log_is_logged(db):
    assert _view(db, "mary", "log_export", "08:00")
    assert _view(db, "mary", "log_export", "08:01")
    assert _viewed(db) == [("mary", "log_export", None)] * 2


def test_an_unknown_page_kind_is_refused(db):
    with pytest.raises(ValueError, match="what must be one of"):
        _view(db, "mary", "everything", "08:00")
