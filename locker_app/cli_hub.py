"""``locker hub ...``: the group hub's commands, and the site's sync worker.

The hub's commands read ``[hub_server]`` of the config (``database_url``, a
PostgreSQL URL); ``locker hub sync`` runs on a site and reads ``[hub]``.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from locker.errors import LockerError
from locker_app.cli_group import read_password

# The App object comes from the main group as click's context object; this
# module does not import locker_app.cli, which imports it to register it.
pass_app = click.pass_obj

#: Seconds between two sweeps for silent sites in ``locker hub serve``.
OFFLINE_SWEEP_S = 30


def friendly(func):
    """The product's own errors as one ``error:`` line and exit status 1, like ``locker``'s."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LockerError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            raise click.ClickException(
                f"hub database: {str(exc.orig or exc).splitlines()[0]}"
            ) from None
        except OSError as exc:
            raise click.ClickException(
                f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
            ) from None

    return wrapper


@contextmanager
def _hub_db(app) -> Iterator:
    """The hub's database for one command; its connections closed at the end."""
    from hub.db import HubDatabase

    db = HubDatabase(app.config.hub_server.database_url)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def _hub_session(app) -> Iterator:
    """One committed transaction on the hub's database."""
    with _hub_db(app) as db, db.session() as session:
        yield session


@click.group()
def hub() -> None:
    """The group hub (many nurseries, one view) and a site's shipping to it."""


@hub.command("init")
@pass_app
@friendly
def hub_init(app) -> None:
    """Create or migrate the hub's database; write its secret key if missing."""
    key_file = app.config.hub_server.secret_key_file
    if key_file and not Path(key_file).exists():
        Path(key_file).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        click.echo(f"wrote a new secret key to {key_file}")
    with _hub_db(app) as db:
        db.migrate()
    click.echo("the hub's database is ready")


@hub.command("serve")
@click.option("--host", help="Address to listen on (default: [hub_server] host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [hub_server] port).")
@pass_app
@friendly
def hub_serve(app, host: str | None, port: int | None) -> None:
    """Run the hub's web server (waitress); put a TLS reverse proxy in front of it."""
    from hub.app import create_app
    from web.server import serve

    with _hub_db(app) as db:
        db.require_current_schema()
        server = app.config.hub_server
        flask_app = create_app(app.config, db, clock=app.clock)
        threading.Thread(
            target=_sweep_forever,
            args=(db, server.offline_after_s, app.clock),
            daemon=True,
            name="offline",
        ).start()
        host, port = host or server.host, port or server.port
        click.echo(f"nursery group hub on http://{host}:{port}/")
        serve(flask_app, host=host, port=port)


def _sweep_forever(db, offline_after_s: int, clock) -> None:
    """Raise an offline alert for every silent site, every :data:`OFFLINE_SWEEP_S`."""
    from datetime import timedelta

    from hub.alerts import sweep_offline

    while True:
        try:
            with db.session() as session:
                sweep_offline(session, clock.now(), timedelta(seconds=offline_after_s))
        except SQLAlchemyError as exc:
            click.echo(f"offline sweep failed: {exc}", err=True)
        time.sleep(OFFLINE_SWEEP_S)


@hub.group("site")
def hub_site() -> None:
    """The sites that ship to this hub."""


@hub_site.command("add")
@click.argument("name")
@pass_app
@friendly
def hub_site_add(app, name: str) -> None:
    """Register site NAME and print its token (once: the hub keeps only its digest)."""
    from hub.accounts import add_site

    _echo_new_token(app, lambda session: add_site(session, name, app.clock.now()))


@hub_site.command("new-token")
@click.argument("name")
@pass_app
@friendly
def hub_site_new_token(app, name: str) -> None:
    """Give site NAME a new token and print it (once); its old token stops working."""
    from hub.accounts import new_site_token

    _echo_new_token(app, lambda session: new_site_token(session, name))


@hub_site.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask: remove it.")
@pass_app
@friendly
def hub_site_remove(app, name: str, yes: bool) -> None:
    """Remove site NAME and everything the hub holds of it (its log, reports, alerts).

    For a setting that closed, or the old name of a site registered again
    after an upgrade. The site's own log is not touched.
    """
    from hub.accounts import remove_site

    if not yes:
        click.confirm(
            f"Remove site {name!r} and everything this hub holds of it? It cannot be undone.",
            abort=True,
        )
    with _hub_session(app) as session:
        removed = remove_site(session, name)
    held = ", ".join(f"{table} {count:,}" for table, count in removed.items() if count)
    click.echo(f"site {name} removed ({held or 'nothing stored'})")


