"""The nightly check of the whole log, in its own process at the lowest priority.

A million events take seconds of CPU here and 5-10 times that on a Pi; on a
thread of the daemon they would compete with the reader and the locks for the
interpreter lock. So the daemon starts ``locker log verify --json`` as a child
process (which lowers its own priority where the system allows it) and asks
:meth:`ProcessLogCheck.done` as its loop goes round; only the daemon appends the
result (``log.verified``) to the chain.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

from locker.config import Config
from locker.log import VerifyReport


class ProcessLogCheck:
    """``locker log verify --json`` as a child process; the daemon's ``LogCheck``."""

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
            + ["log", "verify", "--json"],
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
