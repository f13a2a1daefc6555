"""``locker doctor`` probes each expander: answers at its address, reads back a register."""

from __future__ import annotations

import tomllib

from hardware.mcp23017 import Mcp23017
from hardware.mcp23017_emulator import EmulatedI2CBus, MCP23017Emulator
from locker.config import default_config_text, parse_config
from locker.doctor_expanders import check_expanders


def config(backend="gpio"):
    raw = tomllib.loads(default_config_text())
    raw["hardware"]["backend"] = backend
    raw["expanders"] = [
        {"name": "mcp0", "address": 0x20, "interrupt_pin": 4},
        {"name": "mcp1", "address": 0x21, "interrupt_pin": 4},
    ]
    raw["slots"][0].update(lock_pin="mcp0:A0", door_pin="mcp0:A1", sensor_pin="mcp1:A2")
    return parse_config(raw)


def probe_on(bus):
    return lambda expander: Mcp23017(expander.name, bus, expander.address).probe()


def test_expanders_that_answer_pass_with_the_pull_reminder():
    bus = EmulatedI2CBus()
    bus.attach(0x20, MCP23017Emulator())
    bus.attach(0x21, MCP23017Emulator())
    status, message, _ = check_expanders(config(), probe_on(bus), daemon_running=False)
    assert status == "ok"
    assert "2 answer" in message and "pull to its safe state" in message
    assert bus.chip(0x20).register("DEFVAL", "A") == 0  # left as it was


def test_a_missing_expander_fails_naming_it_and_its_address():
    bus = EmulatedI2CBus()
    bus.attach(0x20, MCP23017Emulator())
    status, message, fix = check_expanders(config(), probe_on(bus), daemon_running=False)
    assert status == "fail"
    assert "expanders[1] mcp1 (bus 1, 0x21): no answer at 0x21" in message
    assert "address straps" in fix and "safe state" in fix


def test_skipped_while_the_daemon_owns_the_bus_or_in_simulation():
    bus = EmulatedI2CBus()
    assert check_expanders(config(), probe_on(bus), daemon_running=True)[0] == "skip"
    assert check_expanders(config("simulated"), probe_on(bus), daemon_running=False)[0] == "skip"
