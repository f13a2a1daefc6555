"""systemd's notify protocol: READY=1 once the hardware is up, WATCHDOG=1 only while healthy.

Nothing here depends on how fast the machine is: each step waits for the event it
needs (a message, the daemon's heartbeat row) with a generous deadline, and the
only fixed wait is a silence that a healthy daemon could not keep.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from locker.db import Database
from locker.doorbell import doorbell_path, ring
from locker.live_status import read_live_status, status_path
from locker.models import Command

LOCKER = str(Path(sys.executable).parent / "locker")
#: How long any one step may take on a slow or busy machine (an emulated Pi included).
PATIENCE_S = 120.0
WATCHDOG_USEC = 200_000  # the daemon pets every 0.1 s


class NotifySocket:
    """The datagram socket systemd listens on, as a test sees it."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)

    def next(self) -> str | None:
        """The next message, or None if none came within 0.2 s."""
        with contextlib.suppress(TimeoutError):
            return self.sock.recv(256).decode()
        return None

    def wait_for(self, done: Callable[[list[str]], bool]) -> list[str]:
        """Messages until ``done(messages)``; fails after PATIENCE_S."""
        said: list[str] = []
        end = time.monotonic() + PATIENCE_S
        while not done(said):
            assert time.monotonic() < end, f"gave up waiting; the daemon said {said}"
            message = self.next()
            if message is not None:
                said.append(message)
        return said

    def drain(self) -> list[str]:
        """Whatever is queued already."""
        said = []
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                said.append(self.sock.recv(256).decode())
        self.sock.settimeout(0.2)
        return said

    def listen(self, seconds: float) -> list[str]:
        """Every message for ``seconds``."""
        said = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            message = self.next()
            if message is not None:
                said.append(message)
        return said

    def close(self) -> None:
        self.sock.close()


def reader_ok(data_dir: Path) -> bool | None:
    """What the daemon's last heartbeat said about the reader (None before the first)."""
    status = read_live_status(status_path(data_dir))
    return None if status is None else status.get("reader_ok")


def test_ready_then_keep_alives_that_stop_when_the_reader_stops(tmp_path):
    env = {**os.environ, "LOCKER_CONFIG": str(tmp_path / "config.toml")}
    subprocess.run([LOCKER, "init"], env=env, check=True, capture_output=True)
    config = (tmp_path / "config.toml").read_text()
    config = config.replace('backend = "gpio"', 'backend = "simulated"', 1)
    config = config.replace("health_check_s = 5.0", "health_check_s = 0.5", 1)
    (tmp_path / "config.toml").write_text(config)

    notify = NotifySocket(tmp_path / "notify.sock")
    env.update(NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC=str(WATCHDOG_USEC))
    daemon = subprocess.Popen([LOCKER, "daemon"], env=env, stderr=subprocess.DEVNULL)
    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    try:
        said = notify.wait_for(lambda said: said.count("WATCHDOG=1") >= 5)
        assert said[0] == "READY=1", said
        assert set(said) == {"READY=1", "WATCHDOG=1"}, said

        with db.write() as session:
            session.add(
                Command(
                    kind="sim_reader",
                    payload={"fail": "silent_chip"},
                    account="test",
                    created_at=datetime.now(UTC),
                )
            )
            session.commit()
        ring(doorbell_path(tmp_path))
        # Once a heartbeat says the reader is down the daemon has stopped petting
        # (both follow the reader's health), and every pet it sent before is queued.
        end = time.monotonic() + PATIENCE_S
        while reader_ok(tmp_path) is not False:
            assert time.monotonic() < end, "the daemon never noticed the silent reader"
            notify.listen(0.2)
        notify.drain()
        # 2 s is twenty pets' worth: a daemon still petting could not stay this quiet.
        assert "WATCHDOG=1" not in notify.listen(2.0)
        assert daemon.poll() is None, "the daemon exited instead of waiting to be restarted"
    finally:
        db.dispose()
        daemon.terminate()
        daemon.wait(timeout=PATIENCE_S)
        notify.close()
    assert daemon.returncode == 0
