"""The real-time cap on a lock's pulse, started without waiting for its thread.

:class:`SlotLock` arms a timer before it energises a coil, so a pulse ends
even if the daemon's loop hangs. ``threading.Timer.start()`` returns only once
the new thread has been scheduled and has said so; on a busy machine that wait
was milliseconds on the badge's path, between the decision and the lock (the
p99 of the drive part in ``bench/badge_to_lock.py`` was 4 ms against a median
of 0.1 ms). :class:`CapTimer` is armed once its thread exists: the operating
system has it and will run it, which is what the cap needs; it does not wait
for the thread's first step.
"""

from __future__ import annotations

import _thread
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class CapTimer:
    """``threading.Timer``'s ``start()`` and ``cancel()``, for :class:`~hardware.devices.SlotLock`.

    Its thread is a daemon's by nature (the low-level ``_thread``): a pending
    cap never keeps the process alive, as ``threading.Timer`` with ``daemon``
    set did not either. ``done`` is set when the thread has ended, fired or
    cancelled.
    """

    def __init__(self, interval_s: float, function: Callable[[], None]):
        self.interval_s = interval_s
        self.function = function
        #: Kept for the :class:`~hardware.devices.Timer` protocol: always a daemon thread.
        self.daemon = True
        self._cancelled = threading.Event()
        #: Set once the thread has ended.
        self.done = threading.Event()

    def start(self) -> None:
        """Start counting down; raises ``RuntimeError`` if no thread can be made."""
        _thread.start_new_thread(self._run, ())

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""
        self._cancelled.set()

    def _run(self) -> None:
        try:
            if not self._cancelled.wait(self.interval_s):
                self.function()
        except Exception:
            # Said in the daemon's log, as threading.Timer's thread would say it.
            log.exception("the pulse's real-time cap failed")
        finally:
            self.done.set()
