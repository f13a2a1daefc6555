"""Linking panel accounts to people from the CLI (:mod:`locker.account_links`).

``locker user add NAME --role ROLE --person ID|NAME`` links the new account at
once; ``locker user link NAME --person ID|NAME`` (or ``--nobody``) links or
unlinks an existing one. Without ``--person``, ``user add`` only *suggests*
a link when the user name spells exactly one person's name (``aisha.khan``
for Aisha Khan): a guess is never made into a link, since two people may
share a name and an account may be a shared office login.
"""

from __future__ import annotations

import click

from locker_app.cli_group import friendly

#: The ``--person`` option of ``locker user add`` and ``locker user link``.
person_option = click.option(
    "--person",
    "person",
    metavar="ID|NAME",
    default=None,
    help="The member of staff who uses the account (their access request and "
    "erasure then cover it).",
)


def link_new_account(app, session, account, person: str | None) -> str:
    """Link a just-added ``account`` to ``person`` if given; the line to print about it."""
    from locker.account_links import likely_person, link_account
    from locker.privacy import find_person

    if person is not None:
        found = find_person(session, person)
        link_account(session, account, found, at=app.clock.now(), actor=app.actor)
        return f"linked to {found.name} (id {found.id})"
    guess = likely_person(session, account.username)
    if guess is None:
        return "linked to nobody"
    return (
        f"linked to nobody; if it is {guess.name}'s, link it: "
        f"locker user link {account.username} --person {guess.id}"
    )


@click.command("link")
@click.argument("name")
@person_option
@click.option("--nobody", is_flag=True, help="Unlink the account (a shared login).")
@click.pass_obj
@friendly
def user_link(app, name: str, person: str | None, nobody: bool) -> None:
    """Link the panel account NAME to the person who uses it (--person ID|NAME), or to
    --nobody. Logged as config.changed."""
    from locker.account_links import link_account
    from locker.accounts import find_account
    from locker.privacy import find_person

    if (person is None) == (not nobody):
        raise click.UsageError("give either --person ID|NAME or --nobody")
    with app.db.write() as session:
        account = find_account(session, name)
        found = None if nobody else find_person(session, person)
        changed = link_account(session, account, found, at=app.clock.now(), actor=app.actor)
        session.commit()
        whom = "nobody" if found is None else f"{found.name} (id {found.id})"
    click.echo(f"account {name} {'now' if changed else 'already'} linked to {whom}")
