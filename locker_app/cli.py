"""The ``locker`` command line.

A user's mistake (a bad config, an unknown badge, a broken CSV row) ends with a
one-line ``error: ...`` on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from locker import __version__
from locker.clock import SystemClock
from locker.commands import CommandKind
from locker.config import DEFAULT_CONFIG_PATH, Config, config_path, default_config_text, load_config
from locker.db import Database, migrate, require_current_schema
from locker.models import Command
from locker_app import cli_notify, cli_person_export, cli_slot
from locker_app.cli_group import EXIT_ERROR, EXIT_USAGE, LockerGroup, fail, friendly, read_password
from locker_app.cli_hub import hub as hub_commands
from locker_app.cli_person import person as person_commands

EXIT_CHAIN_BROKEN = 3


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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
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


#: New directories and files of the locker: the owner and its group, nobody else
#: (the database holds names, badge UIDs and password hashes). The group is the
#: directory's (``scripts/install.sh`` makes it the shared group, setgid).
PRIVATE_DIR = 0o750
PRIVATE_FILE = 0o640


def private_database(url: str) -> None:
    """Create a SQLite database file ``0640`` before SQLite would (``0644``), or take
    the world's access away from an existing one and its ``-wal``/``-shm``.

    SQLite gives its journal files the database's own mode, so they follow.
    """
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            file.chmod(file.stat().st_mode & 0o7770)


def write_secret_key(config: Config) -> None:
    """Create the panel's secret key file (mode 0600) if the config names one that is missing."""
    key_file = config.web.secret_key_file
    if not key_file or Path(key_file).exists():
        return
    Path(key_file).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    click.echo(f"wrote a new secret key to {key_file}")


# ------------------------------------------------------ accounts, tokens


@main.group()
def user() -> None:
    """Panel accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "manager", "admin"]), required=True)
@pass_app
@friendly
def user_add(app: App, name: str, role: str) -> None:
    """Add a panel account; the password is prompted for, or read from stdin."""
    from locker.accounts import add_account

    password = read_password()
    with app.db.write() as session:
        add_account(session, name, role, password, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"account {name} ({role}) added")


@user.command("passwd")
@click.argument("name")
@pass_app
@friendly
def user_passwd(app: App, name: str) -> None:
    """Set a new password for the panel account NAME (prompted, or read from stdin);
    every session started with the old one ends and its API tokens are revoked."""
    from locker.accounts import set_password

    password = read_password()
    with app.db.write() as session:
        set_password(session, name, password, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"new password set for {name}; its sessions have ended and its tokens are revoked")


@user.command("deactivate")
@click.argument("name")
@pass_app
@friendly
def user_deactivate(app: App, name: str) -> None:
    """Deactivate the panel account NAME: it cannot log in; its sessions end and its
    tokens are revoked."""
    from locker.accounts import set_active

    with app.db.write() as session:
        set_active(session, name, False, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"account {name} deactivated; its sessions have ended and its tokens are revoked")


@user.command("activate")
@click.argument("name")
@pass_app
@friendly
def user_activate(app: App, name: str) -> None:
    """Let the panel account NAME log in again (its old tokens stay revoked)."""
    from locker.accounts import set_active

    with app.db.write() as session:
        set_active(session, name, True, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"account {name} can log in again")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("name")
@pass_app
@friendly
def token_create(app: App, name: str) -> None:
    """Print a new API bearer token for the panel account NAME."""
    from locker.accounts import create_token

    with app.db.write() as session:
        value = create_token(session, name, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(value)


@token.command("list")
@pass_app
@friendly
def token_list(app: App) -> None:
    """List every API token: its ID, account, when made and last used, and if revoked."""
    from locker.accounts import list_tokens

    with app.db.read() as session:
        rows = list_tokens(session)
    if not rows:
        click.echo("no API tokens yet: make one with `locker token create NAME`")
        return
    click.echo(f"{'id':>4}  {'account':<20} {'created':<17} {'last used':<17} revoked")
    for row in rows:
        click.echo(
            f"{row.id:>4}  {row.username:<20} {_when(row.created_at):<17} "
            f"{_when(row.last_used_at):<17} {_when(row.revoked_at) if row.revoked_at else '-'}"
        )


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(1, 2**63 - 1))
@pass_app
@friendly
def token_revoke(app: App, token_id: int) -> None:
    """Revoke API token ID (see `locker token list`): its next request gets 401."""
    from locker.accounts import revoke_token

    with app.db.write() as session:
        row = revoke_token(session, token_id, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"token {row.id} of {row.username} revoked")


def _when(moment: datetime | None) -> str:
    """A stored UTC time as ``YYYY-MM-DD HH:MM`` UTC, or ``-``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


