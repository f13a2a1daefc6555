"""A 32-slot bank on seven simulated MCP23017s over two I2C buses (five slots each)."""

from __future__ import annotations

import dataclasses

from locker.config import parse_config
from tests.support.bench import ALICE, MARY, PEOPLE, Bench
from tests.support.nursery import make_config

SLOTS = 32
#: Five slots (15 lines) per expander: seven expanders, four on bus 1, three on bus 3.
PER_EXPANDER = 5


def expander_bank_config():
    """``make_config``'s rules on a 32-slot bank whose pins are all expander lines."""
    base = make_config(staff=SLOTS - 2)
    raw = {
        "site_name": base.site_name,
        "timezone": base.timezone,
        "hardware": {"backend": "simulated"},
        "rules": {"assignment": "dynamic"},
        "expanders": [
            {
                "name": f"mcp{i}",
                "bus": 1 if i < 4 else 3,
                "address": 0x20 + i % 4,
                "interrupt_pin": 4 if i < 4 else 17,
            }
            for i in range(7)
        ],
        "slots": [],
    }
    for number, slot in enumerate(base.slots, start=1):
        expander, place = divmod(number - 1, PER_EXPANDER)
        line = 3 * place
        names = [f"mcp{expander}:{'AB'[n // 8]}{n % 8}" for n in (line, line + 1, line + 2)]
        raw["slots"].append(
            {
                "number": number,
                "kind": slot.kind,
                "lock_pin": names[0],
                "door_pin": names[1],
                "sensor_pin": names[2],
            }
        )
    return dataclasses.replace(parse_config(raw), rules=base.rules)


def expander_bench(folder) -> Bench:
    """The daemon stepped by hand on that bank, with Alice (staff) and Mary (manager)."""
    return Bench(
        folder,
        config=expander_bank_config(),
        people=[p for p in PEOPLE if p[1] in (ALICE, MARY)],
    )
