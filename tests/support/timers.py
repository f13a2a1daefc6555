"""A ``threading.Timer`` stand-in for the locks' real-time safety cap."""

from __future__ import annotations

from collections.abc import Callable


class FakeTimer:
    """A ``threading.Timer`` stand-in that fires only when a test says so."""

    def __init__(self, interval: float, function: Callable[[], None]):
        self.interval = interval
        self.function = function
        self.daemon = False
        self.started = False
        self.cancelled = False

    def start(self) -> None:
        self.started = True

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        """Run the function as the timer thread would, unless cancelled in time."""
        if self.started and not self.cancelled:
            self.function()


class FakeTimers:
    """A timer factory that remembers every timer it made."""

    def __init__(self) -> None:
        self.made: list[FakeTimer] = []

    def __call__(self, interval: float, function: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(interval, function)
        self.made.append(timer)
        return timer

    @property
    def last(self) -> FakeTimer:
        """The most recent timer."""
        return self.made[-1]
