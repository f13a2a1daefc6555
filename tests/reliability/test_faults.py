"""Physical tampering and hardware faults, with the daemon stepped by hand on mock pins.

A forced door, a device taken through a locked door, a door held open, an
input that flaps thousands of times, a reader that stops answering or talks
garbage, a lock whose output is stuck: each must raise the right alert, none
may crash the daemon and none may drive a lock open. "Drive a lock open" is
checked three ways: the lock pin's rising edges, the world's unlock count and
the ``slot.unlocked`` events.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hardware.flap import SETTLE_S
from locker import events as ev
from locker.models import Slot
from tests.support.bench import ALICE, Bench, NoUnlock

UNKNOWN = "0BADCAFE"


def alert_kinds(bench: Bench) -> Counter[str]:
    return Counter(a.alert for a in bench.alerts())


# ------------------------------------------------------------------ doors and devices


def test_a_forced_door_raises_door_forced_and_unlocks_nothing(held):
    watch = NoUnlock(held)
    assert held.world.set_door(1, True) is True  # forced: the latch held it
    held.settle()
    held.device(1, False)
    held.door(1, False)
    held.settle(5)
    assert alert_kinds(held) == {ev.ALERT_DOOR_FORCED: 1, ev.ALERT_TAMPER: 1}
    forced = held.alerts(ev.ALERT_DOOR_FORCED)[0]
    assert forced.slot == 1 and forced.person_id is not None
    watch.check()
    assert held.chain_ok()


def test_a_device_taken_through_a_shut_locked_door_raises_tamper(held):
    watch = NoUnlock(held)
    held.device(1, False)  # the sensor sees it go; the door switch never moved
    held.settle(5)
    assert alert_kinds(held) == {ev.ALERT_TAMPER: 1}
    assert held.state(1) == "out"  # kept for its owner, who is named in the alert
    watch.check()
    assert held.chain_ok()


def test_a_door_held_open_raises_door_left_open_once(bench):
    bench.go_to("07:55")
    bench.badge(ALICE)
    bench.settle(0.6)
    bench.device(1, True)  # the phone goes in; the door is left standing open
    watch = NoUnlock(bench)
    bench.settle(60)
    assert not bench.alerts(ev.ALERT_DOOR_LEFT_OPEN)
    for _ in range(30):
        bench.settle(60)
    assert [a.slot for a in bench.alerts(ev.ALERT_DOOR_LEFT_OPEN)] == [1]
    bench.door(1, False)
    assert bench.state(1) == "held"
    watch.check()


# ------------------------------------------------------------------ a flapping input


#: Toggles of the flapping input: thousands through the survival test, a few hundred
#: for the alert count.
FLAPS = 2000
FLAPS_FOR_ALERTS = 200


def flap(bench: Bench, pin, times: int) -> None:
    """Toggle an input ``times`` times, the loop taking the flood in batches."""
    for n in range(times):
        if n % 2 == 0:
            pin.drive_high()
        else:
            pin.drive_low()
        if n % 100 == 99:
            bench.daemon.step(0)
    bench.settle(1)


@pytest.mark.parametrize("which", ["door", "sensor"])
def test_a_flapping_input_neither_crashes_the_daemon_nor_unlocks(held, which):
    pin = held.door_pin(1) if which == "door" else held.sensor_pin(1)
    watch = NoUnlock(held)
    flap(held, pin, FLAPS)  # an even number: the input ends where it started
    watch.check()
    assert held.chain_ok()
    # Once the input has been still for the settle time its guard reports where
    # it came to rest (the next pass takes that in), and the stored slot agrees.
    held.settle(SETTLE_S)
    held.settle()
    with held.db.read() as session:
        row = session.get(Slot, 1)
        assert (row.door_open, row.device_present) == (False, True)
    assert held.daemon.healthy


@pytest.mark.parametrize("which", ["door", "sensor"])
def test_a_flapping_input_raises_one_hardware_fault_not_a_flood(held, which):
    pin = held.door_pin(1) if which == "door" else held.sensor_pin(1)
    flap(held, pin, FLAPS_FOR_ALERTS)
    kinds = alert_kinds(held)
    # The few changes before the flap is caught are taken at face value (a door
    # opening is door_forced, a sensor change tamper); then one fault, and quiet.
    assert kinds[ev.ALERT_HARDWARE_FAULT] == 1, f"no hardware_fault for a flapping {which}: {kinds}"
    assert sum(kinds.values()) <= 10, f"{sum(kinds.values())} alerts for one flapping {which}"
    component = "door switch" if which == "door" else "device sensor"
    fault = held.alerts(ev.ALERT_HARDWARE_FAULT)[0]
    assert fault.slot == 1 and f"slot 1 {component}: flapping" in fault.details["message"]


# ------------------------------------------------------------------ the reader


def poll_for(bench: Bench, seconds: float) -> None:
    """Poll the reader every 0.1 s of simulated time, stepping the loop each time."""
    for _ in range(round(seconds / 0.1)):
        bench.clock.advance(0.1)
        bench.poll()
        bench.daemon.step(0)


def test_a_reader_that_stops_answering_raises_one_hardware_fault_and_recovers(held):
    watch = NoUnlock(held)
    chip = held.backend.reader.chip
    chip.fail_mode = "silent_chip"
    held.world.present_card(ALICE)  # somebody badges in vain
    poll_for(held, 30)
    assert alert_kinds(held) == {ev.ALERT_HARDWARE_FAULT: 1}
    assert "reader" in held.alerts(ev.ALERT_HARDWARE_FAULT)[0].details["message"]
    assert not held.backend.reader_healthy and not held.daemon.healthy  # no watchdog pet
    watch.check()
    chip.fail_mode = None
    held.world.remove_card()
    poll_for(held, 6)
    assert held.backend.reader_healthy
    held.go_to("12:05")
    held.badge(ALICE)  # on her break: the reader works again
    assert held.state(1) == "open_for_release"


def test_a_card_that_never_answers_reads_as_no_card(held):
    watch = NoUnlock(held)
    held.backend.reader.chip.fail_mode = "no_answer"
    held.go_to("12:05")
    held.world.present_card(ALICE)
    poll_for(held, 5)
    watch.check()
    assert held.backend.reader_healthy  # the chip answers; the card does not
    assert held.count(ev.BADGE_GRANTED) == 1  # the deposit's, nothing since


def test_a_noisy_reader_never_crashes_the_loop_nor_opens_for_garbage(held):
    # Noise on MISO: every register but the version reads random bytes 1 time
    # in 4, while an unknown card comes and goes.
    chip = held.backend.reader.chip
    rng = random.Random(7)
    clean_read = chip._read

    def noisy(register: int) -> int:
        value = clean_read(register)
        if register == 0x37 or rng.random() > 0.25:
            return value
        return rng.randrange(256)

    chip._read = noisy
    watch = NoUnlock(held)
    for n in range(600):
        if n % 5 == 0:
            held.world.present_card(UNKNOWN)
        elif n % 5 == 3:
            held.world.remove_card()
        held.clock.advance(0.1)
        held.poll()
        held.daemon.step(0)
    watch.check()
    assert held.chain_ok()


def test_a_reader_returning_garbage_raises_a_hardware_fault(held):
    watch = NoUnlock(held)
    # Alice's card still rests on the reader, halted since its read: it is not
    # read again, garbage or not. She takes it away and badges again.
    held.world.remove_card()
    poll_for(held, 1.5)
    held.backend.reader.chip.fail_mode = "bad_bcc"  # every UID arrives with a wrong check byte
    held.world.present_card(ALICE)
    poll_for(held, 30)  # 150 failed reads in a row
    watch.check()
    assert held.count(ev.BADGE_GRANTED) == 1  # nothing read since the deposit
    # The version register answers, so the reader stays healthy, but the
    # failed reads themselves are one alert.
    assert alert_kinds(held)[ev.ALERT_HARDWARE_FAULT] == 1, alert_kinds(held)
    assert "badge reads failed" in held.alerts(ev.ALERT_HARDWARE_FAULT)[0].details["message"]
    assert held.backend.reader_healthy


# ------------------------------------------------------------------ a stuck lock


def stick(bench: Bench, slot: int) -> None:
    """The lock's driver is dead: its output never leaves the level it is at."""
    pin = bench.lock_pin(slot)
    pin._change_state = lambda value: False


