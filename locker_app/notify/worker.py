"""The panel process's background thread: the controller watch, the daily summary
and the outbox sender, once a second. It is never the controller's loop, and a
fault in it (the database busy, a mail server down) is logged and tried again,
never a crash of the panel."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from locker.clock import Clock
from locker.config import Config
from locker.db import Database
from locker.errors import LockerError
from locker.live_status import controller_time, read_live_status, status_path
from locker_app.notify.channel import AppriseChannel
from locker_app.notify.sender import Sender
from locker_app.notify.summary import queue_summary, summary_due
from locker_app.notify.watch import ControllerWatch

log = logging.getLogger(__name__)


class NotifyWorker:
    """Watches the controller, writes the daily summary and drains the outbox."""

    def __init__(
        self,
        config: Config,
        db: Database,
        real_clock: Clock,
        *,
        channel: AppriseChannel | None = None,
        interval_s: float = 1.0,
    ):
        self.config = config
        self.db = db
        self.real_clock = real_clock
        self.interval_s = interval_s
        self.channel = channel or AppriseChannel(config)
        self.watch = ControllerWatch(config, db, real_clock.now, self.controller_now)
        self.sender = Sender(config, db, self.channel, self.controller_now)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for problem in self.channel.problems:
            log.warning(
                "notify: destination %s cannot be used: %s", problem.destination, problem.why
            )

    def controller_now(self) -> datetime:
        """The controller's time (simulated in the demo), from its live status."""
        live = read_live_status(status_path(self.config.status_dir)) or {}
        return controller_time(live, self.real_clock.now(), self.config.hardware.sim_speed)

    def tick(self) -> None:
        """One round: the watch, the summary if due, then every message that is due."""
        self.watch.check()
        now = self.controller_now()
        with self.db.read() as session:
            day = summary_due(session, self.config, now)
        if day is not None:
            with self.db.write() as session:
                if summary_due(session, self.config, now) == day:
                    queue_summary(session, self.config, day, now)
                    session.commit()
        self.sender.run_once()

    def start(self) -> None:
        """Run :meth:`tick` every ``interval_s`` on a background thread."""
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after the round it is in)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except (SQLAlchemyError, OSError, LockerError) as exc:
                # The database busy or failing: the daemon raises the storage alert;
                # the outbox keeps everything, so the next round carries on.
                log.warning("notify: round failed, trying again: %s", exc)
