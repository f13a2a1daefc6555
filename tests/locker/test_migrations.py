"""Migrations: the models match them, and migrating again loses nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from locker.clock import SimulatedClock
from locker.db import (
    HEAD_REVISION,
    Database,
    alembic_config,
    migrate,
    require_current_schema,
    schema_status,
)
from locker.errors import LockerError
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


def test_the_head_revision_constant_is_alembics_head(tmp_path):
    # require_current_schema checks against the constant so the daemon need
    # not load Alembic; a new migration must move it too.
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    script = ScriptDirectory.from_config(alembic_config(db.engine))
    assert script.get_heads() == [HEAD_REVISION]
    migrate(db.engine)
    assert schema_status(db.engine) == (HEAD_REVISION, HEAD_REVISION)


def test_require_current_schema_reads_the_stored_revision(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'e.db'}")
    with pytest.raises(LockerError, match="has no schema, not .*run `locker init`"):
        require_current_schema(db.engine)
    migrate(db.engine)
    require_current_schema(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(LockerError, match="is at revision 0000, not " + HEAD_REVISION):
        require_current_schema(db.engine)


def test_checking_the_schema_does_not_load_alembic(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'f.db'}")
    migrate(db.engine)
    code = (
        "import sys\n"
        "import locker_app.service, locker_app.cli, locker.daemon\n"
        "from locker.db import Database, require_current_schema\n"
        f"require_current_schema(Database({db.url!r}).engine)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
