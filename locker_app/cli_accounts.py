"""``locker user`` and ``locker token``: panel accounts and API bearer tokens.

``app`` is the CLI's :class:`locker_app.cli.App` (config, database, clock, actor).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from locker_app import cli_account_link
from locker_app.cli_group import LockerGroup, friendly, read_password

# ------------------------------------------------------ accounts, tokens


@click.group(cls=LockerGroup)
def user() -> None:
    """Panel accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "manager", "admin"]), required=True)
@cli_account_link.person_option
@click.pass_obj
@friendly
def user_add(app, name: str, role: str, person: str | None) -> None:
    """Add a panel account; the password is prompted for, or read from stdin."""
    from locker.accounts import add_account

    password = read_password()
    with app.db.write() as session:
        account = add_account(session, name, role, password, at=app.clock.now(), actor=app.actor)
        linked = cli_account_link.link_new_account(app, session, account, person)
        session.commit()
    click.echo(f"account {name} ({role}) added, {linked}")


@user.command("passwd")
@click.argument("name")
@click.pass_obj
@friendly
def user_passwd(app, name: str) -> None:
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
@click.pass_obj
@friendly
def user_deactivate(app, name: str) -> None:
    """Deactivate the panel account NAME: it cannot log in; its sessions end and its
    tokens are revoked."""
    from locker.accounts import set_active

    with app.db.write() as session:
        set_active(session, name, False, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"account {name} deactivated; its sessions have ended and its tokens are revoked")


@user.command("activate")
@click.argument("name")
@click.pass_obj
@friendly
def user_activate(app, name: str) -> None:
    """Let the panel account NAME log in again (its old tokens stay revoked)."""
    from locker.accounts import set_active

    with app.db.write() as session:
        set_active(session, name, True, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"account {name} can log in again")


@click.group(cls=LockerGroup)
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("name")
@click.pass_obj
@friendly
def token_create(app, name: str) -> None:
    """Print a new API bearer token for the panel account NAME."""
    from locker.accounts import create_token

    with app.db.write() as session:
        value = create_token(session, name, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(value)


@token.command("list")
@click.pass_obj
@friendly
def token_list(app) -> None:
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
@click.pass_obj
@friendly
def token_revoke(app, token_id: int) -> None:
    """Revoke API token ID (see `locker token list`): its next request gets 401."""
    from locker.accounts import revoke_token

    with app.db.write() as session:
        row = revoke_token(session, token_id, at=app.clock.now(), actor=app.actor)
        session.commit()
    click.echo(f"token {row.id} of {row.username} revoked")


def _when(moment: datetime | None) -> str:
    """A stored UTC time as ``YYYY-MM-DD HH:MM`` UTC, or ``-``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"
