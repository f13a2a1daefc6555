"""scripts/install.sh and scripts/uninstall.sh, run with --root into a temporary directory.

The virtualenv running these tests stands in for /opt/nursery-locker
(``--venv-from``), so nothing is pip-installed; everything else is the real
script: the files it writes under the root, and the system commands it records.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from locker.config import default_config_text, load_config, parse_config
from locker.db import Database, schema_status

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install.sh"
UNINSTALL = REPO / "scripts" / "uninstall.sh"
VENV = Path(sys.prefix)
UNITS = ("nursery-locker-daemon.service", "nursery-locker-web.service")

SYSTEM_COMMANDS = [
    "groupadd --system nursery-locker",
    "groupadd --system gpio",
    "groupadd --system spi",
    "useradd --system --gid nursery-locker --groups gpio,spi --home-dir /nonexistent "
    "--no-create-home --shell /usr/sbin/nologin --comment 'nursery-locker daemon' locker-daemon",
    "useradd --system --gid nursery-locker --home-dir /nonexistent --no-create-home "
    "--shell /usr/sbin/nologin --comment 'nursery-locker panel' locker-web",
    "chgrp nursery-locker /etc/nursery-locker",
    "chgrp nursery-locker /etc/nursery-locker/config.toml",
    "chgrp nursery-locker /var/lib/nursery-locker",
    "chown root:nursery-locker /etc/nursery-locker/secret_key",
    "chown -R locker-daemon:nursery-locker /var/lib/nursery-locker",
    "systemctl daemon-reload",
    "systemctl enable --now nursery-locker-daemon.service nursery-locker-web.service",
]


def run_script(script: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LOCKER_CONFIG"}
    done = subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def install(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    if not (VENV / "bin" / "locker").exists():
        pytest.fail(f"run the tests from the project's virtualenv: no {VENV}/bin/locker")
    return run_script(INSTALL, "--root", str(root), "--venv-from", str(VENV), *args, check=check)


def log(root: Path, name: str = "install.log") -> list[str]:
    return (root / name).read_text().splitlines()


def tree(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: its type and mode, and its content hash or link target."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                entry = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                entry = ("dir", mode)
            else:
                entry = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
            entries[str(path.relative_to(root))] = entry
    return entries


def pretend_board(root: Path, model: str) -> None:
    model_file = root / "proc" / "device-tree" / "model"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(model.encode() + b"\0")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    install(root)
    return root


def test_installs_every_file(installed):
    root = installed
    for unit in UNITS:
        path = root / "etc" / "systemd" / "system" / unit
        assert path.read_bytes() == (REPO / "systemd" / unit).read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.readlink(root / "opt" / "nursery-locker") == str(VENV)
    assert (
        os.readlink(root / "usr" / "local" / "bin" / "locker") == "/opt/nursery-locker/bin/locker"
    )

    etc = root / "etc" / "nursery-locker"
    assert stat.S_IMODE(etc.stat().st_mode) == 0o750
    config = etc / "config.toml"
    # What `locker init` writes for /etc/nursery-locker/config.toml.
    assert config.read_text() == default_config_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    parsed = parse_config(tomllib.loads(config.read_text()))
    assert parsed.data_dir == "/var/lib/nursery-locker"
    assert parsed.web.secret_key_file == "/etc/nursery-locker/secret_key"
    assert parsed.hardware.pin_factory == ""

    secret = etc / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640
    assert len(secret.read_text().strip()) == 64

    data = root / "var" / "lib" / "nursery-locker"
    assert stat.S_IMODE(data.stat().st_mode) == 0o2770
    database = data / "locker.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o660  # the daemon and the panel, no one else
    db = Database(f"sqlite:///{database}")
    current, head = schema_status(db.engine)
    db.dispose()
    assert current == head != ""


def test_records_the_system_commands_instead_of_running_them(installed):
    assert log(installed) == SYSTEM_COMMANDS


def test_writes_nothing_outside_the_root(installed):
    assert set(os.listdir(installed)) == {"etc", "opt", "usr", "var", "install.log"}


def test_second_run_changes_nothing(tmp_path):
    root = tmp_path / "root"
    install(root)
    before = tree(root)
    secret = (root / "etc" / "nursery-locker" / "secret_key").read_text()
    again = install(root)
    assert "keeping the existing /etc/nursery-locker/config.toml" in again.stdout
    assert tree(root) == before
    assert (root / "etc" / "nursery-locker" / "secret_key").read_text() == secret


def test_edited_config_is_kept(tmp_path, installed):
    root = tmp_path / "root"
    shutil.copytree(installed, root, symlinks=True)
    config = root / "etc" / "nursery-locker" / "config.toml"
    config.write_text(config.read_text().replace("Our Nursery", "Little Acorns"))
    install(root)
    assert 'site_name = "Little Acorns"' in config.read_text()


def test_existing_users_and_groups_are_not_created_again(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "group").write_text("gpio:x:997:pi\nspi:x:999:pi\nnursery-locker:x:990:\n")
    (root / "etc" / "passwd").write_text(
        "locker-daemon:x:991:990::/nonexistent:/usr/sbin/nologin\n"
        "locker-web:x:992:990::/nonexistent:/usr/sbin/nologin\n"
    )
    install(root)
    lines = log(root)
    assert not [line for line in lines if line.startswith(("groupadd", "useradd"))]
    assert lines[:2] == [
        "usermod --gid nursery-locker --append --groups gpio,spi locker-daemon",
        "usermod --gid nursery-locker locker-web",
    ]


def test_on_a_pi_5_the_config_uses_lgpio_and_rpi_lgpio_replaces_rpi_gpio(tmp_path):
    root = tmp_path / "root"
    pretend_board(root, "Raspberry Pi 5 Model B Rev 1.0")
    install(root)
    config = load_config(root / "etc" / "nursery-locker" / "config.toml")
    assert config.hardware.pin_factory == "lgpio"
    lines = log(root)
    uninstall = "/opt/nursery-locker/bin/python -m pip uninstall --quiet --yes RPi.GPIO rpi-lgpio"
    reinstall = "/opt/nursery-locker/bin/python -m pip install --quiet rpi-lgpio"
    assert lines.index(uninstall) + 1 == lines.index(reinstall)


def test_on_a_pi_4_rpi_gpio_stays(tmp_path):
    root = tmp_path / "root"
    pretend_board(root, "Raspberry Pi 4 Model B Rev 1.4")
    install(root)
    config = load_config(root / "etc" / "nursery-locker" / "config.toml")
    assert config.hardware.pin_factory == ""
    assert not [line for line in log(root) if "pip" in line]


def stub_virtualenv(root: Path) -> Path:
    """A /opt/nursery-locker under ``root`` whose pip only records its arguments.

    `pip install` links bin/locker to this virtualenv's, as a real install would
    put one there; every other use of its python is this virtualenv's python.
    """
    bin_dir = root / "opt" / "nursery-locker" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
        '  shift 2; echo "$*" >>"$(dirname "$0")/../pip.log"\n'
        f'  ln -sf {VENV}/bin/locker "$(dirname "$0")/locker"; exit 0\n'
        "fi\n"
        f'exec {VENV}/bin/python "$@"\n'
    )
    python.chmod(0o755)
    return bin_dir.parent / "pip.log"


def test_a_virtualenv_left_without_locker_is_installed_again_with_the_pi_extra(tmp_path):
    # The first install made the virtualenv and then lost the network in pip.
    root = tmp_path / "root"
    pretend_board(root, "Raspberry Pi 4 Model B Rev 1.4")
    pip_log = stub_virtualenv(root)
    done = run_script(INSTALL, "--root", str(root))
    assert "has no bin/locker (an earlier install stopped part-way)" in done.stdout
    assert pip_log.read_text().splitlines() == [f"install --quiet {REPO}[pi]"]
    assert (root / "etc" / "nursery-locker" / "config.toml").exists()

    run_script(INSTALL, "--root", str(root))  # bin/locker is there now: no pip
    assert pip_log.read_text().splitlines() == [f"install --quiet {REPO}[pi]"]


def test_the_pi_extra_that_install_sh_asks_for_exists():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    names = {req.split(">")[0].split("=")[0].lower() for req in extras["pi"]}
    assert names == {"rpi.gpio", "spidev"}
    assert not names & {req.split(">")[0].lower() for req in extras["test"]}
    assert 'PROJECT="${SRC}[pi]"' in INSTALL.read_text()


def test_without_a_running_systemd_the_units_are_enabled_but_not_started(tmp_path):
    # No --root: the real system's /run/systemd/system decides (a dry run changes nothing).
    # Where the product is installed (the arm64 check's root) its own virtualenv is used.
    installed = (
        Path("/opt/nursery-locker").is_dir() and not Path("/opt/nursery-locker").is_symlink()
    )
    venv = [] if installed else ["--venv-from", str(VENV)]
    done = run_script(INSTALL, "--dry-run", *venv)
    units = " ".join(UNITS)
    if Path("/run/systemd/system").is_dir():
        assert f"would run: systemctl enable --now {units}" in done.stdout
        assert "systemd is not running" not in done.stdout
    else:
        assert "systemd is not running here (no /run/systemd/system)" in done.stdout
        assert "would run: systemctl daemon-reload" not in done.stdout
        assert "would run: systemctl enable --now" not in done.stdout
        if shutil.which("systemctl"):
            assert done.stdout.splitlines()[-3] == f"would run: systemctl enable {units}"


def test_no_start_only_enables(tmp_path):
    root = tmp_path / "root"
    install(root, "--no-start")
    assert (
        log(root)[-1] == "systemctl enable nursery-locker-daemon.service nursery-locker-web.service"
    )


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    root = tmp_path / "root"
    done = install(root, "--dry-run")
    assert not root.exists()
    assert "would run: groupadd --system nursery-locker" in done.stdout
    assert "would run: systemctl enable --now" in done.stdout
    assert "would write the default config" in done.stdout


def test_unknown_option_is_refused(tmp_path):
    done = run_script(INSTALL, "--frobnicate", check=False)
    assert done.returncode != 0
    assert "unknown option: --frobnicate" in done.stderr


def test_uninstall_keeps_config_and_data_unless_purged(tmp_path, installed):
    root = tmp_path / "root"
    shutil.copytree(installed, root, symlinks=True)
    run_script(UNINSTALL, "--root", str(root))
    assert log(root, "uninstall.log") == [
        "systemctl disable --now nursery-locker-daemon.service nursery-locker-web.service",
        "systemctl daemon-reload",
    ]
    assert not (root / "opt" / "nursery-locker").exists()
    assert not (root / "usr" / "local" / "bin" / "locker").is_symlink()
    assert not any((root / "etc" / "systemd" / "system").iterdir())
    assert (root / "etc" / "nursery-locker" / "config.toml").exists()
    assert (root / "etc" / "nursery-locker" / "secret_key").exists()
    assert (root / "var" / "lib" / "nursery-locker" / "locker.db").exists()
    assert VENV.exists()  # the linked virtualenv itself is not touched

    run_script(UNINSTALL, "--root", str(root))  # again: nothing left to stop
    assert log(root, "uninstall.log") == []

    (root / "etc" / "passwd").write_text("locker-daemon:x:991:990::/:/bin/false\n")
    (root / "etc" / "group").write_text("nursery-locker:x:990:\n")
    run_script(UNINSTALL, "--root", str(root), "--purge")
    assert not (root / "etc" / "nursery-locker").exists()
    assert not (root / "var" / "lib" / "nursery-locker").exists()
    assert log(root, "uninstall.log") == ["userdel locker-daemon", "groupdel nursery-locker"]
