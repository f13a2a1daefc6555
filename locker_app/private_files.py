"""The files the locker keeps from other users: its config, its database and the
panel's secret key (``locker init`` and ``locker demo`` make them)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import IO

import click

from locker.config import Config

#: New directories and files of the locker: the owner and its group, nobody else
#: (the database holds names, badge UIDs and password hashes). The group is the
#: directory's (``scripts/install.sh`` makes it the shared group, setgid).
PRIVATE_DIR = 0o750
PRIVATE_FILE = 0o640


def create_new(path: str | Path, mode: int, *, binary: bool = False) -> IO:
    """Open ``path`` for writing as a new file with ``mode``; :class:`FileExistsError` if it
    is there already. Created with its mode in one step, so it is never readable wider for
    a moment, and never follows a link planted in its place."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    return os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")


def private_database(url: str) -> None:
    """Create a SQLite database file ``0640`` before SQLite would (``0644``), or take
    the world's access away from an existing one and its ``-wal``/``-shm``.

    SQLite gives its journal files the database's own mode, so they follow.
    """
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if not path.exists():
        create_new(path, PRIVATE_FILE, binary=True).close()
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            file.chmod(file.stat().st_mode & 0o7770)


def write_secret_key(config: Config) -> None:
    """Create the panel's secret key file (mode 0600) if the config names one that is missing."""
    key_file = config.web.secret_key_file
    if not key_file or Path(key_file).exists():
        return
    Path(key_file).parent.mkdir(parents=True, exist_ok=True)
    with create_new(key_file, 0o600) as out:
        out.write(secrets.token_hex(32) + "\n")
    click.echo(f"wrote a new secret key to {key_file}")
