"""The wiring tables (README and docs/hardware.md) match the default config, pin for pin."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from locker.config import default_config_text, parse_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "docs" / "hardware.md"]
ROW = re.compile(r"^\| (?P<what>[^|]+) \| GPIO(?P<bcm>\d+) \| (?P<pin>\d+) \| `(?P<key>[^`]+)` \|$")


def wiring_rows(doc: Path) -> list[re.Match]:
    return [m for line in doc.read_text().splitlines() if (m := ROW.match(line))]


def config_value(config, key: str):
    path = key.split(" = ")[0]
    value = config
    for part in re.findall(r"[a-z_]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else getattr(value, part)
    return value


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_configured_pin_is_in_the_table_with_its_number(doc):
    config = parse_config(tomllib.loads(default_config_text()))
    rows = wiring_rows(doc)
    pins_in_table = {}
    for row in rows:
        key = row["key"]
        if " = " in key:  # an SPI line: the config names the bus or device, not the pin
            continue
        assert config_value(config, key) == int(row["bcm"]), row.group(0)
        pins_in_table[key] = int(row["bcm"])
    configured = {"reader.rst_pin", "bank.green_led_pin", "bank.red_led_pin", "bank.buzzer_pin"}
    for i, slot in enumerate(config.slots):
        configured |= {f"slots[{i}].{name}" for name in ("lock_pin", "door_pin", "sensor_pin")}
        assert slot.led_pin is None
    assert set(pins_in_table) == configured


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_header_pin_numbers_are_right(doc):
    # BCM → physical pin on the 40-pin header.
    header = {
        2: 3,
        3: 5,
        4: 7,
        17: 11,
        27: 13,
        22: 15,
        10: 19,
        9: 21,
        11: 23,
        5: 29,
        6: 31,
        13: 33,
        19: 35,
        26: 37,
        14: 8,
        15: 10,
        18: 12,
        23: 16,
        24: 18,
        25: 22,
        8: 24,
        7: 26,
        12: 32,
        16: 36,
        20: 38,
        21: 40,
    }
    for row in wiring_rows(doc):
        assert header[int(row["bcm"])] == int(row["pin"]), row.group(0)
