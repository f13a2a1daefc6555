"""``locker person export ID|NAME [--out FILE.zip]``: answer a subject access request.

Writes everything the locker holds about the person (see
:mod:`locker.subject_access`) as a ZIP of JSON files and a printable
``summary.html``, and logs ``person.exported`` with who ran it. The command
is registered on ``locker person`` (:mod:`locker_app.cli_person`). The file is
made readable by its owner only, and an existing file is never overwritten: it
holds personal data, and the one already there may be another person's.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from locker.errors import LockerError
from locker.privacy import find_person
from locker.subject_access import collect, file_name, record_export, write_zip
from locker.subject_access_page import notice_for
from locker_app.cli_group import friendly
from locker_app.private_files import create_new

#: Owner read and write only: the export is one person's whole record.
EXPORT_FILE_MODE = 0o600


@click.command("export")
@click.argument("who", metavar="ID|NAME")
@click.option(
    "--out",
    "out",
    metavar="FILE.zip",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the ZIP (default: access-request-personID-DATE.zip here).",
)
@click.pass_obj
@friendly
def person_export(app, who: str, out: str | None) -> None:
    """Write everything held about ID|NAME (an access request) as a ZIP; logged."""
    path = export(app, who, out)
    click.echo(f"wrote {path}: everything held about person {who!r}, with summary.html")
    click.echo("it is personal data: hand it over securely and delete your copy when done")
    for name in _unlinked_accounts(app, who):
        click.echo(
            f"note: the panel account {name} is linked to nobody and not in the export; if it "
            f"is theirs: locker user link {name} --person {who!r}, then export again"
        )


def _unlinked_accounts(app, who: str) -> list[str]:
    """Accounts linked to nobody whose user name spells the person's name."""
    from locker.account_links import unlinked_accounts_like

    with app.db.read() as session:
        return unlinked_accounts_like(session, find_person(session, who))


def export(app, who: str, out: str | None) -> Path:
    """Write the export of ``who`` for ``app`` (:class:`locker_app.cli.App`); its path.

    The ``person.exported`` event is committed only once the file is complete,
    so the log never records an export that was not made.
    """
    now = app.clock.now()
    notice = notice_for(app.config)
    with app.db.write() as session:
        person = find_person(session, who)
        data = collect(session, person.id, notice=notice, at=now)
        path = Path(out) if out else Path(file_name(data))
        record_export(session, person.id, actor=app.actor, via="cli", at=now)
        _write_new(path, data)
        try:
            session.commit()
        except SQLAlchemyError:
            path.unlink(missing_ok=True)
            raise
    return path


def _write_new(path: Path, data) -> None:
    """Write the ZIP at ``path``, which must not exist yet, readable by its owner only."""
    if path.suffix.lower() != ".zip":
        raise LockerError(f"--out: {path} should end in .zip")
    try:
        file = create_new(path, EXPORT_FILE_MODE, binary=True)
    except FileExistsError:
        raise LockerError(
            f"{path} already exists: choose another --out (nothing written)"
        ) from None
    try:
        with file:
            write_zip(data, file)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
