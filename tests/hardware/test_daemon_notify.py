"""systemd's notify protocol: READY=1 once the hardware is up, WATCHDOG=1 only while healthy."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from locker.db import Database
from locker.doorbell import ring
from locker.models import Command

LOCKER = str(Path(sys.executable).parent / "locker")


def test_ready_then_keep_alives_that_stop_when_the_reader_stops(tmp_path):
    env = {**os.environ, "LOCKER_CONFIG": str(tmp_path / "config.toml")}
    subprocess.run([LOCKER, "init"], env=env, check=True, capture_output=True)
    config = (tmp_path / "config.toml").read_text()
    config = config.replace('backend = "gpio"', 'backend = "simulated"', 1)
    config = config.replace("health_check_s = 5.0", "health_check_s = 0.5", 1)
    (tmp_path / "config.toml").write_text(config)

    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(0.2)
    env.update(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="200000")  # pet every 0.1 s
    daemon = subprocess.Popen([LOCKER, "daemon"], env=env, stderr=subprocess.DEVNULL)
    messages: list[tuple[float, str]] = []

    def listen(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(TimeoutError):
                messages.append((time.monotonic(), sock.recv(256).decode()))

    try:
        listen(3.0)
        said = [m for _, m in messages]
        assert said[0] == "READY=1"
        assert said.count("WATCHDOG=1") >= 5

        db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
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
        ring(tmp_path / "daemon.sock")
        listen(1.5)  # the next health check notices
        messages.clear()
        listen(1.5)
        assert "WATCHDOG=1" not in [m for _, m in messages]
        db.dispose()
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        sock.close()
    assert daemon.returncode == 0
