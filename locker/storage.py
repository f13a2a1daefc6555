"""Storage faults: what the daemon notices about its database, and keeps while it fails.

A Pi's database lives on an SD card that fills up, wears out, or gets edited
by a person in a hurry. The daemon must never stop silently for it and never
open a slot it cannot log. So it watches for:

- a write that fails (disk full, the database locked too long, an I/O error);
- the database file deleted or replaced under it (:class:`FileIdentity`):
  SQLite would go on writing into the unlinked file, and every record would
  be lost when the daemon stops;
- a corrupted file (:func:`quick_check`, at start and nightly).

While storage fails, the daemon keeps every lock safe, refuses badges with
their own light pattern, and keeps what happened in a bounded
:class:`StorageFault` (and in the journal) to write to the log, marked as
recorded late, once storage is back.
"""

from __future__ import annotations

import os
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from locker.clock import Instant

#: What a failing database raises: through SQLAlchemy (OperationalError included),
#: or the driver's own error when it comes from opening a connection.
STORAGE_ERRORS = (DatabaseError, sqlite3.DatabaseError)
#: Inputs kept while storage fails; older ones are dropped (and counted) past this.
BUFFER_LIMIT = 1000


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for another database (or in memory)."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return None
    path = url.removeprefix("sqlite:///")
    if path.startswith("file:"):
        path = path.removeprefix("file:").split("?", 1)[0]
    return Path(path)


@dataclass(frozen=True)
class FileIdentity:
    """The device and inode of the database file the daemon opened."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        """The identity of the file at ``path`` now, or None if there is none."""
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(path, stat.st_dev, stat.st_ino)

    def problem(self) -> str | None:
        """Why the file at the path is no longer this one, or None while it is.

        One ``stat`` call: cheap enough for every pass of the loop.
        """
        now = FileIdentity.of(self.path)
        if now is None:
            return f"the database file {self.path} was deleted while the daemon had it open"
        if (now.device, now.inode) != (self.device, self.inode):
            return f"the database file {self.path} was replaced by another file"
        return None


def quick_check(engine: Engine) -> str | None:
    """SQLite's ``PRAGMA quick_check``: None if the file is sound, else what it found."""
    if engine.dialect.name != "sqlite":
        return None
    try:
        with engine.connect() as conn:
            rows = [r[0] for r in conn.execute(text("PRAGMA quick_check")).fetchall()]
    except STORAGE_ERRORS as exc:
        return f"the database cannot be read: {getattr(exc, 'orig', None) or exc}"
    if rows == ["ok"]:
        return None
    return "the database file is damaged: " + "; ".join(map(str, rows[:3]))


@dataclass
class StorageFault:
    """A storage fault in progress, and the inputs that happened during it."""

    #: What went wrong, in words (the database's own error message).
    error: str
    #: When it began: the controller's time (for the log) and real time.
    since: datetime
    real_since: datetime
    #: The file was deleted or replaced: only a restart can open the right one.
    file_lost: bool = False
    #: The controller could not even start (its state is not loaded).
    before_start: bool = False
    #: SQLite's quick check found the file damaged: it must pass again first.
    damaged: bool = False
    #: Inputs that happened meanwhile, oldest first, with when they happened.
    inputs: deque[tuple[Instant, object]] = field(
        default_factory=lambda: deque(maxlen=BUFFER_LIMIT)
    )
    #: Inputs dropped because the buffer was full.
    dropped: int = 0
    #: Badges refused while it lasted.
    badges_refused: int = 0
    #: The ``storage`` alert has been written (it is written once, at the first chance).
    alerted: bool = False

    def keep(self, at: Instant, event: object) -> None:
        """Keep ``event`` for the log; the oldest goes once the buffer is full."""
        if len(self.inputs) == self.inputs.maxlen:
            self.dropped += 1
        self.inputs.append((at, event))
