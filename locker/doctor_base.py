"""What every ``locker doctor`` check shares: its result, the machine it asks, and
the reasons a hardware check is skipped (see :mod:`locker.doctor`)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from locker.config import Config, HardwareConfig, ReaderConfig
from locker.config_pins import ExpanderConfig
from locker.db import Database
from locker.errors import HardwareError

Status = Literal["ok", "fail", "warn", "skip"]

DAEMON_UNIT = "nursery-locker-daemon"
WEB_UNIT = "nursery-locker-web"
#: Where the Raspberry Pi firmware names the board.
MODEL_FILE = "/proc/device-tree/model"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``fix`` says what to do when it is not ``ok``."""

    name: str
    status: Status
    message: str
    fix: str = ""


class BadgeReaderLike(Protocol):
    """What the doctor uses of :class:`hardware.reader.BadgeReader`."""

    def read_version(self) -> int: ...
    def close(self) -> None: ...


class Environment:
    """Everything the doctor asks of the machine; tests pass a subclass.

    The hardware hooks (pins, the reader) are the composition root's
    (:class:`locker_app.probes.MachineEnvironment`): the core imports no
    hardware library. Here they answer that there is no hardware to probe.
    """

    def run(self, cmd: Sequence[str]) -> tuple[int, str]:
        """Run ``cmd``; its exit status and stdout (127 and "" if it is not installed)."""
        try:
            done = subprocess.run(
                list(cmd), capture_output=True, text=True, timeout=10, check=False
            )
        except FileNotFoundError:
            return 127, ""
        except subprocess.TimeoutExpired:
            return 124, ""
        return done.returncode, done.stdout

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a device node, a flag file)."""
        return os.path.exists(path)

    def pi_model(self) -> str:
        """The board's model ("Raspberry Pi 4 Model B Rev 1.4"), or "" off a Pi."""
        try:
            model = Path(MODEL_FILE).read_bytes().decode("ascii", "replace").strip("\0\n ")
        except OSError:
            return ""
        return model if model.startswith("Raspberry Pi") else ""

    def is_pi(self) -> bool:
        """Whether this is a Raspberry Pi."""
        return bool(self.pi_model())

    def pin_factory(self, hardware: HardwareConfig) -> Any:
        """The gpiozero pin factory the daemon would use; raises :class:`HardwareError`.

        The core knows no hardware: ``locker doctor`` passes the machine's probes
        (:class:`locker_app.probes.MachineEnvironment`); here there are none.
        """
        raise HardwareError("no hardware probes in this environment")

    def claim_input(self, factory: Any, pin: int, *, pull_up: bool) -> str | None:
        """Claim ``pin`` as an input with the given pull and release it at once.

        Returns what the pin library warned about (RPi.GPIO: "already in use"),
        or ``None``. Raises :class:`HardwareError` if the pin cannot be claimed.
        """
        raise HardwareError(f"GPIO{pin}: no hardware probes in this environment")

    def open_reader(self, reader: ReaderConfig) -> BadgeReaderLike:
        """The real badge reader on this Pi's SPI bus (opened on first use)."""
        raise HardwareError("no hardware probes in this environment")

    def probe_expander(self, expander: ExpanderConfig) -> str | None:
        """``None`` if the MCP23017 answers at its address and reads back, else why not."""
        raise HardwareError("no hardware probes in this environment")

    def daemon_listening(self, socket_path: str) -> bool | None:
        """Whether a daemon listens on its doorbell; ``None`` when it cannot be told.

        Connecting a datagram socket sends nothing: it only succeeds while a
        process has the socket bound.
        """
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect(socket_path)
            except (FileNotFoundError, ConnectionRefusedError):
                return False
            except OSError:
                return None
        return True

    def open_database(self, url: str) -> Database:
        """The product's database at ``url``."""
        return Database(url)


def hardware_skip(env: Environment, config: Config, name: str) -> CheckResult | None:
    """A skip for a hardware check on a simulated backend or off a Pi; None to go on."""
    if config.hardware.backend != "gpio":
        return CheckResult(name, "skip", "simulated backend: no hardware to check")
    if not env.is_pi():
        return CheckResult(name, "skip", "not a Raspberry Pi: cannot check it here")
    return None


def daemon_skip(name: str, running: bool | None, what: str) -> CheckResult | None:
    """A skip for a check that would touch what the daemon owns while it (may) run."""
    if running is None:
        return CheckResult(
            name,
            "skip",
            f"cannot tell whether the daemon is running, so {what} are left alone; run as root",
        )
    if running:
        return CheckResult(
            name,
            "skip",
            f"the daemon is running and owns {what}; to check them: "
            f"sudo systemctl stop {DAEMON_UNIT}, run the doctor, then start it again",
        )
    return None