def test_a_lock_that_does_not_release_relocks_on_time_and_keeps_the_device(held):
    stick(held, 1)
    edges, unlocks = held.energising_edges(1), held.unlocks(1)
    held.go_to("12:05")
    held.badge(ALICE)  # released for her break, but the door never pops
    assert held.state(1) == "open_for_release"
    assert not held.world.slot(1).door_open
    held.settle(31)  # the door timeout
    assert held.state(1) == "held"
    assert held.count(ev.RELEASE_TIMEOUT) == 1
    assert (held.energising_edges(1), held.unlocks(1)) == (edges, unlocks)  # never opened
    assert not held.lock_pin(1).state
    assert held.daemon.healthy
    assert held.chain_ok()


def test_a_lock_that_never_releases_raises_a_hardware_fault(held):
    stick(held, 1)
    held.go_to("12:02")
    for _ in range(3):
        held.badge(ALICE)
        held.settle(31)
    assert held.count(ev.RELEASE_TIMEOUT) == 3
    # Three releases in a row after which the sprung door never opened: the
    # lock (or its driver) is dead, and a manager should hear of it.
    faults = [a for a in held.alerts(ev.ALERT_HARDWARE_FAULT) if a.slot == 1]
    assert len(faults) == 1, alert_kinds(held)
