"""A flapping door switch or device sensor, through the daemon: held back, then caught up.

While an input flaps its changes are held back (a door is taken as shut); once it has
been still for the settle time the stored slot agrees with the input again, and
nothing was driven open on the way.
"""

from __future__ import annotations

import pytest

from hardware.flap import SETTLE_S
from locker import events as ev
from locker.models import Slot
from tests.support.bench import ALICE, Bench, NoUnlock


def toggle(bench: Bench, pin, times: int) -> None:
    """Flip an input ``times`` times at one instant, then let the loop take it in."""
    for _ in range(times):
        if pin.state:
            pin.drive_low()
        else:
            pin.drive_high()
    bench.settle()


def row(bench: Bench, slot: int) -> tuple[bool, bool]:
    """The stored slot's (door_open, device_present)."""
    with bench.db.read() as session:
        stored = session.get(Slot, slot)
        return stored.door_open, stored.device_present


def wait_to_settle(bench: Bench) -> None:
    """Past the settle time; the next pass takes in what the guard reported."""
    bench.settle(SETTLE_S)
    bench.settle()


@pytest.mark.parametrize("which", ["door", "sensor"])
def test_after_a_flap_settles_the_stored_slot_matches_the_input(held, which):
    pin = held.door_pin(1) if which == "door" else held.sensor_pin(1)
    held.settle(2)  # the deposit's own changes are out of the flap window
    watch = NoUnlock(held)
    toggle(held, pin, 301)  # an odd number: the input ends the other way round
    # The door switch now reads open (pin high); the sensor, no device (pin high).
    assert pin.state
    assert len(held.alerts(ev.ALERT_HARDWARE_FAULT)) == 1
    before = held.count(ev.DOOR_OPENED) + held.count(ev.DEVICE_REMOVED)
    held.settle(SETTLE_S - 1)
    assert held.count(ev.DOOR_OPENED) + held.count(ev.DEVICE_REMOVED) == before  # still held back
    wait_to_settle(held)
    expected = (True, True) if which == "door" else (False, False)
    assert row(held, 1) == expected
    # Caught up, the rules judge the real state: an open door on a locked slot,
    # or a device gone from one, is an alert of its own.
    last = held.alerts()[-1]
    assert last.alert == (ev.ALERT_DOOR_FORCED if which == "door" else ev.ALERT_TAMPER)
    assert len(held.alerts(ev.ALERT_HARDWARE_FAULT)) == 1
    watch.check()
    assert held.chain_ok() and held.daemon.healthy


def test_a_door_that_flaps_during_a_deposit_locks_the_slot(bench):
    bench.go_to("07:55")
    bench.badge(ALICE)
    assert bench.state(1) == "open_for_deposit"
    bench.settle(0.6)  # the pulse is over; the door stands open
    bench.device(1, True)
    bench.settle(2)
    watch = NoUnlock(bench)
    toggle(bench, bench.door_pin(1), 200)  # ends open, as it began
    # Taken as shut: the deposit is confirmed and the slot locked at once,
    # not left open for as long as the switch misbehaves.
    assert bench.door_pin(1).state and row(bench, 1) == (False, True)
    assert bench.state(1) == "held"
    assert bench.count(ev.DEPOSIT_CONFIRMED) == 1
    bench.world.set_door(1, False)  # somebody shuts it properly
    wait_to_settle(bench)
    assert row(bench, 1) == (False, True)
    assert bench.state(1) == "held"
    watch.check()
    assert bench.chain_ok()


def test_a_door_that_flaps_during_a_release_relocks_and_keeps_the_device(held):
    held.go_to("12:05")
    held.badge(ALICE)  # her break: the slot opens
    assert held.state(1) == "open_for_release"
    held.settle(2)  # the door popped open; the phone is still in
    watch = NoUnlock(held)
    locks = held.count(ev.SLOT_LOCKED)
    toggle(held, held.door_pin(1), 200)  # the door flaps before the phone is taken
    assert held.door_pin(1).state and row(held, 1) == (False, True)  # taken as shut
    assert held.state(1) == "held"  # not collected: locked again
    assert held.count(ev.SLOT_LOCKED) == locks + 1
    held.world.set_door(1, False)
    wait_to_settle(held)
    assert row(held, 1) == (False, True)
    assert held.state(1) == "held"
    watch.check()
    # With the switch mended, her next badge on her break opens it again.
    held.badge(ALICE)
    assert held.state(1) == "open_for_release"
