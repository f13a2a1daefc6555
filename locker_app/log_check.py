"""The nightly check of the whole log, in its own process at the lowest priority.

A million events take seconds of CPU here and 5-10 times that on a Pi; on a
thread of the daemon they would compete with the reader and the locks for the
interpreter lock. So the daemon starts ``locker log verify --json --incremental``
(the chain from the last verified checkpoint, the whole of it every 7th night) as a child
process (which lowers its own priority where the system allows it) and asks
:meth:`ProcessLogCheck.done` as its loop goes round; only the daemon appends the
result (``log.verified``) to the chain.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import subprocess
import sys
from datetime import datetime

from locker.config import Config
from locker.log import VerifyReport

#: ``ioprio_set`` / ``ioprio_get`` system call numbers by machine (Python has no
#: wrapper for them): x86-64, 64-bit Raspberry Pi OS, 32-bit Raspberry Pi OS.
IOPRIO_SYSCALLS = {
    "x86_64": (251, 252),
    "aarch64": (30, 31),
    "armv7l": (314, 315),
    "armv6l": (314, 315),
}
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_IDLE = 3
IOPRIO_CLASS_SHIFT = 13


def lower_priority() -> dict[str, bool]:
    """Give the calling process the lowest CPU and I/O priority; what took effect.

    The nightly check reads the whole database: at nice 19 it gives way to the
    reader and the locks for the CPU, in the idle I/O class to their reads and
    writes of the SD card. Lowering one's own priority needs no privilege (the
    daemon's unit allows just these two calls); where the system refuses, the
    check still runs, at normal priority.
    """
    done = {"nice": False, "io_idle": False}
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
        done["nice"] = os.getpriority(os.PRIO_PROCESS, 0) == 19
    value = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT
    if _ioprio(0, IOPRIO_WHO_PROCESS, 0, value) == 0:
        done["io_idle"] = io_priority_class() == IOPRIO_CLASS_IDLE
    return done


def io_priority_class(pid: int = 0) -> int | None:
    """The I/O scheduling class of ``pid`` (0: this process), or None where unknown."""
    value = _ioprio(1, IOPRIO_WHO_PROCESS, pid)
    return None if value is None or value < 0 else value >> IOPRIO_CLASS_SHIFT


def _ioprio(which: int, *args: int) -> int | None:
    """``ioprio_set`` (``which`` 0) or ``ioprio_get`` (1); None on a machine not in the table."""
    numbers = IOPRIO_SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    return ctypes.CDLL(None, use_errno=True).syscall(numbers[which], *args)


class ProcessLogCheck:
    """``locker log verify --json --incremental`` as a child process; the daemon's
    ``LogCheck``."""

    def __init__(self, config: Config, started: datetime):
        self.config = config
        #: When the verification was asked for (the controller's time).
        self.started = started
        #: What SQLite's quick check found wrong with the file (None: sound), once done.
        self.integrity: str | None = None
        self.process: subprocess.Popen[str] | None = None
        self._report: VerifyReport | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the child; returns at once."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "locker_app", "--config", self.config.path]
            + ["log", "verify", "--json", "--incremental"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def done(self) -> bool:
        """The child has ended (with a report or an error); never waits."""
        if self.process.poll() is None:
            return False
        if self._report is None and self._error is None:
            self._read()
        return True

    def result(self) -> VerifyReport:
        """What the walk found (raises what stopped it); only once :meth:`done`."""
        if self._error is not None:
            raise self._error
        return self._report

    def join(self, timeout: float | None = None) -> None:
        """Wait for the child to end (tests, and a caller with time to spare)."""
        self.process.wait(timeout)
        self.done()

    def _read(self) -> None:
        out, err = self.process.communicate()
        try:
            data = json.loads(out.strip().splitlines()[-1])
            self.integrity = data.pop("integrity")
            self._report = VerifyReport(**data)
        except (IndexError, ValueError, TypeError, KeyError):
            reason = (err.strip().splitlines() or ["no output"])[-1]
            self._error = RuntimeError(
                f"the log check ended with {self.process.returncode}: {reason}"
            )