def _echo_new_token(app, make) -> None:
    """Print the token ``make(session)`` creates, once its transaction has committed."""
    with _hub_session(app) as session:
        token = make(session)
    click.echo(token)


@hub.group("user")
def hub_user() -> None:
    """The hub's accounts: group admins and area managers."""


@hub_user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["group_admin", "area_manager"]), required=True)
@click.option("--site", "sites", multiple=True, help="An area manager's site (repeatable).")
@pass_app
@friendly
def hub_user_add(app, name: str, role: str, sites: tuple[str, ...]) -> None:
    """Add a hub account; the password is prompted for, or read from stdin."""
    from hub.accounts import add_account

    password = read_password()
    with _hub_session(app) as session:
        add_account(session, name, role, password, list(sites), app.clock.now())
    seen = ", ".join(sites) if sites else "every site"
    click.echo(f"hub account {name} ({role}) added; sees {seen}")


@hub_user.command("deactivate")
@click.argument("name")
@pass_app
@friendly
def hub_user_deactivate(app, name: str) -> None:
    """Deactivate hub account NAME: no login; its sessions end and its tokens are revoked."""
    _set_active(app, name, False)


@hub_user.command("activate")
@click.argument("name")
@pass_app
@friendly
def hub_user_activate(app, name: str) -> None:
    """Activate hub account NAME again (it logs in afresh; make it new tokens)."""
    _set_active(app, name, True)


def _set_active(app, name: str, active: bool) -> None:
    from hub.accounts import set_active

    with _hub_session(app) as session:
        set_active(session, name, active, app.clock.now())
    click.echo(f"hub account {name} {'active' if active else 'deactivated'}")


@hub.group("token")
def hub_token() -> None:
    """API tokens of hub accounts."""


@hub_token.command("create")
@click.argument("name")
@pass_app
@friendly
def hub_token_create(app, name: str) -> None:
    """Create an API token for hub account NAME and print it (once)."""
    from hub.accounts import create_token

    _echo_new_token(app, lambda session: create_token(session, name, app.clock.now()))


@hub.command("sync")
@click.option("--url", default="", help="The hub's address (default: [hub] url).")
@click.option("--token-file", default="", help="The site's token file (default: [hub] token_file).")
@click.option("--once", is_flag=True, help="Ship what there is, once, and stop.")
@pass_app
@friendly
def hub_sync(app, url: str, token_file: str, once: bool) -> None:
    """On a site: ship the log and status snapshots to the hub (store-and-forward)."""
    from locker_app.hub_sync import HubLink, SyncWorker

    worker = SyncWorker(
        app.config, app.db, HubLink.from_config(app.config, url, token_file), app.clock
    )
    if once:
        report = worker.run_once()
        click.echo(
            f"shipped {report.shipped} events in {report.batches} batches; "
            f"the hub's head is event {report.head_id}"
        )
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    worker.run_forever(time.sleep)


@hub.command("demo")
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True)
@click.option(
    "--site-ports",
    default="8081,8082",
    show_default=True,
    help="The two demo sites' panel ports.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the sites' data here (default: a new temporary directory).",
)
@friendly
def hub_demo(port: int, site_ports: str, data_dir: Path | None) -> None:
    """A group hub on a throwaway PostgreSQL and two demo nurseries shipping to it."""
    import tempfile

    from hub.app import create_app
    from locker.clock import SystemClock
    from locker_app.hub_demo import HUB_PASSWORD, HUB_USER, HubDemo, hub_demo_config
    from web.server import serve

    try:
        ports = tuple(int(p) for p in site_ports.split(","))
    except ValueError:
        ports = ()
    if len(ports) != 2:
        raise click.BadParameter("two port numbers, e.g. 8081,8082", param_hint="--site-ports")
    data_dir = (data_dir or Path(tempfile.mkdtemp(prefix="locker-hub-demo-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    clock = SystemClock()
    demo = HubDemo(data_dir, port, ports, clock)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo("\nnursery group hub demo")
    try:
        db = demo.start(click.echo)
        config = hub_demo_config(str(db.engine.url))
        flask_app = create_app(config, db, clock=clock, secret_key=secrets.token_hex(32))
        threading.Thread(
            target=_sweep_forever,
            args=(db, config.hub_server.offline_after_s, clock),
            daemon=True,
        ).start()
        click.echo(
            f"  hub:      {demo.hub_url}/\n"
            f"  login:    {HUB_USER} / {HUB_PASSWORD}\n"
            f"  API token: {data_dir / 'hub-token'}\n"
            f"  data:     {data_dir}\nStop with Ctrl-C.\n"
        )
        serve(flask_app, host="127.0.0.1", port=port)
    finally:
        demo.stop()