# -------------------------------------------------------- staff, badges


@main.group()
def staff() -> None:
    """People whose devices the locker holds."""


@staff.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["staff", "manager"]), default="staff", show_default=True)
@click.option("--badge", metavar="UID", help="Badge UID in hex, e.g. DEADBEEF.")
@click.option("--slot", type=int, metavar="N", help="Their own slot (fixed assignment).")
@click.option("--setting-devices", is_flag=True, help="May check out the setting's devices.")
@pass_app
@friendly
def staff_add(
    app: App, name: str, role: str, badge: str | None, slot: int | None, setting_devices: bool
) -> None:
    """Add a member of staff (or a manager) with an optional badge and slot."""
    from locker.people import add_person

    if slot is not None and slot not in {s.number for s in app.config.slots}:
        fail(f"--slot: there is no slot {slot} in the config")
    with app.db.write() as session:
        person = add_person(
            session,
            name,
            role=role,
            badge=badge,
            slot=slot,
            setting_authorised=setting_devices,
            at=app.clock.now(),
            actor=app.actor,
        )
        app.notify_daemon(session)
        session.commit()
    click.echo(f"added {person.name} (id {person.id})")


@staff.command("list")
@pass_app
@friendly
def staff_list(app: App) -> None:
    """List everybody with their role, slot and badges."""
    from locker.people import list_people

    with app.db.read() as session:
        rows = list_people(session)
    if not rows:
        click.echo("nobody yet: add people with `locker staff add NAME --badge UID`")
        return
    click.echo(f"{'id':>4}  {'name':<28} {'role':<8} {'slot':>4}  badges")
    for row in rows:
        slot = str(row.slot) if row.slot is not None else "-"
        badges = ", ".join(row.badges) or "-"
        inactive = "" if row.active else "  (inactive)"
        click.echo(f"{row.id:>4}  {row.name:<28} {row.role:<8} {slot:>4}  {badges}{inactive}")


@main.group()
def badge() -> None:
    """Badges."""


@badge.command("revoke")
@click.argument("uid")
@pass_app
@friendly
def badge_revoke(app: App, uid: str) -> None:
    """Revoke badge UID: it will be refused at the locker from now on."""
    from locker.people import revoke_badge

    with app.db.write() as session:
        row = revoke_badge(session, uid, at=app.clock.now(), actor=app.actor)
        app.notify_daemon(session)
        session.commit()
    click.echo(f"badge {row.uid} revoked")


# ------------------------------------------------------------------ rota


@main.group()
def rota() -> None:
    """Shifts and breaks."""


@rota.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
@friendly
def rota_import(app: App, file: Path) -> None:
    """Import shifts and breaks from a CSV file (date,name,start,end,breaks)."""
    from locker.rota_file import import_rota

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{file}: not a UTF-8 text file")
    with app.db.write() as session:
        result = import_rota(session, text, tz=app.config.tz, at=app.clock.now(), actor=app.actor)
        if result.changed_anything:
            app.notify_daemon(session)
        session.commit()
    click.echo(
        f"rota imported: {result.added} added, {result.changed} changed, "
        f"{result.unchanged} unchanged"
    )


# ------------------------------------------------------------------- log


@main.group()
def log() -> None:
    """The tamper-evident event log."""


