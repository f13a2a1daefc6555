"""Clocks: wall time in UTC, a monotonic clock for durations, and sync status.

Every component takes a clock as a parameter so tests and the demo can run on
simulated time (Klipper passes ``eventtime`` into its handlers the same way).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class Instant:
    """One reading of a clock: what the rules are handed with every event.

    ``wall`` is an aware UTC datetime; ``mono`` a monotonic number of seconds;
    ``synced_at`` the monotonic time of the last clock synchronisation since
    boot, or ``None`` when the clock has not been synchronised.
    """

    wall: datetime
    mono: float
    synced_at: float | None


class Clock(Protocol):
    """What the core and the daemon need from a clock."""

    def now(self) -> datetime:
        """The current wall time, an aware ``datetime`` in UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; only differences mean anything."""

    def synced_at(self) -> float | None:
        """Monotonic time of the last synchronisation since boot, or ``None``."""

    def read(self) -> Instant:
        """All three at once."""


class SystemClock:
    """The machine's clocks.

    Synchronisation is what systemd-timesyncd reports: it touches
    ``/run/systemd/timesync/synchronized`` each time it synchronises (``/run``
    is emptied at boot). A sync counts from the moment this process sees the
    flag's modification time change, on the monotonic clock, so a wall-clock
    step (which does not touch the flag) never looks like a new sync. A flag
    already there when the process starts counts as a sync before it started.
    On a machine without timesyncd the clock counts as unsynchronised unless
    ``assume_synchronised`` is set (an RTC module, or chrony, say).
    """

    SYNC_FLAG = "/run/systemd/timesync/synchronized"

    def __init__(self, *, assume_synchronised: bool = False, sync_flag: str = SYNC_FLAG):
        self.assume_synchronised = assume_synchronised
        self.sync_flag = sync_flag
        self._lock = threading.Lock()
        self._flag_mtime: float | None = None
        self._synced_mono: float | None = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def synced_at(self) -> float | None:
        if self.assume_synchronised:
            return 0.0
        try:
            mtime = os.stat(self.sync_flag).st_mtime
        except OSError:
            return None
        with self._lock:
            if mtime != self._flag_mtime:
                first = self._flag_mtime is None
                self._flag_mtime = mtime
                self._synced_mono = 0.0 if first else time.monotonic()
            return self._synced_mono

    def read(self) -> Instant:
        return Instant(self.now(), self.monotonic(), self.synced_at())


class SimulatedClock:
    """A clock that moves only when told to; thread-safe.

    It counts as synchronised from the start unless ``synchronised=False``.
    ``jump()`` moves the wall clock without the monotonic one, as a bad RTC or
    a hand-set date would.
    """

    def __init__(self, start: datetime | None = None, *, synchronised: bool = True):
        if start is None:
            start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware start time")
        self._lock = threading.Lock()
        self._wall = start.astimezone(UTC)
        self._mono = 1000.0
        self._synced_at: float | None = self._mono if synchronised else None

    def now(self) -> datetime:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def synced_at(self) -> float | None:
        with self._lock:
            return self._synced_at

    def read(self) -> Instant:
        with self._lock:
            return Instant(self._wall, self._mono, self._synced_at)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("time only moves forward; use jump() for a wall-clock step")
        with self._lock:
            self._wall += timedelta(seconds=seconds)
            self._mono += seconds

    def jump(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (either sign); the monotonic clock stays."""
        with self._lock:
            self._wall += timedelta(seconds=seconds)

    def synchronise(self) -> None:
        """Mark the clock synchronised now."""
        with self._lock:
            self._synced_at = self._mono

    def lose_sync(self) -> None:
        """Forget any synchronisation, as after a reboot without network."""
        with self._lock:
            self._synced_at = None


class DemoClock:
    """Simulated time for the demo: runs at ``speed`` times real time from ``start``.

    ``advance()`` moves it ahead (the simulator's clock control); it never
    jumps against its own monotonic clock and always counts as synchronised.
    """

    def __init__(self, start: datetime, speed: float = 1.0, *, real=time.monotonic):
        if start.tzinfo is None:
            raise ValueError("DemoClock needs an aware start time")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._lock = threading.Lock()
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._real = real
        self._real0 = real()
        self._offset = 0.0

    def _elapsed(self) -> float:
        return (self._real() - self._real0) * self._speed + self._offset

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        with self._lock:
            return 1000.0 + self._elapsed()

    def synced_at(self) -> float | None:
        return 0.0

    def read(self) -> Instant:
        with self._lock:
            elapsed = self._elapsed()
        return Instant(self._start + timedelta(seconds=elapsed), 1000.0 + elapsed, 0.0)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        with self._lock:
            self._offset += seconds
