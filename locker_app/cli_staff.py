"""``locker staff``, ``locker badge`` and ``locker rota``: the people whose devices
the locker holds, their badges and their shifts. Each change asks the daemon to read
them again.

``app`` is the CLI's :class:`locker_app.cli.App` (config, database, clock, actor).
"""

from __future__ import annotations

from pathlib import Path

import click

from locker_app.cli_group import LockerGroup, fail, friendly

# -------------------------------------------------------- staff, badges


@click.group(cls=LockerGroup)
def staff() -> None:
    """People whose devices the locker holds."""


@staff.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["staff", "manager"]), default="staff", show_default=True)
@click.option("--badge", metavar="UID", help="Badge UID in hex, e.g. DEADBEEF.")
@click.option("--slot", type=int, metavar="N", help="Their own slot (fixed assignment).")
@click.option("--setting-devices", is_flag=True, help="May check out the setting's devices.")
@click.pass_obj
@friendly
def staff_add(
    app, name: str, role: str, badge: str | None, slot: int | None, setting_devices: bool
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
@click.pass_obj
@friendly
def staff_list(app) -> None:
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


@click.group(cls=LockerGroup)
def badge() -> None:
    """Badges."""


@badge.command("revoke")
@click.argument("uid")
@click.pass_obj
@friendly
def badge_revoke(app, uid: str) -> None:
    """Revoke badge UID: it will be refused at the locker from now on."""
    from locker.people import revoke_badge

    with app.db.write() as session:
        row = revoke_badge(session, uid, at=app.clock.now(), actor=app.actor)
        app.notify_daemon(session)
        session.commit()
    click.echo(f"badge {row.uid} revoked")


# ------------------------------------------------------------------ rota


@click.group(cls=LockerGroup)
def rota() -> None:
    """Shifts and breaks."""


@rota.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
@friendly
def rota_import(app, file: Path) -> None:
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