@log.command("verify")
@click.option(
    "--checkpoint",
    "printed",
    metavar="ID:HASH",
    multiple=True,
    help="Also check that event ID still carries HASH, as printed on a daily report (repeatable).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object, with SQLite's quick check of the file "
    "(the daemon's nightly check runs this, at the lowest priority).",
)
@click.option(
    "--incremental",
    is_flag=True,
    help="Walk only the events after the last verified checkpoint, once that still "
    "holds (the daemon's nightly check; a whole walk every 7th time).",
)
@pass_app
@friendly
def log_verify(app: App, printed: tuple[str, ...], as_json: bool, incremental: bool) -> None:
    """Check the hash chain; exit 3 naming the first bad event if it is broken.

    The whole chain is walked from its start unless --incremental is given.
    With --checkpoint, also hold the log against the checkpoints printed on
    paper: a chain rewritten with its checkpoints agrees with itself, but no
    longer reaches a hash printed before the rewrite.
    """
    from locker.log import paper_mismatch, verify, verify_since_checkpoint

    check = verify_since_checkpoint if incremental else verify
    if as_json:
        _verify_as_json(app, check)
        return
    pairs = [parse_checkpoint(text) for text in printed]
    with app.db.read() as session:
        report = check(session)
        mismatches = [paper_mismatch(session, event_id, digest) for event_id, digest in pairs]
    problems = []
    if report.ok:
        click.echo(
            f"ok: {report.checked} events verified, head {report.head_id} {report.head_hash}"
        )
        if report.resumed_from is not None:
            click.echo(
                f"(walked from the checkpoint at event {report.resumed_from}, verified before)"
            )
    else:
        problems.append(f"chain broken at event {report.first_bad_id}: {report.reason}")
    for (event_id, _digest), mismatch in zip(pairs, mismatches, strict=True):
        if mismatch is None:
            click.echo(f"ok: event {event_id} carries the hash printed on paper")
        else:
            problems.append(f"checkpoint does not match paper: {mismatch}")
    if problems:
        for problem in problems[:-1]:
            click.echo(f"error: {problem}", err=True)
        fail(problems[-1], EXIT_CHAIN_BROKEN)


_PRINTED_CHECKPOINT = re.compile(r"\s*([0-9]{1,18})\s*:\s*([0-9a-fA-F]{64})\s*")


def _verify_as_json(app: App, check: Callable[[Any], Any]) -> None:
    """The chain (by ``check``) and SQLite's quick check, as JSON, at the lowest priority."""
    import json

    from locker.storage import quick_check
    from locker_app.log_check import lower_priority

    lower_priority()
    integrity = quick_check(app.db.engine)
    with app.db.read() as session:
        report = check(session)
    click.echo(json.dumps({**dataclasses.asdict(report), "integrity": integrity}))
    if not report.ok:
        sys.exit(EXIT_CHAIN_BROKEN)


def parse_checkpoint(text: str) -> tuple[int, str]:
    """``ID:HASH`` as printed on a daily report: an event number and its 64 hex digits."""
    match = _PRINTED_CHECKPOINT.fullmatch(text)
    if match is None or int(match[1]) < 1:
        fail(
            f"--checkpoint {text!r} is not ID:HASH (an event number, a colon and the "
            "64-character hash printed on the report)"
        )
    return int(match[1]), match[2].lower()


