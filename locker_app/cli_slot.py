"""``locker slot stock N``: open an empty setting slot for the setting's own device.

The command line asks the daemon as the panel does: it checks the request
with the command contract (:func:`locker.commands.parse_command`), writes a
command row, rings the daemon's doorbell and waits a few seconds for the
answer. It refuses at once, and queues nothing, when the daemon is not
running: a queued request to open a slot would open it whenever the daemon
came back, with nobody there.
"""

from __future__ import annotations

import time
from typing import Any

import click

from locker.commands import (
    CommandKind,
    CommandStatus,
    bank_of,
    parse_command,
    payload_of,
    refuse_unless_free,
)
from locker.doorbell import doorbell_path, ring
from locker.errors import ControllerDown, LockerError
from locker.live_status import controller_time, heartbeat_fresh, read_live_status, status_path
from locker.models import Command, Slot
from locker_app.cli_group import friendly

#: Seconds the command waits for the daemon's answer.
WAIT_S = 5.0
POLL_S = 0.05
#: Written as the command's client: where the request came from, for the log.
CLIENT = "command line"
NOT_RUNNING = (
    "the locker controller is not running (see `systemctl status nursery-locker`); "
    "nothing was opened"
)


@click.group()
def slot() -> None:
    """A slot of the bank, by hand."""


@slot.command("stock")
@click.argument("number", type=int)
@click.pass_obj
@friendly
def stock(app, number: int) -> None:
    """Open the empty setting slot NUMBER for the setting's own device to be put in."""
    click.echo(_stock(app, number))


def _stock(app, number: int) -> str:
    """``app`` is the CLI's :class:`locker_app.cli.App`; the sentence to print."""
    config = app.config
    asked = parse_command(CommandKind.STOCK, {"slot": number}, bank_of(config))
    live = read_live_status(status_path(config.status_dir)) or {}
    real = app.clock.now()
    if not heartbeat_fresh(live, real):
        raise ControllerDown(NOT_RUNNING)
    with app.db.write() as session:
        row = session.get(Slot, asked.slot)
        state = row.state if row is not None else "unknown"
        # The panel's words; imported here, as the panel itself is, to keep the CLI quick.
        from web.words import state_words

        refuse_unless_free(asked.slot, state, state_words(state).lower())
        command = Command(
            kind=CommandKind.STOCK,
            payload=payload_of(asked),
            account=app.actor,
            client=CLIENT,
            created_at=controller_time(live, real, config.hardware.sim_speed),
            requested_at=real,
        )
        session.add(command)
        session.commit()
        command_id = command.id
    ring(doorbell_path(config.data_dir))
    status, result = _wait(app, command_id)
    if status == CommandStatus.DONE:
        return f"Slot {asked.slot} is open: put the setting's device in and close the door."
    if status == CommandStatus.PENDING:
        return (
            f"The controller has not answered yet; slot {asked.slot} opens when it reaches "
            f"the request (within {config.commands.max_age_s:.0f} s, or not at all)."
        )
    raise LockerError(f"the controller refused: {result.get('error', 'refused')}")


def _wait(app, command_id: int) -> tuple[str, dict[str, Any]]:
    """Poll the command's row until the daemon has answered or :data:`WAIT_S` is over."""
    deadline = time.monotonic() + WAIT_S
    while True:
        with app.db.read() as session:
            command = session.get(Command, command_id)
            status, result = command.status, dict(command.result or {})
        if status != CommandStatus.PENDING or time.monotonic() >= deadline:
            return status, result
        time.sleep(POLL_S)
