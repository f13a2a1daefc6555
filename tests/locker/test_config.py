"""The config file: defaults, validation, and messages that name the key."""

from __future__ import annotations

import tomllib

import pytest

from locker.config import default_config_text, load_config, parse_config
from locker.errors import ConfigError


def default_raw() -> dict:
    return tomllib.loads(default_config_text())


def test_default_config_is_valid_and_typed():
    config = parse_config(default_raw())
    assert config.timezone == "Europe/London"
    assert [s.number for s in config.slots] == [1, 2, 3, 4]
    assert config.lock.type == "pulse"
    assert config.db_url == "sqlite:////var/lib/nursery-locker/locker.db"
    assert config.rules.closing.hour == 18


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(colour="red"), "colour: unknown key"),
        (lambda r: r["lock"].update(type="magnet"), "lock.type: must be one of"),
        (lambda r: r["lock"].update(unlock_pulse_s=0), "lock.unlock_pulse_s: 0.0 is out of range"),
        (lambda r: r["rules"].update(door_timeout_s="30"), "rules.door_timeout_s: expected float"),
        (lambda r: r["reader"].update(poll_interval_s=True), "reader.poll_interval_s: expected"),
        (lambda r: r["slots"][2].pop("sensor_pin"), "slots[2].sensor_pin: missing"),
        (lambda r: r["slots"][1].update(door_pin=5), "slots[1].door_pin: GPIO5 is already used"),
        (lambda r: r["slots"][0].update(lock_pin=10), "slots[0].lock_pin: GPIO10 belongs to SPI0"),
        (lambda r: r["slots"][0].update(lock_pin=40), "slots[0].lock_pin: GPIO40 is not on"),
        (lambda r: r["slots"][3].update(number=1), "slots[3].number: slot 1 is defined twice"),
        (lambda r: r["slots"][0].update(kind="spare"), "slots[0].kind: must be one of"),
        (lambda r: r["slots"][0].update(wings=2), "slots[0].wings: unknown key"),
        (lambda r: r.update(timezone="Mars/Olympus"), "timezone: unknown time zone"),
        (lambda r: r["rules"].update(closing_time="6pm"), "rules.closing_time: expected HH:MM"),
        (lambda r: r.update(slots=[]), "slots: at least one slot"),
        (lambda r: r["bank"].update(buzzer_pin=17), "GPIO17 is already used by bank.buzzer_pin"),
        (
            lambda r: r["lock"].update(unlock_pulse_s=3.0, max_energised_s=2.0),
            "lock.unlock_pulse_s: longer than lock.max_energised_s",
        ),
    ],
)
def test_bad_config_is_refused_naming_the_key(change, message):
    raw = default_raw()
    change(raw)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw)


def test_simulated_backend_allows_pins_beyond_the_header():
    raw = default_raw()
    raw["hardware"]["backend"] = "simulated"
    raw["slots"][0]["lock_pin"] = 40
    assert parse_config(raw).slot(1).lock_pin == 40


def test_load_config_reports_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[lock\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    good = tmp_path / "good.toml"
    good.write_text(default_config_text())
    assert load_config(good).path == str(good)
