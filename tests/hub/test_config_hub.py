"""The [hub] and [hub_server] config sections: checked at start-up, named in errors."""

from __future__ import annotations

import pytest

from locker.config import parse_config
from locker.errors import ConfigError

SLOT = {"number": 1, "kind": "staff", "lock_pin": 17, "door_pin": 5, "sensor_pin": 16}


def test_a_hub_config_needs_no_slots_and_a_site_config_keeps_needing_them():
    hub = parse_config({"hub_server": {"database_url": "postgresql+psycopg://hub@/hub"}})
    assert hub.hub_server.port == 8090 and hub.hub_server.offline_after_s == 600
    with pytest.raises(ConfigError, match="slots: at least one slot is needed"):
        parse_config({})


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"hub_server": {"database_url": "sqlite:///hub.db"}}, "the hub stores in PostgreSQL"),
        ({"hub_server": {"port": 0}, "slots": [SLOT]}, "hub_server.port: 0 is out of range"),
        ({"hub": {"url": "ftp://hub"}, "slots": [SLOT]}, "hub.url: expected an http(s)://"),
        ({"hub": {"url": "https://hub"}, "slots": [SLOT]}, "hub.token_file: needed with hub.url"),
        ({"hub": {"batch_size": 0}, "slots": [SLOT]}, "hub.batch_size: 0 is out of range"),
        ({"hub": {"uri": "https://hub"}, "slots": [SLOT]}, "hub.uri: unknown key"),
    ],
)
def test_bad_hub_settings_are_named(raw, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_config({"hardware": {"backend": "simulated"}, **raw})
