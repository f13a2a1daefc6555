"""Migrations: the models match them, and migrating again loses nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from locker.clock import SimulatedClock
from locker.db import Database, migrate, schema_status
from locker.log import verify
from locker.models import Base, Person
from locker.people import add_person


def test_the_migrations_build_exactly_the_models(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    current, head = schema_status(db.engine)
    assert current == head


def test_migrating_an_existing_database_keeps_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    db = Database(url)
    migrate(db.engine)
    clock = SimulatedClock()
    with db.write() as session:
        add_person(session, "Alice", badge="A1A1A1A1", at=clock.now(), actor="test")
        session.commit()
    db.dispose()
    again = Database(url)
    migrate(again.engine)
    with again.read() as session:
        assert session.scalars(select(Person.name)).all() == ["Alice"]
        assert verify(session).ok


def test_sqlite_runs_in_wal_mode_with_durable_commits(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
