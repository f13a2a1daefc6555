"""Starting the controller daemon on the configured backend.

The glue between :mod:`locker.daemon` (the loop) and :mod:`hardware.backend`
(the pins and the reader): the clock, signals, the doorbell, systemd's notify
socket. ``locker daemon`` and ``locker demo`` call :func:`run_daemon`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from datetime import UTC, datetime

from hardware.backend import Backend
from locker.clock import Clock, DemoClock, SystemClock
from locker.config import Config
from locker.controller import Controller
from locker.daemon import Daemon
from locker.daemon_lock import DaemonLock
from locker.db import Database, require_current_schema
from locker.doorbell import Doorbell, doorbell_path
from locker_app.log_check import ProcessLogCheck

log = logging.getLogger(__name__)

#: The simulated clock's position, saved every heartbeat beside the live status
#: (``run_dir``): state that changes every few seconds stays off the data disk.
SIM_CLOCK_FILE = "sim_clock.json"
#: Seconds the daemon waits for another process's database write lock.
DAEMON_BUSY_TIMEOUT_S = 2.0


def make_clock(config: Config) -> Clock:
    """The system clock on a Pi; a demo clock that resumes where it was when simulated."""
    if config.hardware.backend == "gpio":
        return SystemClock()
    saved = config.status_dir / SIM_CLOCK_FILE
    start = None
    if saved.exists():
        try:
            start = datetime.fromisoformat(json.loads(saved.read_text())["now"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            log.warning("%s is unreadable; starting the simulated clock afresh", saved)
    if start is None and config.hardware.sim_start:
        start = datetime.fromisoformat(config.hardware.sim_start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=config.tz)
    return DemoClock(start or datetime.now(UTC), config.hardware.sim_speed)


def save_clock(config: Config, clock: Clock) -> None:
    """Remember where the simulated clock is, so a restart carries on from there."""
    if config.hardware.backend == "gpio":
        return
    path = config.status_dir / SIM_CLOCK_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"now": clock.now().isoformat()}))
    os.replace(tmp, path)


def systemd_notifier():
    """``notify(message)`` for systemd when run under it, else ``None``."""
    if not os.environ.get("NOTIFY_SOCKET"):
        return None
    import sdnotify

    return sdnotify.SystemdNotifier().notify


def watchdog_interval() -> float | None:
    """Half of systemd's ``WatchdogSec`` (from ``WATCHDOG_USEC``), or ``None`` without one."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit():
        return None
    return int(usec) / 2_000_000


def run_daemon(config: Config) -> int:
    """Run the daemon until SIGTERM or SIGINT; every lock ends in its safe state.

    Returns the exit status: 0 after a stop, :data:`~locker.daemon.EXIT_RESTART`
    when only a new process can open the database (its file was replaced).
    Refuses to start (:class:`~locker.daemon_lock.AlreadyRunning`) while
    another daemon runs on the same data directory, before touching a pin.
    """
    with DaemonLock(config.data_dir):
        return _run(config)


def _run(config: Config) -> int:
    # A short busy timeout: the loop must stay responsive when another process
    # holds the database; a write that waits longer is a storage fault.
    db = Database(config.db_url, busy_timeout_s=DAEMON_BUSY_TIMEOUT_S, create=False)
    require_current_schema(db.engine)
    clock = make_clock(config)
    backend = Backend.from_config(config, clock, data_dir=config.data_dir)
    daemon = Daemon(
        Controller(config, db, clock),
        backend,
        notify=systemd_notifier(),
        watchdog_s=watchdog_interval(),
        log_check=lambda started: ProcessLogCheck(config, started),
    )
    original = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in original:
        signal.signal(sig, lambda *_: daemon.stop())
    doorbell = Doorbell(doorbell_path(config.data_dir), daemon.wake)
    doorbell.start()
    heartbeat = daemon.after_heartbeat
    daemon.after_heartbeat = lambda: (heartbeat(), save_clock(config, clock))
    try:
        daemon.run()
    finally:
        doorbell.close()
        save_clock(config, clock)
        for sig, handler in original.items():
            signal.signal(sig, handler)
        db.dispose()
    return daemon.exit_code
