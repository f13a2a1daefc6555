"""The systemd units: systemd accepts them, and the sandbox and the watchdog are there."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from locker.config import DEFAULT_CONFIG_PATH, default_config_text, parse_config
from locker.doorbell import doorbell_path
from locker_app.cli import main
from locker_app.service import watchdog_interval

UNIT_DIR = Path(__file__).resolve().parents[1] / "systemd"
DAEMON = "nursery-locker-daemon.service"
WEB = "nursery-locker-web.service"
DATA_DIR = "/var/lib/nursery-locker"
LOCKER = "/opt/nursery-locker/bin/locker"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values in order]}}``; repeated keys (DeviceAllow=) keep every value."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {line!r} outside a section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def daemon() -> dict[str, list[str]]:
    return parse_unit(UNIT_DIR / DAEMON)["Service"]


@pytest.fixture(scope="module")
def web() -> dict[str, list[str]]:
    return parse_unit(UNIT_DIR / WEB)["Service"]


def one(service: dict[str, list[str]], key: str) -> str:
    values = service.get(key, [])
    assert len(values) == 1, f"{key}= appears {len(values)} times"
    return values[0]


# ------------------------------------------------------------ systemd-analyze


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: install Debian's systemd package")
    return tool


def staged_units(tmp_path: Path, edit=lambda text: text) -> list[Path]:
    """Copies of the units whose ExecStart= names an executable that exists here.

    ``systemd-analyze verify`` refuses a unit whose command is missing, and
    /opt/nursery-locker is only there on an installed Pi.
    """
    stand_in = tmp_path / "locker"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    staged = []
    for name in (DAEMON, WEB):
        text = (UNIT_DIR / name).read_text()
        assert LOCKER in text
        target = tmp_path / name
        target.write_text(edit(text.replace(LOCKER, str(stand_in))))
        staged.append(target)
    return staged


def verify(units: list[Path]) -> tuple[int, list[str]]:
    """Exit status of ``systemd-analyze verify`` and what it said about our units."""
    done = subprocess.run(
        [systemd_analyze(), "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Only lines about our units: the host's own units may have complaints.
    said = [line for line in (done.stdout + done.stderr).splitlines() if "nursery-locker" in line]
    return done.returncode, said


def test_systemd_analyze_verify_accepts_both_units(tmp_path):
    rc, said = verify(staged_units(tmp_path))
    assert rc == 0 and said == []


def test_verify_would_catch_a_mistake(tmp_path):
    # systemd ignores a bad line with a warning and carries on; the test above
    # must see those warnings, so check it does.
    def typo(text: str) -> str:
        return text.replace("DeviceAllow=char-spi rw", "DeviceAllow=char-spi rwx")

    _rc, said = verify(staged_units(tmp_path, typo))
    assert any("Invalid device rights 'rwx'" in line for line in said), said


@pytest.mark.parametrize(("unit", "limit"), [(DAEMON, 1.0), (WEB, 2.0)])
def test_exposure_stays_low(tmp_path, unit, limit):
    units = {path.name: path for path in staged_units(tmp_path)}
    done = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", str(units[unit])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found[1]) <= limit


# ------------------------------------------------------------------ contents

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "RestrictRealtime": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "UMask": "0007",
    "Group": "nursery-locker",
    "Restart": "on-failure",
    "KillSignal": "SIGTERM",
}


@pytest.mark.parametrize("unit", [DAEMON, WEB])
def test_both_units_are_sandboxed(unit):
    service = parse_unit(UNIT_DIR / unit)["Service"]
    for key, value in HARDENING.items():
        assert one(service, key) == value, key
    assert "RestartSec" in service and "TimeoutStopSec" in service
    assert f"LOCKER_CONFIG={DEFAULT_CONFIG_PATH}" in service["Environment"]
    assert parse_unit(UNIT_DIR / unit)["Install"]["WantedBy"] == ["multi-user.target"]


def test_daemon_unit(daemon):
    assert one(daemon, "ExecStart") == f"{LOCKER} daemon"
    # After any end of the daemon, every lock pin is driven safe (tests/reliability
    # test_fail_secure.py runs the command after a SIGKILL mid-pulse).
    assert one(daemon, "ExecStopPost") == f"{LOCKER} safe-locks"
    assert one(daemon, "User") == "locker-daemon"
    assert one(daemon, "SupplementaryGroups").split() == ["gpio", "spi"]
    assert one(daemon, "Type") == "notify"
    assert one(daemon, "NotifyAccess") == "main"
    assert one(daemon, "WatchdogSec") == "30s"
    # No network at all.
    assert one(daemon, "PrivateNetwork") == "yes"
    assert one(daemon, "RestrictAddressFamilies") == "AF_UNIX"
    # Devices: refused, but for GPIO and SPI.
    assert one(daemon, "PrivateDevices") == "no"
    assert one(daemon, "DevicePolicy") == "closed"
    assert daemon["DeviceAllow"] == ["char-gpiochip rw", "char-*gpiomem* rw", "char-spi rw"]


def test_daemon_may_lower_its_childrens_priority_and_nothing_more(daemon):
    # The allow-list, then what it takes away (priorities, limits, identities),
    # then the two calls the nightly log check needs to lower its own CPU and
    # I/O priority given back. Order matters: systemd applies them in turn.
    assert daemon["SystemCallFilter"] == [
        "@system-service",
        "~@privileged @resources",
        "setpriority ioprio_set",
    ]
    # Lowering is all it can do: raising a priority needs CAP_SYS_NICE.
    assert one(daemon, "CapabilityBoundingSet") == ""
    assert one(daemon, "NoNewPrivileges") == "yes"


def test_web_unit(web):
    assert one(web, "ExecStart") == f"{LOCKER} web"
    assert one(web, "User") == "locker-web"
    assert "SupplementaryGroups" not in web
    assert one(web, "PrivateDevices") == "yes"
    assert "DeviceAllow" not in web
    assert set(one(web, "RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_the_panel_does_not_depend_on_the_daemon():
    unit = parse_unit(UNIT_DIR / WEB)["Unit"]
    for key in ("Requires", "Wants", "BindsTo", "Requisite", "PartOf", "After"):
        assert all("nursery-locker-daemon" not in value for value in unit.get(key, [])), key


def test_writable_places(daemon, web):
    # The daemon: its state directory (database, doorbell) and a runtime
    # directory in /run for lgpio's notification FIFOs; the panel: the state
    # directory only, which the daemon's unit owns.
    assert one(daemon, "StateDirectory") == "nursery-locker"
    assert one(daemon, "StateDirectoryMode") == "2770"
    assert one(daemon, "RuntimeDirectory") == "nursery-locker"
    assert one(daemon, "WorkingDirectory") == "/run/nursery-locker"
    assert "ReadWritePaths" not in daemon
    assert web["ReadWritePaths"] == [DATA_DIR]
    for key in ("StateDirectory", "RuntimeDirectory", "CacheDirectory", "LogsDirectory"):
        assert key not in web


def test_units_match_the_code(daemon, monkeypatch):
    config = parse_config(tomllib.loads(default_config_text()))
    # The doorbell the panel rings lives in the directory both may write.
    assert doorbell_path(config.data_dir) == Path(DATA_DIR) / "daemon.sock"
    assert config.data_dir == f"/var/lib/{one(daemon, 'StateDirectory')}"
    # The daemon pings at half WatchdogSec: well inside it.
    monkeypatch.setenv("WATCHDOG_USEC", str(30 * 1_000_000))
    assert watchdog_interval() == 15
    assert {"daemon", "web"} <= set(main.commands)
