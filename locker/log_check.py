"""The nightly whole-log check on a thread of the daemon's process, and what the
loop needs of any check (:class:`LogCheck`).

The installed daemon runs the check in a child process instead
(``locker_app.log_check``): at a million events a thread would hold the
interpreter's lock, which the badges' path needs, for seconds.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol

from locker.db import Database
from locker.log import VerifyReport, verify_since_checkpoint
from locker.storage import quick_check


class LogCheck(Protocol):
    """A check of the whole log under way (a thread here, a process in production)."""

    started: datetime
    #: What SQLite's quick check found wrong with the file (None: sound), once done.
    integrity: str | None

    def start(self) -> None: ...
    def done(self) -> bool: ...
    def result(self) -> VerifyReport: ...


class WholeLogVerification:
    """The nightly check (:func:`locker.log.verify_since_checkpoint`) on a thread with its
    own read session.

    On a Pi a million events take about half a minute, which the loop (it
    pets the watchdog and answers badges) must not wait for; SQLite in WAL
    mode lets this reader walk the chain while the loop goes on writing. The
    loop starts it, asks :meth:`done` as it goes round, and records the
    :meth:`result`: only the loop appends to the chain.
    """

    def __init__(self, db: Database, started: datetime):
        self.db = db
        #: When the verification was asked for (the controller's time).
        self.started = started
        self.future: Future[VerifyReport] = Future()
        #: What SQLite's quick check found wrong with the file (None: sound), once done.
        self.integrity: str | None = None
        self.thread = threading.Thread(target=self._run, name="log-verify", daemon=True)

    def start(self) -> None:
        """Start the walk on its thread; returns at once."""
        self.thread.start()

    def done(self) -> bool:
        """The walk has ended (with a report or an error); never waits."""
        return self.future.done()

    def result(self) -> VerifyReport:
        """What the walk found (raises what stopped it); only once :meth:`done`."""
        return self.future.result(timeout=0)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (tests, and a caller with time to spare)."""
        self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self.integrity = quick_check(self.db.engine)
            with self.db.read() as session:
                report = verify_since_checkpoint(session)
        except Exception as exc:  # noqa: BLE001 - handed to the loop, which logs it
            self.future.set_exception(exc)
        else:
            self.future.set_result(report)
