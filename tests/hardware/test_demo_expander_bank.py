"""``locker demo --slots N``: the header's own pins for a small bank, expanders beyond it."""

from __future__ import annotations

from datetime import datetime

import pytest

from locker.config import load_config
from locker.demo import demo_kinds, write_demo_config
from tests.support.bench import ALICE, PEOPLE, Bench


def demo_config(tmp_path, slots):
    config_file = tmp_path / "config.toml"
    write_demo_config(
        config_file, port=8080, start=datetime(2026, 1, 5, 7, 30), speed=1, slots=slots
    )
    return load_config(config_file)


@pytest.mark.parametrize(("slots", "expanders"), [(4, 0), (5, 1), (16, 4), (24, 5), (32, 7)])
def test_the_demo_bank_goes_on_expanders_past_the_header(tmp_path, slots, expanders):
    config = demo_config(tmp_path, slots)
    assert len(config.slots) == slots
    assert len(config.expanders) == expanders
    on_expanders = {isinstance(s.lock_pin, str) for s in config.slots}
    assert on_expanders == {expanders > 0}


def test_every_demo_bank_has_a_staff_slot():
    for slots in range(1, 33):
        assert demo_kinds(slots).count("staff") >= 1
    with pytest.raises(ValueError, match="1 to 32"):
        demo_kinds(33)


def test_a_24_slot_demo_bank_takes_a_deposit_through_the_expanders(tmp_path):
    (tmp_path / "demo").mkdir()
    config = demo_config(tmp_path / "demo", 24)
    bench = Bench(tmp_path, config=config, people=[PEOPLE[0]])
    try:
        bench.go_to("07:55")
        bench.deposit(ALICE, 1)
        assert bench.backend.expanders is not None
        assert bench.world.outputs()["slots"][1]["unlock_count"] == 1
    finally:
        bench.close()
        bench.db.dispose()
