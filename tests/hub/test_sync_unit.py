"""The sync worker's systemd unit: its own process, sandboxed, accepted by systemd."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "nursery-locker-hub-sync.service"


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_sync_unit_runs_the_worker_unprivileged_and_sandboxed():
    unit = settings()
    assert unit["ExecStart"] == ["/opt/nursery-locker/bin/locker hub sync"]
    assert unit["User"] == ["locker-web"]
    assert unit["CapabilityBoundingSet"] == [""]
    assert unit["PrivateDevices"] == ["yes"]  # it never touches a pin
    assert unit["ProtectSystem"] == ["strict"]
    assert "Requires" not in unit and "BindsTo" not in unit  # the daemon never waits on it


def test_systemd_accepts_the_sync_unit(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: scripts/test installs Debian's systemd")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/nursery-locker/bin/locker", "/bin/true"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    problems = [
        line for line in done.stderr.splitlines() if UNIT.name in line and "/bin/true" not in line
    ]
    assert problems == [], done.stderr
