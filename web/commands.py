"""Asking the daemon to act: a Command row, the doorbell, then a short wait for its answer.

The panel never drives a lock itself. It stores what it wants as a
:class:`~locker.models.Command`, rings the daemon's doorbell so it looks at
once, and polls the row for a few seconds. A command the daemon has not
answered by then stays queued and is carried out when the daemon gets to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from locker.commands import CommandKind, CommandStatus, opens_a_slot
from locker.doorbell import doorbell_path, ring
from locker.errors import ControllerDown
from locker.models import Command
from web.context import controller_now, daemon_state, get_config, get_db, real_now
from web.words import in_words

#: Seconds a view waits for the daemon's answer (app config ``LOCKER_COMMAND_WAIT_S``).
WAIT_S = 3.0
POLL_S = 0.02

NOT_RUNNING = "The controller is not running; the request will be carried out when it starts."
NOT_YET = "The controller has not answered yet; the request will be carried out shortly."
CONTROLLER_DOWN = "The locker controller is not running; nothing was opened."


@dataclass(frozen=True)
class CommandOutcome:
    """Where a command stands after the wait: ``done``, ``failed`` or still ``pending``."""

    command_id: int
    kind: str
    status: str
    result: dict[str, Any] = field(default_factory=dict)
    daemon_running: bool = True

    @property
    def error(self) -> str | None:
        """The daemon's reason for refusing, when it did."""
        if self.status in (CommandStatus.FAILED, CommandStatus.EXPIRED):
            return self.result.get("error", "refused")
        return None


def send_command(kind: CommandKind, payload: dict[str, Any], *, account: str, client: str):
    """Queue ``kind`` for the daemon, wake it and wait briefly for the outcome.

    A command that would open a slot is refused at once while the daemon is
    down (:class:`ControllerDown`): queued, it would open the slot whenever
    the daemon came back, with nobody there. Others may wait in the queue.
    """
    db = get_db()
    with db.write() as session:
        state = daemon_state(session)
        if not state.running and opens_a_slot(kind, payload):
            raise ControllerDown(CONTROLLER_DOWN)
        command = Command(
            kind=kind,
            payload=payload,
            account=account,
            client=client,
            created_at=controller_now(state),
            requested_at=real_now(),
        )
        session.add(command)
        session.commit()
        command_id = command.id
    ring(doorbell_path(get_config().data_dir))
    if not state.running:
        return CommandOutcome(command_id, kind, "pending", daemon_running=False)
    status, result = wait_for_command(command_id)
    return CommandOutcome(command_id, kind, status, result)


def wait_for_command(command_id: int) -> tuple[str, dict[str, Any]]:
    """Poll the command's row until the daemon has answered or the wait is over."""
    wait_s = current_app.config.get("LOCKER_COMMAND_WAIT_S", WAIT_S)
    deadline = time.monotonic() + wait_s
    while True:
        with get_db().read() as session:
            command = session.get(Command, command_id)
            status, result = command.status, dict(command.result or {})
        if status != "pending" or time.monotonic() >= deadline:
            return status, result
        time.sleep(POLL_S)


def describe(outcome: CommandOutcome, names: dict[str, str] | None = None) -> str:
    """One sentence telling a manager what became of their request."""
    if outcome.status == CommandStatus.PENDING:
        return NOT_YET if outcome.daemon_running else NOT_RUNNING
    if outcome.status == CommandStatus.FAILED:
        return f"The controller refused: {in_words(str(outcome.error))}."
    if outcome.status == CommandStatus.EXPIRED:
        return f"Not carried out: {outcome.error}."
    result, names = outcome.result, names or {}
    slot = result.get("slot")
    who = names.get("person", "")
    if outcome.kind == CommandKind.GRANT:
        if result.get("same_grant"):
            return f"{who}'s release was already granted moments ago; nothing more was opened."
        if result.get("waiting_for_badge"):
            return f"Release granted for {who}: it opens at their next badge."
        return f"Release granted for {who}: slot {slot} is open."
    if outcome.kind == CommandKind.RELEASE_SLOT:
        if who:
            return f"{who}'s device is released from slot {slot}: the slot is open."
        return f"Slot {slot} is open for its device to be taken."
    if outcome.kind == CommandKind.RELEASE_ALL:
        opened = result.get("slots") or []
        if not opened:
            return "Release all: no slot was holding a device."
        if len(opened) == 1:
            return f"Release all: slot {opened[0]} is open."
        return "Release all: slots " + ", ".join(map(str, opened)) + " are open."
    if outcome.kind == CommandKind.VISITOR_IN:
        return f"Slot {slot} is open for {names.get('visitor', 'the visitor')}'s phone."
    if outcome.kind == CommandKind.VISITOR_OUT:
        visitor = names.get("visitor", "the visitor")
        return f"Slot {slot} is open: {visitor} can take their phone."
    if outcome.kind == CommandKind.STOCK:
        return f"Slot {slot} is open: put the setting's device in and close the door."
    return "Done."
