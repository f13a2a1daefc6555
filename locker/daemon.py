"""The controller daemon: one loop that owns the hardware.

Device callbacks only put timestamped inputs on a queue. The loop takes them
off, hands each to the :class:`~locker.controller.Controller` (which commits
the log), and only then drives the outputs. It also ticks the clock, runs the
commands the panel and the CLI leave in the database, and writes a heartbeat.
On stop, and on any error that ends the loop, every lock is left in its safe
state by the backend's ``close()`` in a ``finally``.

The loop is hardware-agnostic: it drives a :class:`Backend` (``hardware.backend``
provides the real and the simulated one).

Once a day, after the daily checkpoint, the whole event log is verified apart
from the loop: by a child process in the installed daemon
(``locker_app.log_check``), or on a thread (``locker.log_check``); the
loop records the result as a ``log.verified`` event when it is ready, and raises
a ``log_broken`` alert if the chain is broken.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.alert_lifecycle import resolve_log_verified
from locker.clock import Clock, Instant, SystemClock
from locker.commands import (
    CommandStatus,
    Queued,
    SimBadge,
    SimClock,
    SimReader,
    SimSlot,
    parse_command,
)
from locker.controller import Controller
from locker.db import Database
from locker.decisions import BadgeRead, RaiseAlert, SensorReading
from locker.errors import InvalidRequest, LockerError, NotFound
from locker.live_status import remove_live_status, status_path, write_live_status
from locker.log import (
    VerifyReport,
    append,
    verified_entry,
    write_checkpoint,
)
from locker.log_check import LogCheck, WholeLogVerification
from locker.models import Alert, Checkpoint, Event
from locker.retention import RetentionBacklog
from locker.rules_store import Output, store_alert
from locker.storage import STORAGE_ERRORS
from locker.storage_guard import StorageGuard, describe

log = logging.getLogger(__name__)

#: Seconds of simulated time one step of ``sim_clock`` moves, so timers fire in order.
SIM_STEP_S = 1.0
#: Exit status when only a new process can go on (the database file was replaced):
#: EX_TEMPFAIL, so systemd's Restart=on-failure starts one.
EXIT_RESTART = 75


class Backend(Protocol):
    """What the daemon needs from the hardware (see ``hardware.backend.Backend``)."""

    simulated: bool
    reader_healthy: bool
    #: True while a pulse, a light pattern or the like needs the loop within ``loop_s``.
    busy: bool

    def due_in_s(self) -> float | None: ...
    def start(self, emit: Callable[[object], None], *, reader_thread: bool = True) -> None: ...
    def read_sensors(self) -> dict[int, SensorReading]: ...
    def apply(self, outputs: list[Output]) -> None: ...
    def update(self) -> None: ...
    def outputs(self) -> dict[str, Any]: ...
    def lock_all(self) -> None: ...
    def simulate(self, command: SimBadge | SimSlot | SimReader) -> dict[str, Any]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class _Wake:
    """Queue marker: commands are waiting in the database."""


class Daemon:
    """Runs the controller against a backend until told to stop."""

    def __init__(
        self,
        controller: Controller,
        backend: Backend,
        *,
        loop_s: float = 0.05,
        idle_loop_s: float = 0.25,
        tick_s: float = 1.0,
        command_poll_s: float = 1.0,
        heartbeat_s: float = 5.0,
        notify: Callable[[str], None] | None = None,
        watchdog_s: float | None = None,
        real_clock: Clock | None = None,
        log_check: Callable[[datetime], LogCheck] | None = None,
    ):
        self.controller = controller
        #: Real time, even when the controller's clock is simulated: command ages,
        #: heartbeats and the watchdog run on it.
        self.real_clock: Clock = real_clock or SystemClock(assume_synchronised=True)
        self.backend = backend
        self.clock: Clock = controller.clock
        self.db: Database = controller.db
        #: Longest wait for inputs between passes while the backend is busy, and while not.
        self.loop_s = loop_s
        self.idle_loop_s = idle_loop_s
        self.tick_s = tick_s
        self.command_poll_s = command_poll_s
        self.heartbeat_s = heartbeat_s
        self.notify = notify or (lambda message: None)
        #: Seconds between keep-alives to systemd's watchdog (None: no watchdog).
        self.watchdog_s = watchdog_s
        self.last_watchdog = 0.0
        #: Keeps the bank safe while the database fails, and catches the log up after.
        self.storage = StorageGuard(
            controller,
            apply=self._drive,
            lock_all=backend.lock_all,
            sensors=backend.read_sensors,
            real_clock=self.real_clock,
        )
        #: The live status file the panel reads (works when the database does not).
        self.status_file = status_path(controller.config.status_dir)
        #: Set when the daemon must end so that a new process opens the database.
        self.exit_code = 0
        #: Makes the whole log's nightly check; the service runs it as a low-priority
        #: process (``locker_app.log_check``), tests on a thread.
        self.make_log_check: Callable[[datetime], LogCheck] = log_check or (
            lambda started: WholeLogVerification(self.db, started)
        )
        #: Simulator commands carried out whose answer is not stored yet (a storage fault).
        self.unrecorded: dict[int, tuple[str, dict[str, Any]]] = {}
        self.inputs: queue.Queue[tuple[Instant, object]] = queue.Queue()
        self.stop_event = threading.Event()
        self.started_at = self.real_clock.now()
        self.last_tick = 0.0
        self.last_commands = 0.0
        self.last_heartbeat = 0.0
        self.last_unknown: tuple[str, datetime] | None = None
        self.checkpoint_day: date | None = None
        #: The whole log's verification while it runs (at most one at a time), and
        #: when another was asked for meanwhile (it starts once this one is recorded).
        self.log_check: LogCheck | None = None
        self.log_check_due: datetime | None = None
        #: Retention in bounded steps, spaced out (a backlog must not starve the loop).
        self.retention = RetentionBacklog()
        #: Called after each heartbeat is written (the simulated clock is saved then).
        self.after_heartbeat: Callable[[], None] = lambda: None

    # -------------------------------------------------------------- inputs

    def emit(self, event: object) -> None:
        """Queue a core input with the time it happened (called from any thread)."""
        self.inputs.put((self.clock.read(), event))

    def wake(self) -> None:
        """Commands are waiting: handle them at once (the doorbell calls this)."""
        self.inputs.put((self.clock.read(), _Wake()))

    # ---------------------------------------------------------------- run

    def run(self) -> None:
        """Start the hardware, reconcile, then loop until :meth:`stop`."""
        try:
            self.begin()
            while not self.stop_event.is_set():
                self.step(self.wait_s)
        finally:
            self.finish()

    @property
    def wait_s(self) -> float:
        """How long the next pass may wait for inputs.

        Inputs end the wait at once; only timed work (a pulse to end, a light
        pattern) needs short passes, so an idle bank wakes 4 times a second, not 20.
        """
        if not self.backend.busy:
            return self.idle_loop_s
        # A lock's timed work (a pulse's end, a staggered pulse's turn) is woken
        # for, not found by the next pass: a pulse waiting its turn starts on time.
        due = self.backend.due_in_s()
        return self.loop_s if due is None else min(self.loop_s, due)

    def begin(self, *, reader_thread: bool = True) -> None:
        """Start the hardware, reconcile stored state with the sensors, say ready.

        A database that cannot be written (or is damaged) does not stop the
        start: the daemon comes up in its storage fault, every lock safe, and
        reconciles once the database takes writes (no restart loop).
        """
        self.backend.start(self.emit, reader_thread=reader_thread)
        self.storage.remember_file()
        self.storage.check_integrity()
        if not self.storage.failing:
            try:
                self._drive(self.controller.start(self.backend.read_sensors()))
                self._plan_log_check()
            except STORAGE_ERRORS as exc:
                self.storage.fail(describe(exc), before_start=True)
        self._heartbeat(force=True)
        self.notify("READY=1")

    def _plan_log_check(self) -> None:
        """Know the last daily checkpoint; verify now if its verification is missing."""
        with self.db.read() as session:
            last = session.execute(
                select(Checkpoint.created_at, Checkpoint.event_id)
                .where(Checkpoint.kind == "daily")
                .order_by(Checkpoint.id.desc())
                .limit(1)
            ).first()
            verified = session.scalar(
                select(Event.id)
                .where(Event.kind == ev.LOG_VERIFIED)
                .order_by(Event.id.desc())
                .limit(1)
            )
        if last is not None:
            self.checkpoint_day = last.created_at.astimezone(self.controller.config.tz).date()
            if verified is None or verified < last.event_id:
                # Stopped before the verification after the newest checkpoint was
                # recorded: verify now rather than wait a day.
                self._start_log_check(self.clock.now())

    def finish(self) -> None:
        """Leave every lock safe, then log the stop."""
        self.notify("STOPPING=1")
        try:
            self.backend.close()
        finally:
            remove_live_status(self.status_file)
            try:
                if not self.storage.failing:
                    self.controller.stop()
            except Exception:  # noqa: BLE001 - the locks are safe; a log write may fail
                log.exception("could not log system.stopped")

    def stop(self) -> None:
        """Ask the loop to end (from a signal handler or another thread)."""
        self.stop_event.set()
        self.inputs.put((self.clock.read(), _Wake()))

    def step(self, wait_s: float) -> None:
        """One pass: wait up to ``wait_s`` for inputs, then tick, commands, heartbeat.

        While storage fails the pass only keeps the inputs (refusing badges),
        keeps the outputs moving, and now and then tries the database again.
        """
        inputs = self._take_inputs(wait_s)
        if not self.storage.failing:
            self.storage.check_file()
        if self.storage.failing:
            self._while_storage_fails(inputs)
        else:
            self._pass(deque(inputs))
        self.backend.update()
        self._heartbeat()
        self._keep_alive()

    def _take_inputs(self, wait_s: float) -> list[tuple[Instant, object]]:
        """Wait up to ``wait_s`` for an input, then take whatever else arrived, in order."""
        taken: list[tuple[Instant, object]] = []
        try:
            item = self.inputs.get(timeout=wait_s)
        except queue.Empty:
            return taken
        while True:
            at, event = item
            if isinstance(event, _Wake):
                self.last_commands = 0.0
            else:
                taken.append((at, event))
            try:
                item = self.inputs.get_nowait()
            except queue.Empty:
                return taken

    def _pass(self, pending: deque[tuple[Instant, object]]) -> None:
        try:
            while pending:
                at, event = pending[0]
                self._handle(event, at)
                pending.popleft()
            mono = self.clock.monotonic()
            if mono - self.last_tick >= self.tick_s:
                self.last_tick = mono
                self._drive(self.controller.tick())
                self._daily()
            self.backend.update()
            real = self.real_clock.monotonic()
            if real - self.last_commands >= self.command_poll_s:
                self.last_commands = real
                self.run_commands()
        except STORAGE_ERRORS as exc:
            self.storage.fail(describe(exc), pending=list(pending))
            self._heartbeat(force=True)

    def _while_storage_fails(self, inputs: list[tuple[Instant, object]]) -> None:
        for at, event in inputs:
            self.storage.keep(at, event)
        if not self.storage.due():
            return
        if self.storage.try_recover():
            self._plan_log_check()
            self._heartbeat(force=True)
        elif self.storage.restart_needed:
            self.exit_code = EXIT_RESTART
            self.stop()

    @property
    def healthy(self) -> bool:
        """The loop is turning and the reader answers.

        A storage fault does not count: a restart cannot free a full disk or a
        lock another process holds, and the daemon already keeps the bank safe
        and says so (a file it lost makes it exit by itself).
        """
        return self.backend.reader_healthy

    def _keep_alive(self) -> None:
        # Only a healthy daemon pets the watchdog: a stuck loop or a dead reader
        # gets it restarted by systemd (locks stay safe).
        if self.watchdog_s is None or not self.healthy:
            return
        real = self.real_clock.monotonic()
        if real - self.last_watchdog >= self.watchdog_s:
            self.last_watchdog = real
            self.notify("WATCHDOG=1")

    def _handle(self, event: object, at: Instant) -> None:
        self._drive(self.controller.handle(event, at=at))
        if isinstance(event, BadgeRead) and not self.controller.knows_badge(event.uid):
            self.last_unknown = (event.uid, self.clock.now())
            self._heartbeat(force=True)

    def _drive(self, outputs: list[Output]) -> None:
        if outputs:
            self.backend.apply(outputs)
            self._heartbeat(force=True)

    def _daily(self) -> None:
        """Once a local day: a checkpoint of the chain's head, the retention purge (in
        bounded steps), then a verification of the whole log in the background.

        The checkpoint (sequence number and head hash) is printed on the daily
        report, so a rewrite of the whole chain shows against paper. The
        verification's result is recorded here, on a later pass, once it is in.
        """
        self._collect_log_check()
        config = self.controller.config
        now = self.clock.now()
        today = now.astimezone(config.tz).date()
        if today == self.checkpoint_day:
            if self.retention.due(self.clock.monotonic()):
                self._retention_step(now)
            return
        self.checkpoint_day = today
        with self.db.write() as session:
            write_checkpoint(session, now)
            session.commit()
        self._retention_step(now)

    def _retention_step(self, now: datetime) -> None:
        """A bounded step of retention; the whole log is verified after the last."""
        if not self.retention.step(self.db, self.controller.config, now, self.clock.monotonic()):
            self._start_log_check(now)

    def _start_log_check(self, now: datetime) -> None:
        if self.log_check is not None:
            # Still walking (it began before this checkpoint): walk again once it is in.
            self.log_check_due = now
            return
        self.log_check = self.make_log_check(now)
        self.log_check.start()

    def _collect_log_check(self) -> None:
        """Record the whole log's verification if it has ended; never waits for it."""
        check = self.log_check
        if check is None or not check.done():
            return
        self.log_check = None
        if check.integrity is not None:
            self.storage.fail(check.integrity)
            self.storage.fault.damaged = True
            return
        try:
            report = check.result()
        except Exception:  # noqa: BLE001 - tried again after the next checkpoint
            log.exception("the daily verification of the event log could not run")
        else:
            self._record_log_check(report, check.started)
        if self.log_check_due is not None:
            due, self.log_check_due = self.log_check_due, None
            self._start_log_check(due)

    def _record_log_check(self, report: VerifyReport, started: datetime) -> None:
        """Log ``log.verified``; a broken chain also raises a ``log_broken`` alert."""
        now = self.clock.now()
        with self.db.write() as session:
            append(session, verified_entry(report, started), now)
            if not report.ok:
                _alert_log_broken(session, report, now)
            else:
                resolve_log_verified(session, now)  # a restore mended it
            session.commit()
        if report.ok:
            log.info(
                "event log verified: %d events, through event %d", report.checked, report.head_id
            )
        else:
            log.error("event log broken at event %s: %s", report.first_bad_id, report.reason)

    # ------------------------------------------------------------ commands

    def run_commands(self) -> None:
        """Carry out every pending command, oldest first; an unlocking one that is too
        old is expired instead (see :mod:`locker.commands`). Each row is read once."""
        for queued in self.controller.waiting_commands():
            if self.controller.expire_if_stale(queued, self.real_clock.now()):
                log.warning("command %d expired: too old to open a slot", queued.id)
                continue
            if queued.simulated:
                self._simulate(queued)
            else:
                outputs, _ = self.controller.run_command(queued)
                self._drive(outputs)

    def _simulate(self, queued: Queued) -> None:
        # The world moves outside the database's transaction: once it has, the
        # command must not run again even if recording its answer fails now.
        if queued.id not in self.unrecorded:
            try:
                asked = parse_command(queued.kind, queued.payload, self.controller.bank)
                if isinstance(asked, SimClock):
                    result = self._advance(asked.advance_s)
                else:
                    result = self.backend.simulate(asked)
                    self.backend.update()
                status = CommandStatus.DONE
            except (InvalidRequest, NotFound, LockerError, ValueError) as exc:
                result, status = {"error": str(exc)}, CommandStatus.FAILED
            self.unrecorded[queued.id] = (status, result)
        status, result = self.unrecorded[queued.id]
        self.controller.finish_command(queued.id, status, result)
        del self.unrecorded[queued.id]
        self._heartbeat(force=True)

    def _advance(self, seconds: float) -> dict[str, Any]:
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise InvalidRequest("this daemon's clock is real and cannot be moved")
        left = float(seconds)
        while left > 0:
            step = min(SIM_STEP_S, left)
            advance(step)
            left -= step
            self.backend.update()
            self._drain_inputs()
            self._drive(self.controller.tick())
        return {"now": self.clock.now().isoformat()}

    def _drain_inputs(self) -> None:
        while True:
            try:
                at, event = self.inputs.get_nowait()
            except queue.Empty:
                return
            if not isinstance(event, _Wake):
                self._handle(event, at)

    # ----------------------------------------------------------- heartbeat

    def _heartbeat(self, *, force: bool = False) -> None:
        """Publish the live status file the panel reads (every few seconds, and on changes).

        Nothing of it goes to the database: a status that changes every few
        seconds would be an SD card write every few seconds (only events are
        committed). The file lives in ``run_dir``, a tmpfs on a Pi.
        """
        real = self.real_clock.monotonic()
        if not force and real - self.last_heartbeat < self.heartbeat_s:
            return
        self.last_heartbeat = real
        fault = self.storage.fault
        unknown_uid, unknown_at = self.last_unknown or (None, None)
        status = {
            "pid": os.getpid(),
            "heartbeat_at": self.real_clock.now(),
            "started_at": self.started_at,
            "simulated": self.backend.simulated,
            "reader_ok": self.backend.reader_healthy,
            "clock_synchronised": self.controller.clock_trusted,
            "controller_now": self.clock.now(),
            "outputs": self.backend.outputs(),
            "last_unknown_uid": unknown_uid,
            "last_unknown_at": unknown_at,
            "storage": "failing" if fault is not None else "ok",
            "storage_error": fault.error if fault is not None else None,
            "storage_since": fault.real_since if fault is not None else None,
        }
        if not write_live_status(self.status_file, status):
            log.warning("cannot write the live status file %s", self.status_file)
        self.after_heartbeat()


def _alert_log_broken(session: Session, report: VerifyReport, at: datetime) -> None:
    """Raise a ``log_broken`` alert, unless one is still open (the check repeats daily)."""
    open_one = session.scalar(
        select(Alert.id)
        .where(
            Alert.alert == ev.ALERT_LOG_BROKEN,
            Alert.acknowledged_at.is_(None),
            Alert.resolved_at.is_(None),
        )
        .limit(1)
    )
    if open_one is not None:
        return
    bad = "?" if report.first_bad_id is None else report.first_bad_id
    message = (
        f"The daily check of the event log found it broken at event {bad}: {report.reason}. "
        "Keep the printed daily reports and ask the installer to run `locker log verify`."
    )
    details = {"first_bad_id": report.first_bad_id, "reason": report.reason}
    store_alert(session, RaiseAlert(ev.ALERT_LOG_BROKEN, message, details=details), at)
