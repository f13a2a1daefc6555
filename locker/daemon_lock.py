"""One daemon per database: an exclusive lock on a file in the data directory.

Two daemons on one database would both drive the same pins and both append
to the log from their own idea of the slots. ``flock`` is released by the
kernel when the process ends however it ends (a SIGKILL included), so a
crashed daemon never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from locker.errors import LockerError

FILE_NAME = "daemon.lock"


class AlreadyRunning(LockerError, RuntimeError):
    """Another daemon holds the lock on this data directory."""


class DaemonLock:
    """Holds ``data_dir/daemon.lock`` for as long as the daemon runs."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.path = Path(data_dir) / FILE_NAME
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunning` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another locker daemon (pid {holder}) is already running on {self.path.parent}; "
                "stop it first (systemctl stop nursery-locker-daemon)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        """Let go of the lock (the kernel does it anyway when the process ends)."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
