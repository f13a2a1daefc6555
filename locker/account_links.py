"""Which member of staff a panel account belongs to (``panel_accounts.person_id``).

A manager's panel account is theirs as much as their badge: its logins, the
addresses it was used from and what it did are their personal data. The link
says so explicitly, rather than guessing from the user name: an access
request then holds the account's sessions, tokens and events
(:mod:`locker.subject_access`), and forgetting the person erases the account's
name everywhere (:mod:`locker.privacy`). An account need not be anybody's
(a shared office login).

Values committed to the log before the link was made belong to nobody yet;
:func:`claim_account_values` gives them to the person, so a link made late
still covers the account's whole history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from locker import events as ev
from locker.decisions import LogEntry
from locker.errors import InvalidRequest
from locker.log import append
from locker.log.personal import ACCOUNT_FIELDS, ACTOR_KEY, pseudonym
from locker.models import PanelAccount, Person, PersonalValue

#: Separators a user name may put between the words of a person's name.
_SEPARATORS = ("", ".", "_", "-")


def link_account(
    session: Session,
    account: PanelAccount,
    person: Person | None,
    *,
    at: datetime,
    actor: str,
    client: str = "",
) -> bool:
    """Link ``account`` to ``person`` (or to nobody); logs ``config.changed``.

    Returns whether anything changed. Refused for a forgotten person (their
    account must not get a name back through the link).
    """
    person_id = None if person is None else person.id
    if person is not None and person.name == pseudonym(person.id):
        raise InvalidRequest(f"{person.name} has been forgotten: link the account to nobody")
    if account.person_id == person_id:
        return False
    account.person_id = person_id
    session.flush()
    if person_id is not None:
        claim_account_values(session, account.username, person_id)
    details: dict[str, object] = {
        "what": "panel account linked to a person" if person_id else "panel account unlinked",
        "username": account.username,
        "person_id": person_id,
    }
    if client:
        details["client"] = client
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, None, person_id, details), at)
    return True


def claim_account_values(session: Session, username: str, person_id: int) -> int:
    """Give ``person_id`` the log's values of the account ``username`` that are nobody's.

    The user name wherever it was committed (as actor, ``username``,
    ``account``) and the addresses of the events it acted in. Returns how
    many values changed owner.
    """
    named = and_(
        PersonalValue.field.in_(sorted(ACCOUNT_FIELDS | {ACTOR_KEY})),
        PersonalValue.value == username,
    )
    its_events = select(PersonalValue.event_id).where(named, PersonalValue.event_id.is_not(None))
    address = and_(PersonalValue.field == "client", PersonalValue.event_id.in_(its_events))
    result = session.execute(
        update(PersonalValue)
        .where(PersonalValue.person_id.is_(None), or_(named, address))
        .values(person_id=person_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def user_names_for(name: str) -> list[str]:
    """User names a person's account would likely have: the name in lower case, its
    spaces written as nothing, ``.``, ``_`` or ``-`` (``aisha.khan`` for Aisha Khan)."""
    words = name.lower().split()
    return sorted({sep.join(words) for sep in _SEPARATORS})


def likely_person(session: Session, username: str) -> Person | None:
    """The active person whose name the user name spells, if exactly one: a suggestion
    to link, never a link made by itself (two people may share a name)."""
    wanted = username.lower()
    found = [
        person
        for person in session.scalars(select(Person).where(Person.active.is_(True)))
        if wanted in user_names_for(person.name)
    ]
    return found[0] if len(found) == 1 else None


def unlinked_accounts_like(session: Session, person: Person) -> list[str]:
    """User names of accounts linked to nobody that spell ``person``'s name: an access
    request or an erasure would miss them until somebody links them."""
    spellings = user_names_for(person.name)
    rows = session.scalars(select(PanelAccount.username).where(PanelAccount.person_id.is_(None)))
    return sorted(name for name in rows if name.lower() in spellings)
