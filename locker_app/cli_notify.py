"""``locker notify test [DESTINATION]``: send a test message now and say what happened.

It sends directly (not through the outbox), so an unreachable host shows here
at once (an unknown scheme or a bad URL is refused before anything is sent, as
``locker web`` refuses it at its start); each send is logged as the
outbox's are (``notify.sent`` / ``notify.failed``, the destination by name).
"""

from __future__ import annotations

import sys

import click

from locker import events as ev
from locker.decisions import LogEntry
from locker.errors import LockerError
from locker.log import append

EXIT_ERROR = 1


@click.group()
def notify() -> None:
    """Notifications to the manager (e-mail, ntfy, webhooks...)."""


@notify.command("test")
@click.argument("destination", required=False)
@click.pass_obj
def notify_test(app, destination: str | None) -> None:
    """Send a test message to DESTINATION (a name from [notify]), or to every one."""
    try:
        _test(app, destination)
    except LockerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)


def _test(app, destination: str | None) -> None:
    """``app`` is the CLI's :class:`locker_app.cli.App` (config, database, actor)."""
    # Imported here: every command's process (the daemon's too) loads this
    # module, and only this command sends.
    from locker_app.notify.channel import AppriseChannel, SendError, check_destinations

    config = app.config
    check_destinations(config)
    targets = config.notify.destinations
    if not targets:
        raise LockerError("no [[notify.destinations]] in the config: nothing to test")
    if destination is not None:
        try:
            targets = (config.notify.destination(destination),)
        except KeyError:
            names = ", ".join(d.name for d in config.notify.destinations)
            raise LockerError(
                f"no destination is called {destination!r} (there are: {names})"
            ) from None
    channel = AppriseChannel(config)
    subject = f"[{config.site_name}] Test message"
    body = "A test from `locker notify test`: alerts from the locker will reach you here."
    failed = 0
    for dest in targets:
        try:
            channel.send(dest, subject, body)
        except SendError as exc:
            failed += 1
            click.echo(f"{dest.name}: NOT SENT: {exc}")
            details = {"destination": dest.name, "topic": "test", "error": str(exc)}
            _log(app, ev.NOTIFY_FAILED, details)
        else:
            click.echo(f"{dest.name}: sent")
            _log(app, ev.NOTIFY_SENT, {"destination": dest.name, "topic": "test"})
    if failed:
        sys.exit(EXIT_ERROR)


def _log(app, kind: str, details: dict) -> None:
    with app.db.write() as session:
        append(session, LogEntry(kind, app.actor, details=details), app.clock.now())
        session.commit()
