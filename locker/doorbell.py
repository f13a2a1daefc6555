"""A doorbell from the panel to the daemon: a Unix datagram that says "commands waiting".

The command itself is a row in the database; the doorbell only wakes the
daemon at once instead of at its next poll. Ringing never fails loudly: if the
daemon is not listening, it finds the command at its next poll anyway.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

#: File name of the daemon's doorbell socket in the data directory.
DOORBELL_NAME = "daemon.sock"


def doorbell_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the daemon listens for the doorbell (the one place every caller asks)."""
    return Path(data_dir) / DOORBELL_NAME


def ring(path: str | os.PathLike[str]) -> bool:
    """Wake the daemon listening at ``path``; False if nobody is listening."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"commands", str(path))
        except OSError:
            return False
    return True


class Doorbell:
    """Listens at ``path`` and calls ``on_ring`` from its own thread for each datagram."""

    def __init__(self, path: str | os.PathLike[str], on_ring: Callable[[], None]):
        self.path = Path(path)
        self.on_ring = on_ring
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock.bind(str(self.path))
        # The panel runs as another user in the same group (see systemd/).
        os.chmod(self.path, 0o660)
        self.thread = threading.Thread(target=self._listen, name="doorbell", daemon=True)

    def start(self) -> None:
        """Start listening."""
        self.thread.start()

    def _listen(self) -> None:
        while True:
            try:
                self.sock.recv(64)
            except OSError:
                return  # closed
            self.on_ring()

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
