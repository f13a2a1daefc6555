"""The ``reader.irq_pin`` config key: off by default, a pin like any other when set."""

from __future__ import annotations

import tomllib

import pytest

from locker.config import default_config_text, parse_config
from locker.errors import ConfigError


def raw_config(**reader: object) -> dict:
    raw = tomllib.loads(default_config_text())
    raw["reader"].update(reader)
    return raw


def test_irq_mode_is_off_by_default():
    assert parse_config(raw_config()).reader.irq_pin is None


def test_an_irq_pin_is_read():
    assert parse_config(raw_config(irq_pin=4)).reader.irq_pin == 4


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        (25, "reader.irq_pin: GPIO25 is already used by reader.rst_pin"),
        (10, "reader.irq_pin: GPIO10 belongs to SPI0"),
        (40, "reader.irq_pin: GPIO40 is not on"),
        ("4", "reader.irq_pin: expected int"),
    ],
)
def test_a_bad_irq_pin_is_refused_naming_the_key(pin, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw_config(irq_pin=pin))
