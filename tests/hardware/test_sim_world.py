"""The simulated physical world: persistence, wiring to the pins, and its physics."""

from __future__ import annotations

import json
import threading

import pytest
from fixtures_devices import clock, default_config, demo_config, factory, timers
from gpiozero.pins.mock import MockFactory

from hardware.devices import build_bank
from hardware.pins import SimulatedPinFactory
from hardware.sim_world import SimulatedWorld, card_uid
from locker.errors import HardwareError, InvalidRequest, NotFound

__all__ = ["clock", "factory", "timers"]  # fixtures, imported for pytest to find


@pytest.fixture
def world_path(tmp_path):
    return tmp_path / "sim" / "world.json"


class Rig:
    """A bank of simulated slots with the world attached, as the daemon sets it up."""

    def __init__(self, path, pin_factory, clock, timers, config, **world_options):
        self.config = config
        self.factory = pin_factory
        self.clock = clock
        self.bank = build_bank(config, pin_factory, clock, timer_factory=timers)
        self.world = SimulatedWorld(path, **world_options)
        self.world.attach(pin_factory, config)
        self.events = []
        for number, slot in self.bank.slots.items():
            slot.door.on_change(lambda closed, n=number: self.events.append((n, "door", closed)))
            slot.sensor.on_change(
                lambda present, n=number: self.events.append((n, "device", present))
            )

    def tick(self, seconds=0.1):
        self.clock.advance(seconds)
        self.bank.update()
        self.world.sync()

    def pin(self, number, name):
        return self.factory.pin(getattr(self.config.slot(number), name))

    def close(self):
        self.world.detach()
        self.bank.close()


@pytest.fixture
def make_rig(world_path, clock, timers):
    rigs = []

    def make(config=None, pin_factory=None, **world_options):
        rig = Rig(
            world_path,
            pin_factory or SimulatedPinFactory(),
            clock,
            timers,
            config or demo_config(4),
            **world_options,
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


# Persistence


def test_a_new_world_is_shut_and_empty(world_path):
    world = SimulatedWorld(world_path)
    assert world.snapshot() == {"card": None, "slots": {}}
    assert not world_path.exists(), "nothing is written until something happens"


def test_world_survives_a_new_instance(make_rig, world_path):
    rig = make_rig()
    rig.world.set_device(2, True)
    rig.world.set_door(3, True)
    rig.world.present_card("04A1B2C3")
    again = SimulatedWorld(world_path)
    assert again.snapshot() == rig.world.snapshot()
    assert again.slot(2).device_present and again.slot(3).door_open
    assert again.card == "04a1b2c3"
    rig.world.remove_card()
    assert SimulatedWorld(world_path).card is None


def test_world_file_is_replaced_whole(make_rig, world_path):
    rig = make_rig()
    for n in range(1, 5):
        rig.world.set_device(n, True)
    data = json.loads(world_path.read_text())
    assert data["version"] == 1
    assert all(slot["device_present"] for slot in data["slots"].values())
    assert [p.name for p in world_path.parent.iterdir()] == ["world.json"], "no temp files left"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 99, "card": null, "slots": {}}',
        '{"version": 1, "card": null, "slots": {"1": {"door_open": "yes"}}}',
        '{"version": 1, "card": null, "slots": {"1": {"lid": true}}}',
        '{"version": 1, "card": "zz", "slots": {}}',
        "[]",
    ],
)
def test_a_damaged_world_file_is_named(world_path, content):
    world_path.parent.mkdir(parents=True)
    world_path.write_text(content)
    with pytest.raises(HardwareError, match="world.json"):
        SimulatedWorld(world_path)


def test_restarted_daemon_finds_the_world_as_it_was(make_rig, world_path, clock, timers):
    rig = make_rig()
    rig.world.set_door(1, True)
    rig.world.set_device(2, True)
    rig.bank.slots[4].lock.unlock()
    rig.tick(1)
    rig.close()

    pin_factory = SimulatedPinFactory()
    config = rig.config
    bank = build_bank(config, pin_factory, clock, timer_factory=timers)
    try:
        world = SimulatedWorld(world_path)
        world.attach(pin_factory, config)
        assert not bank.slots[1].door.is_closed
        assert bank.slots[2].door.is_closed and bank.slots[2].sensor.is_present
        assert not bank.slots[3].sensor.is_present
        assert world.outputs()["slots"][4]["unlock_count"] == 1, "the count outlives the restart"
    finally:
        bank.close()


