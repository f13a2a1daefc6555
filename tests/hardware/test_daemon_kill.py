"""SIGKILL the daemon mid-day and restart it: no lock is driven open by the
restart, and the stored state matches the sensors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hardware.sim_world import SimulatedWorld
from locker.db import Database
from locker.doorbell import doorbell_path, ring
from locker.live_status import read_live_status, status_path
from locker.log import verify
from locker.models import Command, Slot

LOCKER = str(Path(sys.executable).parent / "locker")
ALICE = "A1A1A1A1"


class Site:
    """A simulated site in a directory, with a daemon process that can be killed."""

    def __init__(self, root: Path):
        self.root = root
        self.env = {**os.environ, "LOCKER_CONFIG": str(root / "config.toml")}
        self.cli("init")
        config = (root / "config.toml").read_text()
        config = config.replace(
            'backend = "gpio"', 'backend = "simulated"\nsim_start = "2026-01-05T07:55:00"', 1
        )
        (root / "config.toml").write_text(config)
        self.cli("staff", "add", "Alice", "--badge", ALICE)
        self.db = Database(f"sqlite:///{root / 'locker.db'}")
        self.process: subprocess.Popen | None = None

    def cli(self, *args: str) -> None:
        subprocess.run([LOCKER, *args], env=self.env, check=True, capture_output=True)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [LOCKER, "daemon"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.wait(self.running, "the daemon to start")
        # A card tapped in the reader's first polls after a start counts as left there.
        time.sleep(0.4)

    def running(self) -> bool:
        status = read_live_status(status_path(self.root))
        return status is not None and status.get("pid") == self.process.pid

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process.stderr.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process.stderr.close()

    def command(self, kind: str, **payload) -> None:
        with self.db.write() as session:
            row = Command(
                kind=kind,
                payload=payload,
                account="test",
                created_at=datetime.now(UTC),
                requested_at=datetime.now(UTC),
            )
            session.add(row)
            session.commit()
            command_id = row.id
        ring(doorbell_path(self.root))
        self.wait(lambda: self.status_of(command_id) == "done", f"command {kind}")

    def status_of(self, command_id: int) -> str:
        with self.db.read() as session:
            return session.get(Command, command_id).status

    def slot(self, number: int) -> Slot:
        with self.db.read() as session:
            return session.get(Slot, number)

    def wait(self, condition, what: str, timeout: float = 120.0) -> None:
        # Generous: only a failure waits this long, and an emulated Pi is slow.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"daemon died: {self.process.stderr.read().decode()}")
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def world(self) -> SimulatedWorld:
        return SimulatedWorld(self.root / "sim_world.json")


@pytest.fixture
def site(tmp_path):
    site = Site(tmp_path)
    yield site
    site.stop()
    site.db.dispose()


def matches_sensors(site: Site) -> bool:
    world = site.world()
    for number in (1, 2, 3, 4):
        row, physical = site.slot(number), world.slot(number)
        if (row.door_open, row.device_present) != (physical.door_open, physical.device_present):
            return False
    return True


@pytest.mark.parametrize("moment", ["door_open_device_in", "held", "door_shut_while_down"])
def test_sigkill_and_restart_never_unlocks(site, moment):
    site.start()
    site.command("sim_badge", uid=ALICE)
    site.wait(lambda: site.slot(1).state == "open_for_deposit", "the slot to open")
    site.command("sim_slot", slot=1, device=True)
    if moment == "held":
        site.command("sim_slot", slot=1, door="closed")
        site.wait(lambda: site.slot(1).state == "held", "the deposit")
    site.kill()
    if moment == "door_shut_while_down":
        world = site.world()
        world.set_door(1, False)  # somebody shut the door while the daemon was down
    unlocks_before = site.world().slot(1).unlock_count
    assert unlocks_before == 1

    site.start()
    site.wait(lambda: matches_sensors(site), "the state to match the sensors")
    # A barrier, not a guess at its speed: the daemon answers a command only after
    # its start (the reconciliation) and a whole pass of its loop.
    site.command("reload")
    assert site.world().slot(1).unlock_count == unlocks_before
    row = site.slot(1)
    expected = "open_for_deposit" if moment == "door_open_device_in" else "held"
    assert row.state == expected
    with site.db.read() as session:
        assert verify(session).ok
