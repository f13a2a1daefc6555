"""``locker person``: a person's data under UK GDPR (forget a leaver, put a legal hold).

``locker person forget ID|NAME`` and ``locker person hold ID|NAME --reason TEXT``
(``--release`` to lift it) write their event in the same transaction as the
change, as ``locker user deactivate`` does, and ask the daemon to read people
and badges again. The subject access export (``locker person export``) joins
this group beside them.
"""

from __future__ import annotations

import click

from locker_app.cli_group import friendly


@click.group()
def person() -> None:
    """A person's data: forget a leaver, put or lift a legal hold."""


@person.command("forget")
@click.argument("who", metavar="ID|NAME")
@click.pass_obj
@friendly
def person_forget(app, who: str) -> None:
    """Forget the person ID|NAME: badges revoked, name and personal values erased.

    Their custody history stays under "Former staff #ID". Refused while a legal
    hold is on or while their device is in a slot.
    """
    from locker.privacy import find_person, forget_person, wipe_free_pages

    with app.db.write() as session:
        person = find_person(session, who)
        old_id = person.id
        forget_person(session, person.id, actor=app.actor, at=app.clock.now())
        app.notify_daemon(session)
        session.commit()
        alias = person.name
    # The erased values must not linger in the file's free pages or its WAL.
    wipe_free_pages(app.db.engine)
    click.echo(f"person {old_id} forgotten: now {alias}; badges revoked, personal data erased")


@person.command("hold")
@click.argument("who", metavar="ID|NAME")
@click.option("--reason", default="", help="Why (an allegation, an inspection): required.")
@click.option("--release", is_flag=True, help="Lift the hold instead.")
@click.pass_obj
@friendly
def person_hold(app, who: str, reason: str, release: bool) -> None:
    """Put a legal hold on ID|NAME (no erasure, no retention purge), or --release it."""
    from locker.privacy import find_person, set_hold

    with app.db.write() as session:
        person = find_person(session, who)
        set_hold(
            session, person.id, reason=reason, actor=app.actor, at=app.clock.now(), release=release
        )
        session.commit()
        name = f"{person.name} (id {person.id})"
    click.echo(f"hold on {name} released" if release else f"{name} is on legal hold")


# The subject access export (`locker person export ID|NAME [--out FILE.zip]`) is
# registered on this group by its own module: person.add_command(...).
