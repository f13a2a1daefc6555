"""Engines, sessions and migrations for the one database the daemon, panel and CLI share.

Alembic is imported only by the functions that migrate or inspect the
migrations: it would add about 11 MB to the daemon, which only needs to know
that the schema is current (:data:`HEAD_REVISION`).
"""

from __future__ import annotations

import sqlite3
from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import sessionmaker

from locker.errors import LockerError
from locker.storage import sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

#: The newest migration in ``migrations/versions``. A new migration changes it
#: too (``tests/locker/test_migrations.py`` holds it to Alembic's own head).
HEAD_REVISION = "0008"


#: Seconds a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 15.0


def make_engine(url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S, create: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL, durable commits and foreign keys.

    On SQLite the driver's own transaction handling is switched off and
    SQLAlchemy's ``begin`` emits ``BEGIN``, or ``BEGIN IMMEDIATE`` on a
    connection with the ``immediate`` execution option, so a writer takes the
    write lock before it reads the head of the log chain.

    With ``create=False`` a missing SQLite file is an error instead of a new,
    empty database: the daemon and the panel must never paper over a deleted
    database with a blank one (only ``locker init`` creates it).
    """
    path = sqlite_path(url)
    if path is not None:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            url = f"sqlite:///file:{path}?mode=rw&uri=true"
    engine = create_engine(url, connect_args=_connect_args(url, busy_timeout_s))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _connect_args(url: str, busy_timeout_s: float) -> dict[str, object]:
    # The daemon and the panel are separate processes; a writer waits for the
    # other rather than failing at once.
    return {"timeout": busy_timeout_s} if url.startswith("sqlite") else {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives a power cut, which a Pi on a nursery's socket will see.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn) -> None:
    immediate = conn.get_execution_options().get("immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """The engine and two session factories: ``read()`` and ``write()``.

    ``write()`` sessions take the write lock at their first statement, so two
    processes appending to the log never both build on the same head.
    """

    def __init__(self, url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S, create: bool = True):
        self.url = url
        #: The SQLite file, or None for another database.
        self.path = sqlite_path(url)
        self.engine = make_engine(url, busy_timeout_s=busy_timeout_s, create=create)
        self.read = sessionmaker(self.engine, expire_on_commit=False)
        self.write = sessionmaker(
            self.engine.execution_options(immediate=True), expire_on_commit=False
        )

    def can_write(self, timeout_s: float) -> bool:
        """Whether the write lock can be had within ``timeout_s`` (taken and given back).

        The daemon asks this before it retries after a storage fault, so a
        database another process keeps locked costs its loop a fraction of a
        second per try, not the full busy timeout. (Disk space is only found
        missing by a real write.)
        """
        if self.engine.dialect.name != "sqlite":
            return True
        try:
            raw = self.engine.raw_connection()
        except (DatabaseError, sqlite3.DatabaseError):
            return False  # missing, unreadable or damaged: no write would do
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError:
                return False
            cursor.execute("ROLLBACK")
            return True
        finally:
            raw.close()  # the pool resets its busy timeout on the next connect

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic config pointing at the packaged migrations and at ``engine``."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("nursery_locker_migrations")))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Create the schema or upgrade it to the newest migration; stored data is kept."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def schema_status(engine: Engine) -> tuple[str | None, str]:
    """``(current revision, head revision)`` of the database, as Alembic sees them."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head or ""


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database's ``alembic_version`` table, without Alembic."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        revisions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(revisions)) or None


def require_current_schema(engine: Engine) -> None:
    """Refuse to run on a database that is missing or not migrated to :data:`HEAD_REVISION`."""
    try:
        current, head = stored_revision(engine), HEAD_REVISION
    except OperationalError as exc:
        raise LockerError(
            f"cannot open the database {engine.url.database}: {exc.orig}; "
            "run `locker init` to create it"
        ) from None
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}"
        raise LockerError(f"the database {state}, not {head}: run `locker init` to migrate it")
