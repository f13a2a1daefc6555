"""The daemon's guard against storage faults: safe while the database fails, then catch up.

The rule the whole product keeps is "nothing unlocks unless the decision is
logged first". When the log cannot be written, the only safe decision is to
open nothing: :class:`StorageGuard` holds the bank in that state, keeps the
inputs it sees, and retries the database every few seconds. When a write
goes through again it writes, in order: the ``storage`` alert (dated when the
fault began), every kept input as it happened (marked ``recorded_late``; a
badge as a refusal, since it was refused at the reader), and
``storage.recovered`` with what the fault held back.

A deleted or replaced database file cannot be cured from inside: the process
holds the old file. The guard then waits for a database to be back at the
path and asks the daemon to exit, so systemd starts a new one on the right
file (its ``system.started`` says the stop was not clean).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from locker.clock import Clock, Instant
from locker.controller import Controller, Output
from locker.db import Database
from locker.decisions import BadgeNotServed, BadgeRead, Lock, SensorReading, Signal
from locker.storage import STORAGE_ERRORS, FileIdentity, StorageFault, quick_check

log = logging.getLogger(__name__)

#: Real seconds between two tries of the database while it fails.
RETRY_S = 5.0
#: Longest wait for the write lock in one try, so a locked database does not stall the loop.
PROBE_TIMEOUT_S = 0.25


def describe(error: BaseException) -> str:
    """The database's own words for ``error`` (SQLAlchemy wraps them)."""
    orig = getattr(error, "orig", None)
    return str(orig if orig is not None else error)


class StorageGuard:
    """Watches the database for the daemon and carries it through storage faults.

    ``apply`` drives outputs on the hardware; ``sensors`` reads the doors and
    device sensors (for a start that storage prevented).
    """

    def __init__(
        self,
        controller: Controller,
        *,
        apply: Callable[[list[Output]], None],
        lock_all: Callable[[], None],
        sensors: Callable[[], dict[int, SensorReading]],
        real_clock: Clock,
        retry_s: float = RETRY_S,
    ):
        self.controller = controller
        self.db: Database = controller.db
        self.apply = apply
        self.lock_all = lock_all
        self.sensors = sensors
        self.real_clock = real_clock
        self.retry_s = retry_s
        self.identity: FileIdentity | None = None
        self.fault: StorageFault | None = None
        self.last_try = 0.0
        #: Set when only a new process can open the right database file.
        self.restart_needed = False

    @property
    def failing(self) -> bool:
        """True while the database cannot be trusted to take the log."""
        return self.fault is not None

    def remember_file(self) -> None:
        """Note which file the database is, to notice it being deleted or replaced."""
        if self.db.path is not None:
            self.identity = FileIdentity.of(self.db.path)

    def check_file(self) -> None:
        """Fail if the database file is gone or another one (one ``stat``; every pass)."""
        problem = self.identity.problem() if self.identity is not None else None
        if problem is not None:
            self.fail(problem, file_lost=True)

    def check_integrity(self) -> None:
        """Fail if SQLite's quick check finds the file damaged (at start and nightly)."""
        problem = quick_check(self.db.engine)
        if problem is not None:
            self.fail(problem)
            self.fault.damaged = True

    def fail(
        self,
        error: str,
        *,
        file_lost: bool = False,
        before_start: bool = False,
        pending: list[tuple[Instant, object]] = (),
    ) -> None:
        """Enter (or stay in) the storage fault; keep ``pending`` inputs for the log."""
        if self.fault is None:
            log.error("storage fault: %s; every slot stays locked, badges are refused", error)
            self.fault = StorageFault(
                error=error,
                since=self.controller.clock.now(),
                real_since=self.real_clock.now(),
                file_lost=file_lost,
                before_start=before_start,
            )
            self.last_try = self.real_clock.monotonic()
            self.lock_all()
        else:
            self.fault.file_lost = self.fault.file_lost or file_lost
        for at, event in pending:
            self.keep(at, event)

    def keep(self, at: Instant, event: object) -> None:
        """An input while storage fails: refuse a badge at once, keep everything for later."""
        fault = self.fault
        if isinstance(event, BadgeRead):
            fault.badges_refused += 1
            self.apply([Signal("out_of_service")])
        # The journal keeps it too, in case the database never comes back.
        log.warning("kept for the log while storage fails (%s): %r", fault.error, event)
        fault.keep(at, event)

    def due(self) -> bool:
        """Whether it is time for another try of the database."""
        return self.real_clock.monotonic() - self.last_try >= self.retry_s

    def try_recover(self) -> bool:
        """One try: True once the database takes writes and everything kept is logged."""
        fault = self.fault
        self.last_try = self.real_clock.monotonic()
        if fault.file_lost:
            if self.db.path is not None and FileIdentity.of(self.db.path) is not None:
                log.error("a database file is back at %s: restarting to open it", self.db.path)
                self.restart_needed = True
            return False
        if not self.db.can_write(PROBE_TIMEOUT_S):
            return False
        if fault.damaged:
            problem = quick_check(self.db.engine)
            if problem is not None:
                fault.error = problem
                return False
        try:
            self._catch_up(fault)
        except STORAGE_ERRORS as exc:
            fault.error = describe(exc)
            log.error("storage still failing: %s", fault.error)
            return False
        log.warning(
            "storage is back after %s; %d badges were refused, %d inputs dropped",
            self.real_clock.now() - fault.real_since,
            fault.badges_refused,
            fault.dropped,
        )
        self.fault = None
        return True

    def _catch_up(self, fault: StorageFault) -> None:
        controller = self.controller
        if not controller.started:
            # The start itself failed: reconcile with the sensors now (never an unlock).
            self._drive_locks(controller.start(self.sensors()))
            fault.before_start = True
        else:
            controller.reload()
        if not fault.alerted:
            controller.record_storage_alert(fault.error, fault.since)
            fault.alerted = True
        with controller.recording_late():
            while fault.inputs:
                at, event = fault.inputs[0]
                if isinstance(event, BadgeRead):
                    controller.handle(BadgeNotServed(event.uid), at=at)
                elif not fault.before_start:
                    # Doors and sensors as they changed; a start's reconciling covered them.
                    self._drive_locks(controller.handle(event, at=at))
                fault.inputs.popleft()
        controller.record_storage_recovered(
            {
                "error": fault.error,
                "since": fault.since.isoformat(),
                "badges_refused": fault.badges_refused,
                "dropped_inputs": fault.dropped,
            }
        )

    def _drive_locks(self, outputs: list[Output]) -> None:
        # Of what a late decision asks, only locking is still right to do now.
        locks = [o for o in outputs if isinstance(o, Lock)]
        if locks:
            self.apply(locks)
