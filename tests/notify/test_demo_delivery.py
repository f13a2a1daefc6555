"""The demo's nursery (``locker demo``'s config and data) with a phone's destination:
a forced door reaches a local HTTP receiver, and so does its resolution."""

from __future__ import annotations

import time
import tomllib

import tomli_w

from hardware.sim_world import SimulatedWorld
from locker.config import load_config
from locker.db import Database
from locker.demo import seed, setting_slots, write_demo_config
from locker_app.notify.worker import NotifyWorker
from tests.support.bench import Bench
from tests.support.nursery import MONDAY, at

START = at(MONDAY, "07:20")
#: Generous, for a busy machine: the worker sends on its next round.
PATIENCE_S = 60.0


def wait_for(receiver, count: int) -> list[dict]:
    deadline = time.monotonic() + PATIENCE_S
    while len(receiver.bodies) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(receiver.bodies)


def demo_with_destination(tmp_path, url: str) -> Bench:
    """``locker demo``'s config and seeded data, with ``[[notify.destinations]]`` added."""
    config_file = tmp_path / "config.toml"
    write_demo_config(config_file, port=8099, start=START, speed=1.0)
    raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
    raw["notify"] = {"destinations": [{"name": "phone", "url": url, "kinds": ["safety"]}]}
    config_file.write_text(tomli_w.dumps(raw), encoding="utf-8")
    config = load_config(config_file)
    db = Database(config.db_url)
    seed(config, db, at=START)
    db.dispose()
    # As ``locker demo`` does: the setting's tablets are in their slots in the world too.
    world = SimulatedWorld(tmp_path / "sim_world.json")
    world.build(s.number for s in config.slots)
    for number in setting_slots(config):
        world.set_device(number, True)
    return Bench(tmp_path, config=config, people=())


def test_a_forced_door_in_the_demo_reaches_the_phone_and_so_does_its_resolution(tmp_path, receiver):
    bench = demo_with_destination(tmp_path, receiver.url())
    worker = NotifyWorker(bench.config, bench.db, bench.clock, interval_s=0.2)
    worker.start()
    try:
        bench.door(1, True)  # slot 1 is locked: forced
        (raised,) = wait_for(receiver, 1)
        bench.door(1, False)
        bodies = wait_for(receiver, 2)
    finally:
        worker.stop()
        bench.close()
    assert "Door forced open (slot 1)" in raised["title"]
    assert "Little Acorns Nursery (demo)" in raised["title"]
    resolved = bodies[1]
    assert "resolved" in resolved["title"].lower(), resolved
    assert "the door was shut" in resolved["message"], resolved
