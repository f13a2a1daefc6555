"""The ``locker`` command line.

A user's mistake (a bad config, an unknown badge, a broken CSV row) ends with a
one-line ``error: ...`` on stderr and a non-zero exit, never a traceback.

This module holds what every command needs (:class:`App`), the ``locker`` group
and ``locker init``; each family of commands is a module of its own
(``cli_accounts``, ``cli_staff``, ``cli_log``, ``cli_run``, ``cli_person``,
``cli_slot``, ``cli_notify``, ``cli_hub``), registered here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from locker import __version__
from locker.clock import SystemClock
from locker.commands import CommandKind
from locker.config import DEFAULT_CONFIG_PATH, Config, config_path, default_config_text, load_config
from locker.db import Database, migrate, require_current_schema
from locker.models import Command
from locker_app import (
    cli_account_link,
    cli_accounts,
    cli_log,
    cli_notify,
    cli_person_export,
    cli_run,
    cli_slot,
    cli_staff,
)
from locker_app.cli_group import EXIT_ERROR, EXIT_USAGE, LockerGroup, fail, friendly
from locker_app.cli_hub import hub as hub_commands
from locker_app.cli_person import person as person_commands
from locker_app.private_files import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    create_new,
    private_database,
    write_secret_key,
)


class App:
    """What every command needs: the config path, and the config and database on demand."""

    def __init__(self, config_file: str | None):
        self.path = config_path(config_file)
        #: Whether the config path was given (``--config`` or ``$LOCKER_CONFIG``),
        #: not the system-wide default.
        self.path_given = bool(config_file or os.environ.get("LOCKER_CONFIG"))
        self.clock = SystemClock()
        self._config: Config | None = None
        self._db: Database | None = None

    @property
    def config(self) -> Config:
        """The validated config (read once)."""
        if self._config is None:
            self._config = load_config(self.path)
        return self._config

    @property
    def db(self) -> Database:
        """The database, which must be migrated to the current schema."""
        if self._db is None:
            self._db = Database(self.config.db_url)
            require_current_schema(self.db.engine)
        return self._db

    @property
    def actor(self) -> str:
        """Who is acting, for the log: the local user running the command."""
        return f"cli:{os.environ.get('SUDO_USER') or os.environ.get('USER') or 'unknown'}"

    def notify_daemon(self, session) -> None:
        """Ask the daemon to read people, badges and the rota again."""
        session.add(
            Command(kind=CommandKind.RELOAD, account=self.actor, created_at=self.clock.now())
        )


pass_app = click.make_pass_decorator(App)


@click.group("locker", cls=LockerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    metavar="PATH",
    help=f"Config file (default: $LOCKER_CONFIG or {DEFAULT_CONFIG_PATH}).",
)
@click.version_option(__version__, prog_name="locker")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """nursery-locker: the phone locker controller for nurseries."""
    ctx.obj = App(config_file)


main.add_command(hub_commands)


# ----------------------------------------------------------------- init


@main.command()
@click.option(
    "--system",
    is_flag=True,
    help=f"Use the system-wide places ({DEFAULT_CONFIG_PATH}, /var/lib/nursery-locker) "
    "without asking.",
)
@pass_app
@friendly
def init(app: App, system: bool) -> None:
    """Write a default config if there is none, then create or migrate the database."""
    path = app.path
    if not app.path_given and not system:
        _confirm_system_init(path)
    if not path.exists():
        data_dir = (
            "/var/lib/nursery-locker"
            if str(path) == DEFAULT_CONFIG_PATH
            else str(path.parent.resolve())
        )
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        text = default_config_text(data_dir=data_dir)
        if str(path) != DEFAULT_CONFIG_PATH:
            text = text.replace(
                'secret_key_file = "/etc/nursery-locker/secret_key"',
                f'secret_key_file = "{Path(data_dir) / "secret_key"}"',
            )
        with create_new(path, PRIVATE_FILE) as out:
            out.write(text)
        click.echo(f"wrote a default config to {path}: edit the slots and pins to match the wiring")
    config = app.config
    Path(config.data_dir).mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    write_secret_key(config)
    private_database(config.db_url)
    db = Database(config.db_url)
    migrate(db.engine)
    click.echo(f"database ready: {config.db_url}")


def stdin_is_a_terminal() -> bool:
    """Whether a person can be asked a question (not a script's pipe)."""
    return sys.stdin.isatty()


def _confirm_system_init(path: Path) -> None:
    """Say where ``locker init`` will write when no config path was given, and ask.

    Without a terminal to ask on, refuse: an installer's script says ``--system``
    (or gives ``--config``) so nothing lands in /etc by surprise.
    """
    where = (
        f"the config {path} (already there: kept as it is)"
        if path.exists()
        else f"a new config {path} and the data in /var/lib/nursery-locker"
    )
    message = (
        f"no --config PATH given: locker init would use {where}. "
        "Give --config PATH for another place, or --system for these"
    )
    if not stdin_is_a_terminal():
        fail(message, EXIT_USAGE)
    click.echo(message + ".", err=True)
    if not click.confirm("Use the system-wide places?", default=False, err=True):
        fail("nothing was written", EXIT_ERROR)


# ------------------------------- the other families, in modules of their own

main.add_command(cli_accounts.user)
main.add_command(cli_accounts.token)
main.add_command(cli_staff.staff)
main.add_command(cli_staff.badge)
main.add_command(cli_staff.rota)
main.add_command(cli_log.log)
main.add_command(cli_run.daemon)
main.add_command(cli_run.safe_locks)
main.add_command(cli_run.web)
main.add_command(cli_run.demo)
main.add_command(cli_run.doctor)

# ---------------------------------------------------------------- notify

main.add_command(cli_notify.notify)
main.add_command(cli_slot.slot)

# ---------------------------------------------------------------- person

main.add_command(person_commands)
person_commands.add_command(cli_person_export.person_export)
cli_accounts.user.add_command(cli_account_link.user_link)
