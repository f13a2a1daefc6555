"""The commands that run the locker or look at the Pi: ``locker daemon``,
``locker safe-locks``, ``locker web``, ``locker demo`` and ``locker doctor``.

``app`` is the CLI's :class:`locker_app.cli.App` (config, database, clock, actor).
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime, time
from pathlib import Path

import click

from locker.clock import SystemClock
from locker.config import Config, load_config
from locker.db import Database, migrate, require_current_schema
from locker_app.cli_group import friendly
from locker_app.private_files import PRIVATE_FILE, private_database, write_secret_key

# ---------------------------------------------------------------- daemon


@click.command()
@click.pass_obj
@friendly
def daemon(app) -> None:
    """Run the controller daemon (owns the pins and the reader) until stopped."""
    import logging

    from locker_app.service import run_daemon

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    code = run_daemon(app.config)
    if code:
        sys.exit(code)


@click.command("safe-locks")
@click.pass_obj
@friendly
def safe_locks(app) -> None:
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


@click.command()
@click.pass_obj
@friendly
def web(app) -> None:
    """Run the panel's web server (production: waitress)."""
    _check_destinations(app.config)
    require_current_schema(Database(app.config.db_url, create=False).engine)
    serve_panel(app.config)


@click.command()
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
    _check_destinations(config)
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


def _check_destinations(config: Config) -> None:
    """Refuse a ``[notify]`` section apprise cannot use (see
    :func:`locker_app.notify.channel.check_destinations`)."""
    # Imported here, not at the top: apprise is megabytes of the daemon's
    # memory, and `locker daemon` loads this module but never sends.
    from locker_app.notify.channel import check_destinations

    check_destinations(config)


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


@click.command()
@click.pass_obj
def doctor(app) -> None:
    """Check the config, database, SPI reader, GPIO pins, clock, services and power."""
    from locker.doctor import exit_code, format_report, run_checks
    from locker_app.probes import MachineEnvironment

    results = run_checks(app.path, environment=MachineEnvironment())
    click.echo(format_report(results))
    sys.exit(exit_code(results))
