"""The demo's sample nursery: a valid config, people with badges, a rota for every day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from locker.clock import SimulatedClock
from locker.config import load_config
from locker.controller import Controller
from locker.db import Database
from locker.decisions import SensorReading
from locker.demo import PEOPLE, seed, setting_slots, write_demo_config
from locker.log import verify
from locker.models import Alert, Badge, PanelAccount, Person, Shift, Slot

START = datetime(2026, 11, 23, 7, 45, tzinfo=ZoneInfo("Europe/London"))


def test_the_sample_nursery(tmp_path):
    write_demo_config(tmp_path / "config.toml", port=8099, start=START, speed=2.0)
    config = load_config(tmp_path / "config.toml")
    kinds = [s.kind for s in config.slots]
    assert kinds.count("staff") == 16 and kinds.count("visitor") == 2
    assert kinds.count("setting") == 2
    assert config.web.host == "127.0.0.1" and config.web.port == 8099
    db = Database(config.db_url)
    seed(config, db, at=START)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == len(PEOPLE) == 14
        assert session.scalar(select(func.count()).select_from(Badge)) == 14
        managers = session.scalar(select(func.count()).where(Person.role == "manager"))
        assert managers == 2
        days = set(session.scalars(select(Shift.day)))
        today = START.date()
        assert {today + timedelta(days=d) for d in range(-7, 91)} <= days
        assert sorted(session.scalars(select(PanelAccount.username))) == ["deputy", "manager"]
        assert verify(session).ok
    # The daemon starts on it with the setting tablets in place and nothing to complain about.
    clock = SimulatedClock(START)
    sensors = {
        s.number: SensorReading(False, s.number in setting_slots(config)) for s in config.slots
    }
    Controller(config, db, clock).start(sensors)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        held = session.scalars(select(Slot.number).where(Slot.state == "held")).all()
        assert held == setting_slots(config)
