"""``[[expanders]]`` and expander pins in config: declared, strapped, never used twice."""

from __future__ import annotations

import tomllib

import pytest

from locker.config import default_config_text, parse_config
from locker.errors import ConfigError


def raw_config(**lock: object) -> dict:
    """The default config with slot 1 moved onto an expander's lines."""
    raw = tomllib.loads(default_config_text())
    raw["lock"].update(lock)
    raw["expanders"] = [{"name": "mcp0", "bus": 1, "address": 0x20, "interrupt_pin": 4}]
    raw["slots"][0].update(lock_pin="mcp0:A0", door_pin="mcp0:B0", sensor_pin="mcp0:B1")
    return raw


def test_expander_lines_are_slot_pins():
    config = parse_config(raw_config())
    assert config.expanders[0].name == "mcp0"
    assert config.expanders[0].address == 0x20
    slot = config.slots[0]
    assert (slot.lock_pin, slot.door_pin, slot.sensor_pin) == ("mcp0:A0", "mcp0:B0", "mcp0:B1")


def test_the_power_budget_defaults_to_two_locks_at_once():
    assert parse_config(raw_config()).lock.max_simultaneous == 2
    assert parse_config(raw_config(max_simultaneous=4)).lock.max_simultaneous == 4


def test_expanders_may_share_an_interrupt_line():
    raw = raw_config()
    raw["expanders"].append({"name": "mcp1", "address": 0x21, "interrupt_pin": 4})
    assert [e.interrupt_pin for e in parse_config(raw).expanders] == [4, 4]


def change_door_pin(pin):
    def change(raw):
        raw["slots"][0]["door_pin"] = pin

    return change


def change_expander(**values):
    def change(raw):
        raw["expanders"][0].update(values)

    return change


def add_expander(**values):
    def change(raw):
        raw["expanders"].append({"name": "mcp1", "address": 0x21, "interrupt_pin": 4, **values})

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (change_door_pin("mcp9:A1"), "slots\\[0\\].door_pin: expander 'mcp9' is not declared"),
        (change_door_pin("mcp0:A0"), "slots\\[0\\].door_pin: mcp0:A0 is already used by slots"),
        (change_door_pin("mcp0:A8"), "slots\\[0\\].door_pin: 'mcp0:A8' is neither"),
        (change_door_pin("mcp0:C1"), "slots\\[0\\].door_pin: 'mcp0:C1' is neither"),
        (change_door_pin(3), "slots\\[0\\].door_pin: GPIO3 is already used by the expanders' I2C"),
        (change_door_pin(4), "slots\\[0\\].door_pin: GPIO4 is already used by expanders\\[0\\]"),
        (change_expander(address=0x28), "expanders\\[0\\].address: 0x28 is out of range"),
        (change_expander(address=0x1F), "expanders\\[0\\].address: 0x1f is out of range"),
        (change_expander(interrupt_pin=10), "expanders\\[0\\].interrupt_pin: GPIO10 belongs"),
        (change_expander(interrupt_pin=25), "reader.rst_pin: GPIO25 is already used by expanders"),
        (change_expander(colour="red"), "expanders\\[0\\].colour: unknown key"),
        (add_expander(name="mcp0"), "expanders\\[1\\].name: expander 'mcp0' is declared twice"),
        (add_expander(address=0x20), "expanders\\[1\\].address: 0x20 on bus 1 is already mcp0"),
        (add_expander(name="mcp-1"), "expanders\\[1\\].name: 'mcp-1' must be"),
    ],
)
def test_bad_expander_config_is_refused_naming_the_key(change, message):
    raw = raw_config()
    change(raw)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_the_same_address_on_another_bus_is_another_expander():
    raw = raw_config()
    add_expander(address=0x20, bus=3)(raw)
    assert len(parse_config(raw).expanders) == 2


def test_more_locks_at_once_than_a_bank_can_have_is_refused():
    with pytest.raises(ConfigError, match="lock.max_simultaneous: 33 is out of range"):
        parse_config(raw_config(max_simultaneous=33))
