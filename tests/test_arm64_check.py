"""scripts/arm64-check: its syntax and its dry run, so the long check cannot rot unseen.

The real check (a Debian arm64 root, a chroot install, an emulated boot) takes about
a quarter of an hour and gigabytes, so CI runs only this; the README has the last
real run's summary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "scripts" / "arm64-check"
#: What the dry run may use: a fresh Debian machine has these, and none of the check's tools.
BASIC_TOOLS = ("awk", "cut", "date", "dirname", "git", "grep", "head", "id", "sha256sum", "sort")
#: The Debian packages of the check's own tools.
HOST_PACKAGES = "binfmt-support debootstrap e2fsprogs qemu-system-arm qemu-user-static zstd"


def offline() -> list[str]:
    """A prefix that runs a command without a network, so a dry run cannot reach one."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        pytest.fail("these tests run as root with unshare, to cut the dry run off the network")
    return [unshare, "--net"]


def dry_run(tmp_path: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARM64_CHECK")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [
            *offline(),
            shutil.which("bash"),
            str(CHECK),
            "--dry-run",
            "--cache-dir",
            str(tmp_path / "cache"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def fresh_machine(tmp_path: Path) -> str:
    """A PATH with only the basic tools: no qemu, debootstrap, mkfs.ext4 or zstd."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "xargs", *BASIC_TOOLS):
        found = shutil.which(tool)
        assert found, f"no {tool} on this machine"
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_the_script_parses():
    done = subprocess.run(["bash", "-n", str(CHECK)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert os.access(CHECK, os.X_OK)


def test_dry_run_on_a_fresh_machine_says_what_it_would_install_and_builds_nothing(tmp_path):
    done = dry_run(tmp_path, path=fresh_machine(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"would install from Debian: {HOST_PACKAGES}" in done.stdout
    assert re.search(
        r"would build the root: debootstrap --foreign --arch=arm64 .*bookworm", done.stdout
    )
    assert "qemu-system-aarch64 -M virt -cpu max" in done.stdout
    assert "pytest --ignore=tests/browser" in done.stdout
    assert not (tmp_path / "cache").exists()


def test_dry_run_finds_a_cached_root_by_its_recipe(tmp_path):
    first = dry_run(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    tarball = re.search(r"cached as (\S+\.tar\.zst)", first.stdout)
    assert tarball, first.stdout
    assert Path(tarball[1]).parent == tmp_path / "cache"
    Path(tarball[1]).parent.mkdir()
    Path(tarball[1]).touch()

    again = dry_run(tmp_path, "--no-tests")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"root: cached in {tarball[1]}" in again.stdout
    assert "would build the root" not in again.stdout
    assert "--ignore=tests/browser" not in again.stdout


def test_the_mirror_comes_from_the_apt_sources_or_the_command_line(tmp_path):
    done = dry_run(tmp_path, "--mirror", "http://mirror.invalid/debian")
    assert "from http://mirror.invalid/debian," in done.stdout


def test_unknown_option_is_refused(tmp_path):
    done = dry_run(tmp_path, "--frobnicate")
    assert done.returncode != 0
    assert "unknown option: --frobnicate" in done.stderr
