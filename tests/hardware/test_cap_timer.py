"""The pulse's real-time cap (:class:`hardware.cap_timer.CapTimer`): it fires once after
its interval unless cancelled, and it is what a lock uses unless a test injects a timer.

Real threads: the waits are generous bounds on an event, never a measure of speed."""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from hardware.cap_timer import CapTimer
from hardware.devices import SlotLock
from locker.clock import SimulatedClock

BOUND_S = 30.0  # how long a test waits for a thread before calling it stuck


def test_it_fires_once_after_its_interval():
    fired = []
    timer = CapTimer(0.01, lambda: fired.append(True))
    timer.start()
    assert timer.done.wait(BOUND_S)
    assert fired == [True]


def test_cancelled_before_its_interval_it_never_fires():
    fired = []
    timer = CapTimer(BOUND_S, lambda: fired.append(True))
    timer.start()
    timer.cancel()
    assert timer.done.wait(BOUND_S)  # the thread ended on the cancel, not the interval
    assert fired == []


def test_a_function_that_raises_is_logged_and_ends_the_thread(caplog):
    def broken() -> None:
        raise RuntimeError("a coil that would not switch off")

    timer = CapTimer(0.0, broken)
    timer.start()
    assert timer.done.wait(BOUND_S)
    assert "a coil that would not switch off" in caplog.text


def test_a_pulse_lock_arms_a_cap_timer_that_ends_a_hung_pulse():
    """No ``update()`` after the unlock (the daemon's loop hung): the cap de-energises."""
    factory = MockFactory()
    lock = SlotLock(
        17,
        lock_type="pulse",
        unlock_pulse_s=0.01,
        max_energised_s=0.02,
        clock=SimulatedClock(),
        pin_factory=factory,
    )
    assert lock.unlock()
    assert isinstance(lock._timer, CapTimer)
    assert lock._timer.done.wait(BOUND_S)
    assert factory.pin(17).state == 0
