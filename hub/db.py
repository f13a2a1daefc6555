"""The hub's PostgreSQL: engine, sessions and its own Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from locker.errors import LockerError

#: The newest of the hub's migrations (hub/migrations/versions).
HUB_HEAD_REVISION = "h0003"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class HubDatabase:
    """The hub's engine and a ``sessionmaker`` on it."""

    def __init__(self, url: str):
        if not url:
            raise LockerError("hub_server.database_url is not set in the hub's config")
        self.engine = create_engine(url, pool_pre_ping=True, pool_size=8)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits at the end of the block (rolls back on error)."""
        with self.sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        """Create the hub's schema or upgrade it; stored data is kept."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        command.upgrade(cfg, "head")

    def require_current_schema(self) -> None:
        """Refuse to serve a database that ``locker hub init`` has not migrated."""
        try:
            with self.engine.connect() as conn:
                stored = None
                if inspect(conn).has_table("hub_alembic_version"):
                    stored = conn.execute(text("SELECT version_num FROM hub_alembic_version"))
                    stored = stored.scalar()
        except OperationalError as exc:
            raise LockerError(f"cannot reach the hub's database: {exc.orig}") from None
        if stored != HUB_HEAD_REVISION:
            raise LockerError(
                f"the hub's database is at {stored or 'no schema'}, not {HUB_HEAD_REVISION}: "
                "run `locker hub init`"
            )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
