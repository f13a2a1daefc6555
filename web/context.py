"""What every view needs: the config, the database, the clocks and the daemon's state.

The panel has two clocks. Sessions, logins and throttling run on real time
(the app's clock). Actions are stamped with the controller's time, which in
the demo is simulated: the daemon reports it with every heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy.orm import Session

from locker.clock import Clock
from locker.config import Config
from locker.db import Database
from locker.live_status import (
    heartbeat_fresh,
    parse_time,
    read_live_status,
    status_path,
)

#: The largest id SQLite (and PostgreSQL's BIGINT) can hold; larger ones exist nowhere.
MAX_ID = 2**63 - 1


def get_config() -> Config:
    """The locker config this app was created with."""
    return current_app.extensions["locker_config"]


def get_db() -> Database:
    """The app's one database, shared by every request."""
    return current_app.extensions["locker_db"]


def real_now() -> datetime:
    """Real UTC time (the app's clock): for sessions, logins and heartbeats."""
    return app_clock(current_app).now()


def app_clock(app: Flask) -> Clock:
    """The clock ``app`` runs on (injected at :func:`web.create_app`)."""
    return app.extensions["locker_clock"]


def client_address() -> str:
    """The client's address, for the log."""
    return request.remote_addr or ""


@dataclass(frozen=True)
class DaemonState:
    """What the daemon last said about itself (its live status file)."""

    running: bool
    last_heartbeat: datetime | None
    simulated: bool
    clock_synchronised: bool
    reader_ok: bool
    controller_now: datetime | None
    #: ``"ok"``, or ``"failing"`` while the daemon reports a storage fault.
    storage: str = "ok"
    #: The database's own words for the fault, while there is one.
    storage_error: str | None = None
    #: What the output pins show (the simulator page), as the daemon last said.
    outputs: dict[str, Any] | None = None
    #: The last card read that is nobody's badge, and when (badge enrolment).
    last_unknown_uid: str | None = None
    last_unknown_at: datetime | None = None


def daemon_state(session: Session | None = None) -> DaemonState:
    """The daemon's state from its live status file (see :mod:`locker.live_status`).

    The daemon rewrites the file every few seconds in ``run_dir``; a file older
    than :data:`~locker.live_status.HEARTBEAT_STALE_S`, or none, means it is not running. Nothing of
    it is in the database (``session`` is accepted for the callers' convenience).
    """
    live = read_live_status(status_path(get_config().status_dir)) or {}
    beat = parse_time(live.get("heartbeat_at"))
    running = heartbeat_fresh(live, real_now())
    failing = running and live.get("storage") == "failing"
    outputs = live.get("outputs")
    unknown = live.get("last_unknown_uid")
    return DaemonState(
        running=running,
        last_heartbeat=beat,
        simulated=bool(live.get("simulated")),
        clock_synchronised=bool(live.get("clock_synchronised")),
        reader_ok=bool(live.get("reader_ok", True)),
        controller_now=parse_time(live.get("controller_now")),
        storage="failing" if failing else "ok",
        storage_error=str(live.get("storage_error") or "unknown error") if failing else None,
        outputs=outputs if isinstance(outputs, dict) else None,
        last_unknown_uid=unknown if isinstance(unknown, str) else None,
        last_unknown_at=parse_time(live.get("last_unknown_at")),
    )


def controller_now(state: DaemonState) -> datetime:
    """The controller's idea of now: simulated time in the demo, real time otherwise."""
    real = real_now()
    if not state.simulated or state.controller_now is None:
        return real
    if not state.running or state.last_heartbeat is None:
        return state.controller_now
    # The heartbeat is a few seconds old and the demo clock kept running meanwhile.
    elapsed = max(real - state.last_heartbeat, timedelta(0))
    return state.controller_now + elapsed * get_config().hardware.sim_speed


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with ``Z``, to the second, for the JSON API."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local_text(moment: datetime | None, today: date | None = None) -> str:
    """``moment`` in the site's time zone: ``HH:MM`` on ``today``, with the date otherwise."""
    if moment is None:
        return ""
    local = moment.astimezone(get_config().tz)
    if local.date() == today:
        return local.strftime("%H:%M")
    return local.strftime("%a %d %b %H:%M")


def local_day(moment: datetime) -> date:
    """The site's local date at ``moment``."""
    return moment.astimezone(get_config().tz).date()
