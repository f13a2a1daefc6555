"""The panel process's watch on the controller: ``controller_offline`` is raised when
the daemon's heartbeat (its live status file) has been silent for over a minute,
and resolved when it comes back. The alert is logged and notified like any other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from locker import events as ev
from locker.alerts import resolve_alert, store_alert, unresolved
from locker.config import Config
from locker.db import Database
from locker.decisions import RaiseAlert
from locker.live_status import parse_time, read_live_status, status_path

#: Silence after which the controller counts as not running (real time).
OFFLINE_AFTER = timedelta(seconds=60)
#: Who the log says raised it.
ACTOR = "panel"


class ControllerWatch:
    """Raises and resolves ``controller_offline`` from the heartbeat's age."""

    def __init__(
        self,
        config: Config,
        db: Database,
        real_now: Callable[[], datetime],
        controller_now: Callable[[], datetime],
    ):
        self.config = config
        self.db = db
        self.real_now = real_now
        self.controller_now = controller_now
        #: When this watch first found the heartbeat missing or stale (None: it is fresh).
        self.silent_since: datetime | None = None

    def check(self) -> None:
        """Look at the heartbeat once; raise or resolve the alert if that is due."""
        real = self.real_now()
        live = read_live_status(status_path(self.config.status_dir)) or {}
        beat = parse_time(live.get("heartbeat_at"))
        fresh = beat is not None and real - beat <= OFFLINE_AFTER
        if fresh:
            self.silent_since = None
        elif self.silent_since is None:
            # No file, or an old one: silent since the last beat, or since we looked.
            self.silent_since = beat if beat is not None and beat < real else real
        offline = not fresh and real - self.silent_since > OFFLINE_AFTER
        with self.db.read() as session:
            is_open = bool(unresolved(session, ev.ALERT_CONTROLLER_OFFLINE))
        if offline == is_open or (not offline and not fresh):
            return  # nothing changed (a read only: no write lock taken every second)
        with self.db.write() as session:
            open_alerts = unresolved(session, ev.ALERT_CONTROLLER_OFFLINE)
            now = self.controller_now()
            if offline and not open_alerts:
                last = f"last heard at {beat:%H:%M:%S} UTC" if beat else "never heard from"
                message = (
                    f"The controller daemon is not running ({last}): badges are not read "
                    "and nothing is released by the rules. Check the Pi and its power."
                )
                effect = RaiseAlert(ev.ALERT_CONTROLLER_OFFLINE, message)
                store_alert(session, effect, now, actor=ACTOR)
            elif fresh:
                for alert in open_alerts:
                    resolve_alert(session, alert, "the controller is running again", now, ACTOR)
            session.commit()
