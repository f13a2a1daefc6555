"""``locker slot stock N``: the command line asks the daemon to open a setting slot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from locker import events as ev
from locker.clock import SimulatedClock
from locker.config import load_config
from locker.controller import Controller
from locker.db import Database
from locker.decisions import SensorReading
from locker.doorbell import Doorbell, doorbell_path
from locker.models import Command, Event, Slot
from locker_app.cli import main
from tests.support.live import publish


@pytest.fixture
def bank(tmp_path, monkeypatch):
    """``locker init``'s bank with its visitor slot (4) made a setting slot."""
    config_file = tmp_path / "config.toml"
    monkeypatch.setenv("LOCKER_CONFIG", str(config_file))
    monkeypatch.setenv("USER", "ann")
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    text = config_file.read_text()
    config_file.write_text(text.replace('kind = "visitor"', 'kind = "setting"'))
    config = load_config(config_file)
    db = Database(config.db_url)
    yield config, db
    db.dispose()


@pytest.fixture
def daemon(bank):
    """A controller that carries out commands when its doorbell rings, and says it runs."""
    config, db = bank
    controller = Controller(config, db, SimulatedClock(datetime.now(UTC)))
    controller.start({s.number: SensorReading(False, False) for s in config.slots})

    def run_waiting() -> None:
        for queued in controller.waiting_commands():
            controller.run_command(queued)

    bell = Doorbell(doorbell_path(config.data_dir), run_waiting)
    bell.start()
    publish(config, heartbeat_at=datetime.now(UTC).isoformat())
    yield controller
    bell.close()


def stock(number: str):
    return CliRunner().invoke(main, ["slot", "stock", number], catch_exceptions=False)


def commands(db) -> list[Command]:
    with db.read() as session:
        return list(session.scalars(select(Command)))


def test_stock_opens_a_free_setting_slot_logged_with_the_user(bank, daemon):
    config, db = bank
    result = stock("4")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Slot 4 is open: put the setting's device in and close the door."
    )
    (command,) = commands(db)
    assert (command.kind, command.payload, command.status) == ("stock", {"slot": 4}, "done")
    assert command.account == "cli:ann" and command.client == "command line"
    with db.read() as session:
        assert session.get(Slot, 4).state == "open_for_deposit"
        opened = session.scalars(select(Event).where(Event.kind == ev.SLOT_UNLOCKED)).all()
    assert [(e.slot, e.actor) for e in opened] == [(4, "cli:ann")]


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("1", "error: slot 1 is not a setting slot"),
        ("9", "error: there is no slot 9"),
    ],
)
def test_a_slot_that_is_not_a_setting_slot_is_refused(bank, daemon, number, error):
    config, db = bank
    result = stock(number)
    assert result.exit_code == 1
    assert result.output.strip() == error
    assert commands(db) == []


def test_a_setting_slot_that_is_not_free_is_refused(bank, daemon):
    config, db = bank
    assert stock("4").exit_code == 0
    again = stock("4")
    assert again.exit_code == 1
    assert again.output.strip() == (
        "error: slot 4 is not free (open for a device to go in): "
        "only an empty setting slot opens to be stocked"
    )
    assert len(commands(db)) == 1


def test_nothing_is_queued_when_the_daemon_is_not_running(bank):
    config, db = bank
    result = stock("4")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: the locker controller is not running (see `systemctl status nursery-locker`); "
        "nothing was opened"
    )
    assert commands(db) == []
