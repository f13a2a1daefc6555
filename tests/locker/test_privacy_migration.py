"""Migration 0006 on a log written by the release before it: sealed, re-chained, verifiable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import select, text

from locker import events as ev
from locker.clock import SimulatedClock
from locker.db import Database, alembic_config, stored_revision
from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.log import append, paper_mismatch, purge_before, verify, write_checkpoint
from locker.log import chain as chain_module
from locker.log.legacy import SEAL
from locker.log.personal import shown_events
from locker.models import Checkpoint, Event
from locker.people import add_person, revoke_badge

NAME = "Aisha Khanzada"
UID = "A4B5C6D7"


@pytest.fixture
def old_release(tmp_path, monkeypatch):
    """A database at revision 0005 whose log the release's writers filled (names in clear)."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(db.engine), "0005")
    # The release's append, which hashed details as given.
    monkeypatch.setattr(chain_module, "private_entry", lambda session, entry, event_id: entry)
    clock = SimulatedClock()
    with db.write() as session:
        first = add_person(session, "Ben Early", badge="B0B0B0B0", at=clock.now(), actor="cli:root")
        session.commit()
    clock.advance(3600)
    with db.write() as session:
        write_checkpoint(session, clock.now())
        session.commit()
    clock.advance(3600)
    with db.write() as session:
        purge_before(session, clock.now() - timedelta(minutes=30), clock.now(), "system")
        aisha = add_person(session, NAME, badge=UID, at=clock.now(), actor="cli:root")
        append(
            session,
            LogEntry(
                ev.BADGE_GRANTED, actor=NAME, slot=1, person_id=aisha.id, details={"uid": UID}
            ),
            clock.now(),
        )
        revoke_badge(session, UID, at=clock.now(), actor="cli:root")
        printed = write_checkpoint(session, clock.now())
        append(
            session,
            LogEntry(ev.CONFIG_CHANGED, "cli:root", None, first.id, {"name": "Ben"}),
            clock.now(),
        )
        session.commit()
        paper = (printed.event_id, printed.hash)
    monkeypatch.undo()
    yield db, paper
    db.dispose()


def test_an_old_log_verifies_before_and_after_the_migration(old_release):
    db, paper = old_release
    with db.read() as session:
        assert verify(session).ok
        assert NAME in " ".join(session.scalars(select(Event.details)))
        old_head = session.scalars(select(Event.hash).order_by(Event.id.desc())).first()
    command.upgrade(alembic_config(db.engine), "head")
    with db.read() as session:
        report = verify(session)
        assert report.ok, report.reason
        assert paper_mismatch(session, *paper) is None
        assert paper_mismatch(session, paper[0], "0" * 64) is not None
        seal = session.scalars(select(Checkpoint).where(Checkpoint.kind == SEAL)).one()
        assert seal.hash == old_head
        stored = session.execute(select(Event.actor, Event.details)).all()
        assert not [row for row in stored if NAME in row.actor + row.details or UID in row.details]
        shown = shown_events(session, session.scalars(select(Event).order_by(Event.id)).all())
        badge = next(e for e in shown if e.kind == ev.BADGE_GRANTED)
        assert badge.actor == NAME and UID in badge.details


def test_migrating_again_changes_nothing(old_release):
    db, _paper = old_release
    command.upgrade(alembic_config(db.engine), "head")
    with db.read() as session:
        before = session.execute(select(Event.id, Event.hash).order_by(Event.id)).all()
    from locker.log.legacy import rechain_with_commitments

    with db.write() as session:
        assert rechain_with_commitments(session, SimulatedClock().now()) == 0
        session.commit()
        assert session.execute(select(Event.id, Event.hash).order_by(Event.id)).all() == before


def test_a_broken_old_log_is_refused_and_left_as_it_was(old_release):
    db, _paper = old_release
    with db.engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE events SET details = \'{"name":"Someone Else"}\' '
                "WHERE id = (SELECT MAX(id) FROM events)"
            )
        )
    with pytest.raises(ChainBroken, match="was not migrated"):
        command.upgrade(alembic_config(db.engine), "head")
    assert stored_revision(db.engine) == "0005"
