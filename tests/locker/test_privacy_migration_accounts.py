"""Migrations 0006 and 0007 on logs that held account names, addresses and leavers' names
in clear: committed, the chain verifiable, checkpoints printed before still good."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text

from locker import events as ev
from locker.clock import SimulatedClock
from locker.db import Database, alembic_config, stored_revision
from locker.decisions import LogEntry
from locker.errors import ChainBroken
from locker.log import append, paper_mismatch, verify, write_checkpoint
from locker.log import chain as chain_module
from locker.log.legacy import HASH_BEFORE_0007, SEAL
from locker.log.personal import ACCOUNT_ACTOR, FORMER_ACTOR, shown_events
from locker.models import Checkpoint, Event
from locker.people import add_person

ACCOUNT = "deputy"
ADDRESS = "192.0.2.44"
LEAVER = "Zoe Longgone"


def old_log(db: Database, monkeypatch, clear) -> tuple[int, str]:
    """Fill the log as an older release did (``clear`` makes an entry as it hashed it):
    a panel account's login and action, and a badge event of a leaver no longer on the
    list; returns a checkpoint printed then (event id, hash)."""
    monkeypatch.setattr(
        chain_module, "private_entry", lambda session, entry, event_id: clear(entry)
    )
    clock = SimulatedClock()
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO panel_accounts (username, role, password_hash, created_at, active)"
                " VALUES (:name, 'manager', 'x', :at, 1)"
            ),
            {"name": ACCOUNT, "at": clock.now()},
        )
        # A session refers to the account: 0007 rebuilds its table under it.
        conn.execute(
            text(
                "INSERT INTO panel_sessions (account_id, key_hash, client, created_at)"
                " SELECT id, 'k', :client, :at FROM panel_accounts"
            ),
            {"client": ADDRESS, "at": clock.now()},
        )
    with db.write() as session:
        append(session, LogEntry(ev.SYSTEM_STARTED, "daemon", details={}), clock.now())
        session.commit()
    with db.write() as session:
        ben = add_person(session, "Ben Early", badge="B0B0B0B0", at=clock.now(), actor="cli:root")
        login = {"username": ACCOUNT, "client": ADDRESS}
        append(session, LogEntry(ev.AUTH_LOGIN, ACCOUNT, details=login), clock.now())
        grant = {"reason": "other", "client": ADDRESS}
        append(session, LogEntry(ev.GRANT_CREATED, ACCOUNT, None, ben.id, grant), clock.now())
        append(session, LogEntry(ev.BADGE_GRANTED, LEAVER, 1, None, {}), clock.now())
        append(session, LogEntry(ev.CONFIG_CHANGED, "demo", None, None, {}), clock.now())
        printed = write_checkpoint(session, clock.now())
        append(session, LogEntry(ev.CONFIG_CHANGED, "cli:root", None, ben.id, {}), clock.now())
        session.commit()
    monkeypatch.undo()
    return printed.event_id, printed.hash


def assert_moved(db: Database, paper: tuple[int, str]) -> None:
    with db.read() as session:
        report = verify(session)
        assert report.ok, report.reason
        assert paper_mismatch(session, *paper) is None
        assert paper_mismatch(session, paper[0], "0" * 64) is not None
        rows = session.scalars(select(Event).order_by(Event.id)).all()
        stored = " ".join(f"{e.actor} {e.details}" for e in rows)
        for secret in (ACCOUNT, ADDRESS, LEAVER):
            assert secret not in stored, secret
        actors = {e.kind: e.actor for e in rows}
        assert actors[ev.AUTH_LOGIN] == ACCOUNT_ACTOR
        assert actors[ev.BADGE_GRANTED] == FORMER_ACTOR
        shown = {e.kind: e for e in shown_events(session, rows)}
        assert shown[ev.AUTH_LOGIN].actor == shown[ev.GRANT_CREATED].actor == ACCOUNT
        assert ADDRESS in shown[ev.GRANT_CREATED].details
        assert shown[ev.BADGE_GRANTED].actor == LEAVER
        assert "demo" in {e.actor for e in rows}, "the demo's seeding is nobody: left as it is"


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    yield db
    db.dispose()


def test_a_log_from_before_0006_moves_its_accounts_and_leavers_at_0006(database, monkeypatch):
    command.upgrade(alembic_config(database.engine), "0005")
    paper = old_log(database, monkeypatch, lambda entry: entry)  # all in clear
    command.upgrade(alembic_config(database.engine), "0006")
    assert_moved(database, paper)
    with database.read() as session:
        seals = session.scalars(select(Checkpoint).where(Checkpoint.kind == SEAL)).all()
    command.upgrade(alembic_config(database.engine), "head")
    assert_moved(database, paper)
    with database.read() as session:
        again = session.scalars(select(Checkpoint).where(Checkpoint.kind == SEAL)).all()
        assert len(again) == len(seals) == 1, "0007 found nothing left to move"
        assert HASH_BEFORE_0007 not in " ".join(session.scalars(select(Event.details)))


def test_a_log_written_at_0006_moves_at_0007_from_its_first_change(database, monkeypatch):
    command.upgrade(alembic_config(database.engine), "0006")
    # 0006's writer committed names, card numbers and notes, not accounts or addresses.
    paper = old_log(database, monkeypatch, lambda entry: entry)
    with database.read() as session:
        first = session.scalars(select(Event).order_by(Event.id)).first()
        kept = (first.id, first.hash)
        old_head = session.scalars(select(Event.hash).order_by(Event.id.desc())).first()
    command.upgrade(alembic_config(database.engine), "head")
    assert_moved(database, paper)
    with database.read() as session:
        # Events before the first account event keep their hashes.
        assert session.get(Event, kept[0]).hash == kept[1]
        seal = session.scalars(select(Checkpoint).where(Checkpoint.kind == SEAL)).one()
        assert seal.hash == old_head
    command.upgrade(alembic_config(database.engine), "head")
    assert_moved(database, paper)


def test_a_broken_log_at_0006_is_refused_by_0007_and_left_as_it_was(database, monkeypatch):
    command.upgrade(alembic_config(database.engine), "0006")
    old_log(database, monkeypatch, lambda entry: entry)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE events SET actor = 'someone else' WHERE kind = 'auth.login'"))
    with pytest.raises(ChainBroken, match="was not migrated"):
        command.upgrade(alembic_config(database.engine), "head")
    assert stored_revision(database.engine) == "0006"
    with database.engine.connect() as conn:
        grant = "SELECT actor FROM events WHERE kind = 'grant.created'"
        assert conn.execute(text(grant)).scalar() == ACCOUNT