# Wiring


def test_attach_holds_inputs_where_the_world_says(make_rig):
    rig = make_rig()
    for number, slot in rig.bank.slots.items():
        assert slot.door.is_closed, f"slot {number} starts shut"
        assert not slot.sensor.is_present
    assert rig.pin(1, "door_pin").state is False
    assert rig.pin(1, "sensor_pin").state is True


def test_attaching_before_the_bank_is_built_works_too(world_path, clock, timers):
    pin_factory = SimulatedPinFactory()
    config = demo_config(2)
    world = SimulatedWorld(world_path)
    world.attach(pin_factory, config)
    world.set_device(1, True)
    bank = build_bank(config, pin_factory, clock, timer_factory=timers)
    try:
        assert bank.slots[1].door.is_closed, "a pull-up does not beat a shut switch"
        assert bank.slots[1].sensor.is_present
    finally:
        bank.close()


def test_moving_doors_and_devices_calls_back(make_rig):
    rig = make_rig()
    rig.world.set_door(2, True)
    rig.world.set_device(2, True)
    rig.world.set_device(2, True)  # no change, no event
    rig.world.set_door(2, False)
    assert rig.events == [(2, "door", False), (2, "device", True), (2, "door", True)]
    assert rig.bank.slots[2].sensor.is_present


def test_attach_needs_the_simulated_factory(world_path):
    world = SimulatedWorld(world_path)
    with pytest.raises(HardwareError, match="SimulatedPinFactory"):
        world.attach(MockFactory(), default_config())


def test_unknown_slot_is_named(make_rig):
    rig = make_rig()
    with pytest.raises(NotFound, match="slot 9"):
        rig.world.set_door(9, True)


# Physics: pulse locks


def test_pulse_pops_the_door(make_rig):
    rig = make_rig()
    rig.bank.slots[1].lock.unlock()
    rig.world.sync()
    assert rig.world.slot(1).door_open
    assert rig.events == [(1, "door", False)]
    assert not rig.bank.slots[1].door.is_closed


def test_a_pulse_between_two_syncs_still_pops_the_door(make_rig):
    rig = make_rig()
    lock = rig.bank.slots[3].lock
    lock.unlock()
    rig.clock.advance(0.5)
    rig.bank.update()
    assert not lock.energised, "the pulse is over before the world looks"
    rig.world.sync()
    assert rig.world.slot(3).door_open
    assert rig.world.outputs()["slots"][3]["unlock_count"] == 1


def test_outputs_show_the_lock_and_its_count(make_rig):
    rig = make_rig()
    rig.bank.slots[2].lock.unlock()
    out = rig.world.outputs()
    assert out["slots"][2] == {"lock_energised": True, "unlock_count": 1, "led": False}
    assert out["slots"][1]["lock_energised"] is False
    rig.tick(0.5)
    assert rig.world.outputs()["slots"][2]["lock_energised"] is False


def test_outputs_follow_an_active_low_driver(make_rig):
    rig = make_rig(demo_config(2, active_high=False))
    assert rig.pin(1, "lock_pin").state is True, "off is high on an active-low driver"
    out = rig.world.outputs()
    assert out["slots"][1] == {"lock_energised": False, "unlock_count": 0, "led": False}
    rig.bank.slots[1].lock.unlock()
    assert rig.world.outputs()["slots"][1]["lock_energised"] is True
    assert rig.world.slot(1).door_open


def test_outputs_show_the_status_lights_and_slot_leds(make_rig):
    rig = make_rig()
    rig.bank.lights.show("refused")
    rig.bank.slots[4].led.on()
    out = rig.world.outputs()
    assert out["leds"] == {"green": False, "red": True}
    assert out["buzzer"] is True
    assert out["slots"][4]["led"] is True