def parse_moment(text: str | None, config: Config, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (local midnight; the day after for ``--until``) or an ISO time."""
    from locker.rota import FIRST_DAY, LAST_DAY, day_problem

    if text is None:
        return None
    try:
        if len(text) == 10:
            day, why = day_problem(text)
            if day is None:
                raise click.BadParameter(why)
            moment = datetime.combine(day, time(0), tzinfo=config.tz)
            if end:
                moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=config.tz)
            return moment.astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or ISO time") from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise click.BadParameter(
            f"{text!r} is out of range: the locker takes days from {FIRST_DAY} to {LAST_DAY}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.tz)
    return moment.astimezone(UTC)


@log.command("export")
@click.option("--since", metavar="DATE|TIME", help="From this local day or ISO time.")
@click.option("--until", metavar="DATE|TIME", help="Up to the end of this local day or time.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@pass_app
@friendly
def log_export(app: App, since: str | None, until: str | None, fmt: str) -> None:
    """Stream events to stdout as CSV or JSON lines."""
    from locker.log import export

    start = parse_moment(since, app.config)
    stop = parse_moment(until, app.config, end=True)
    out = sys.stdout
    with app.db.read() as session:
        export(session, out, fmt=fmt, since=start, until=stop)


# ---------------------------------------------------------------- daemon


@main.command()
@pass_app
@friendly
def daemon(app: App) -> None:
    """Run the controller daemon (owns the pins and the reader) until stopped."""
    import logging

    from locker_app.service import run_daemon

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    code = run_daemon(app.config)
    if code:
        sys.exit(code)


@main.command("safe-locks")
@pass_app
@friendly
def safe_locks(app: App) -> None:
    """Drive every lock output to its safe state (systemd runs it after the daemon ends)."""
    from hardware.safe_locks import make_locks_safe

    slots = make_locks_safe(app.config)
    click.echo(f"{len(slots)} lock outputs driven to their safe state")


# ------------------------------------------------------------- web, demo


def serve_panel(config: Config, *, port: int | None = None) -> None:
    """Serve the panel with waitress (never Flask's development server), tuned for a Pi
    on a LAN (:mod:`web.server`)."""
    from locker_app.notify.worker import NotifyWorker
    from web import create_app
    from web.server import serve

    app = create_app(config=config)
    # Notifications and the controller watch run beside the panel, never in the daemon.
    worker = NotifyWorker(config, Database(config.db_url, create=False), SystemClock())
    worker.start()
    try:
        serve(app, host=config.web.host, port=port or config.web.port)
    finally:
        worker.stop()


@main.command()
@pass_app
@friendly
def web(app: App) -> None:
    """Run the panel's web server (production: waitress)."""
    require_current_schema(Database(app.config.db_url, create=False).engine)
    serve_panel(app.config)


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's config, database and secrets here (default: a new temporary directory).",
)
@click.option("--start", metavar="ISO-TIME", help="Local time the simulated clock starts at.")
@click.option(
    "--speed",
    type=click.FloatRange(0.1, 3600),
    default=1.0,
    show_default=True,
    help="How many times faster than real time the simulated clock runs.",
)
@click.option(
    "--slots",
    type=click.IntRange(1, 32),
    help="A bank of this many slots, on simulated MCP23017 expanders beyond the header's four.",
)
@friendly
def demo(
    port: int, data_dir: Path | None, start: str | None, speed: float, slots: int | None
) -> None:
    """A whole simulated nursery: the daemon and the panel on 127.0.0.1, no Pi needed."""
    import subprocess
    import tempfile

    from locker.demo import DEMO_PASSWORD, DEMO_USER, seed, setting_slots, write_demo_config

    data_dir = (data_dir or Path(tempfile.mkdtemp(prefix="locker-demo-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir / "config.toml"
    if not config_file.exists():
        begin = _demo_start(start)
        write_demo_config(config_file, port=port, start=begin, speed=speed, slots=slots)
        config_file.chmod(PRIVATE_FILE)
        config = load_config(config_file)
        write_secret_key(config)
        private_database(config.db_url)
        seed(config, Database(config.db_url), at=begin)
        from hardware.sim_world import SimulatedWorld

        world = SimulatedWorld(data_dir / "sim_world.json")
        world.build(s.number for s in config.slots)
        for number in setting_slots(config):
            world.set_device(number, True)
    config = load_config(config_file)
    migrate(Database(config.db_url).engine)
    env = {**os.environ, "LOCKER_CONFIG": str(config_file)}
    daemon_process = subprocess.Popen([sys.executable, "-m", "locker_app", "daemon"], env=env)
    click.echo(
        f"\nnursery-locker demo: {config.site_name}\n"
        f"  panel:    http://127.0.0.1:{port}/\n"
        f"  login:    {DEMO_USER} / {DEMO_PASSWORD}\n"
        f"  data:     {data_dir}\n"
        f"Stop with Ctrl-C.\n"
    )
    # SIGTERM ends the demo like Ctrl-C, so the daemon is always stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve_panel(config, port=port)
    finally:
        daemon_process.terminate()
        daemon_process.wait(timeout=15)


def _demo_start(text: str | None) -> datetime:
    """The simulated clock's start: ``--start``, or 07:20 today (local time)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/London")
    if text is None:
        return datetime.combine(datetime.now(tz).date(), time(7, 20), tzinfo=tz)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO time", param_hint="--start") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


# ---------------------------------------------------------------- doctor


@main.command()
@pass_app
def doctor(app: App) -> None:
    """Check the config, database, SPI reader, GPIO pins, clock, services and power."""
    from locker.doctor import exit_code, format_report, run_checks
    from locker_app.probes import MachineEnvironment

    results = run_checks(app.path, environment=MachineEnvironment())
    click.echo(format_report(results))
    sys.exit(exit_code(results))


# ---------------------------------------------------------------- notify

main.add_command(cli_notify.notify)
main.add_command(cli_slot.slot)

# ---------------------------------------------------------------- person

main.add_command(person_commands)
person_commands.add_command(cli_person_export.person_export)