def test_a_shut_latched_door_opened_is_forced(make_rig):
    rig = make_rig()
    assert rig.world.set_door(1, True) is True
    assert rig.world.slot(1).forced_count == 1
    assert rig.world.slot(1).door_open, "forcing still opens the door"


def test_shutting_a_popped_door_latches_it_again(make_rig):
    rig = make_rig()
    rig.bank.slots[1].lock.unlock()
    rig.tick(1)
    assert rig.world.slot(1).door_open
    assert rig.world.set_door(1, False) is False
    assert rig.world.set_door(1, True) is True, "latched again once shut"


def test_without_a_sprung_door_a_pulse_only_frees_the_latch(make_rig):
    rig = make_rig(pulse_pops_door=False)
    rig.bank.slots[1].lock.unlock()
    rig.tick(1)
    assert not rig.world.slot(1).door_open
    assert rig.world.slot(1).latch_released
    assert rig.world.set_door(1, True) is False, "free to open after the pulse"
    rig.world.set_door(1, False)
    assert not rig.world.slot(1).latch_released
    assert rig.world.set_door(1, True) is True


def test_a_fresh_daemon_setting_its_outputs_is_not_an_unlock(world_path, clock, timers):
    pin_factory = SimulatedPinFactory()
    config = demo_config(2, active_high=False)
    world = SimulatedWorld(world_path)
    world.attach(pin_factory, config)
    bank = build_bank(config, pin_factory, clock, timer_factory=timers)
    try:
        world.sync()
        assert world.outputs()["slots"][1]["unlock_count"] == 0
        assert not world.slot(1).door_open
    finally:
        bank.close()


# Physics: hold locks


def test_hold_lock_holds_while_energised(make_rig):
    rig = make_rig(demo_config(2, lock_type="hold"))
    assert rig.world.outputs()["slots"][1]["lock_energised"] is True
    assert rig.world.set_door(1, True) is True, "a maglock was pulled open"
    rig.world.set_door(1, False)
    rig.bank.slots[1].lock.unlock()
    rig.tick()
    assert not rig.world.slot(1).door_open, "a hold lock does not pop the door"
    assert rig.world.set_door(1, True) is False
    assert rig.world.outputs()["slots"][1]["unlock_count"] == 1
    rig.bank.slots[1].lock.lock()
    rig.tick()
    assert rig.world.outputs()["slots"][1] == {
        "lock_energised": True,
        "unlock_count": 1,
        "led": False,
    }


def test_detached_hold_lock_is_taken_as_locked(make_rig, world_path):
    rig = make_rig(demo_config(2, lock_type="hold"))
    rig.close()
    world = SimulatedWorld(world_path)
    assert world.set_door(2, True) is True
    assert world.outputs()["slots"][2]["lock_energised"] is False, "no pins, nothing reads on"


# The card at the reader


@pytest.mark.parametrize(
    ("uid", "stored"),
    [("04A1B2C3", "04a1b2c3"), ("04:a1:b2:c3:d4:e5:f6", "04a1b2c3d4e5f6")],
)
def test_card_uids_are_stored_as_hex_of_their_bytes(world_path, uid, stored):
    world = SimulatedWorld(world_path)
    world.present_card(uid)
    assert world.card == stored
    assert card_uid(uid) == stored


@pytest.mark.parametrize("uid", ["", "xyz", "04a1b2", "04a1b2c3d4", 1234])
def test_a_bad_uid_is_refused(world_path, uid):
    world = SimulatedWorld(world_path)
    with pytest.raises(InvalidRequest, match="uid"):
        world.present_card(uid)
    assert world.card is None


# Threads


def test_the_world_is_thread_safe(make_rig, world_path):
    rig = make_rig()

    def flip(number):
        for i in range(50):
            rig.world.set_device(number, i % 2 == 0)
            rig.world.outputs()

    threads = [threading.Thread(target=flip, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not rig.world.slot(n).device_present for n in range(1, 5))
    assert SimulatedWorld(world_path).snapshot() == rig.world.snapshot()
