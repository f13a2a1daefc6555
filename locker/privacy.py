"""Leavers and legal holds: forgetting a person, and holding their data.

Forgetting (UK GDPR's right to erasure, and the ICO's advice not to keep a
leaver's data longer than needed) revokes the person's badges and erases
their name and personal values everywhere they are stored, while their
custody history stays, under a pseudonym ("Former staff #12"), for an
inspector. The event log is not rewritten: its events hold commitments to
personal values, not the values (:mod:`locker.log.personal`), so erasing the
values leaves every hash verifiable.

A legal hold (an allegation, an inspection) suspends both forgetting and the
retention purge for that person, and is logged with who set it and why.

Every function here writes in the caller's session and logs its event; the
caller commits (as the CLI does for ``locker user deactivate``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Text, and_, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from locker import events as ev
from locker.account_links import claim_account_values
from locker.accounts import end_sessions
from locker.decisions import LogEntry
from locker.errors import InvalidRequest, NotFound, PersonHasDevice, PersonOnHold
from locker.log import append
from locker.log.personal import erase_values, pseudonym
from locker.models import (
    Alert,
    ApiToken,
    Command,
    Custody,
    Grant,
    IdempotentRequest,
    LoginThrottle,
    NotifyMessage,
    PanelAccount,
    PanelSession,
    Person,
    PersonalValue,
    PersonHold,
    Slot,
)
from locker.people import find_person as _find_by_id_or_name

#: The longest hold reason (the details of an allegation belong in the case file).
HOLD_REASON_MAX = 200
#: What an erased card number becomes (``Badge.uid`` is unique, so with the badge id).
ERASED_UID = "ERASED-{id}"
#: What a forgotten person's panel account is renamed (user names are unique).
FORMER_ACCOUNT = "former-account-{id}"
#: Plain columns that copy an account's user name (who asked, acknowledged, set a hold).
ACCOUNT_NAME_COLUMNS = (
    Command.account,
    IdempotentRequest.account,
    Grant.created_by,
    Alert.acknowledged_by,
    PersonHold.set_by,
)


def find_person(session: Session, id_or_name: str) -> Person:
    """The person with this id (digits) or exact name; :class:`NotFound` says which was asked."""
    text = str(id_or_name).strip()
    if not text:
        raise NotFound("name a person by their id or their exact name")
    try:
        return _find_by_id_or_name(session, text)
    except NotFound:
        what = f"id {text}" if text.isdigit() else f"the name {text!r}"
        raise NotFound(f"there is nobody with {what} (see `locker staff list`)") from None


def holds(session: Session) -> dict[int, str]:
    """Every person on legal hold, person id -> the reason given."""
    rows = session.execute(select(PersonHold.person_id, PersonHold.reason))
    return {pid: reason for pid, reason in rows}


def held_ids(session: Session) -> set[int]:
    """The ids of the people on legal hold (what retention must keep)."""
    return set(session.scalars(select(PersonHold.person_id)))


def set_hold(
    session: Session,
    person_id: int,
    *,
    reason: str,
    actor: str,
    at: datetime,
    release: bool = False,
) -> None:
    """Put a legal hold on ``person_id`` (or take it off with ``release``); logs ``person.hold``.

    ``reason`` says why (an allegation, an inspection): it is required to put
    a hold on, and recorded with the release too when given. A second hold
    on the same person replaces the reason.
    """
    person = _person(session, person_id)
    reason = " ".join((reason or "").split())
    current = session.get(PersonHold, person.id)
    if release:
        if current is None:
            raise InvalidRequest(f"{_who(person)} is not on hold")
        session.delete(current)
        details: dict[str, Any] = {"hold": "released"}
    else:
        if not reason:
            raise InvalidRequest("say why the hold is needed (--reason TEXT)")
        if len(reason) > HOLD_REASON_MAX:
            raise InvalidRequest(
                f"the reason is {len(reason)} characters; at most {HOLD_REASON_MAX} "
                "(keep the case's details in its own file)"
            )
        if current is None:
            session.add(PersonHold(person_id=person.id, reason=reason, set_by=actor, set_at=at))
        else:
            current.reason, current.set_by, current.set_at = reason, actor, at
        details = {"hold": "on"}
    if reason:
        # The reason may name people: "note" is committed, not hashed in clear.
        details["note"] = reason
    append(session, LogEntry(ev.PERSON_HOLD, actor, None, person.id, details), at)
    session.flush()


def forget_person(session: Session, person_id: int, *, actor: str, at: datetime) -> None:
    """Forget ``person_id``: badges revoked, name and personal values erased; logs
    ``person.forgotten``.

    The person row stays, renamed ``Former staff #<id>`` and inactive, so the
    custody history and the log stay whole and pseudonymous. Refused
    (:class:`PersonOnHold`) while a legal hold is on, and
    (:class:`PersonHasDevice`) while their device is in a slot or out on a
    break: it must be collected first. Erased on the way: the name and card
    numbers wherever they were copied (alerts, the notification outbox,
    requests to the daemon and their stored answers), visitor names, grant
    notes and every personal value the log refers to. The database file
    still has the old bytes in free pages until :func:`wipe_free_pages`.
    """
    person = _person(session, person_id)
    hold = session.get(PersonHold, person.id)
    if hold is not None:
        raise PersonOnHold(
            f"{_who(person)} is on legal hold ({hold.reason}, set by {hold.set_by}): "
            "nothing of theirs can be erased until the hold is released"
        )
    slot = _slot_in_use(session, person.id)
    if slot is not None:
        raise PersonHasDevice(
            f"{_who(person)}'s device is still in slot {slot} (or out of it on a release): "
            "it must be collected and the slot freed before they are forgotten"
        )
    accounts = _forget_accounts(session, person.id, at)
    secrets = _personal_strings(session, person, accounts)
    revoked = 0
    for badge in person.badges:
        if badge.revoked_at is None:
            badge.revoked_at = at
            revoked += 1
        badge.uid = ERASED_UID.format(id=badge.id)
    alias = pseudonym(person.id)
    person.name, person.active, person.slot_number = alias, False, None
    session.execute(update(Grant).where(Grant.person_id == person.id).values(note=""))
    session.execute(
        update(Custody).where(Custody.visitor_name.in_(secrets)).values(visitor_name=None)
    )
    session.execute(update(Slot).where(Slot.visitor_name.in_(secrets)).values(visitor_name=None))
    _scrub_copies(session, secrets, alias)
    erased = erase_values(session, person.id)
    session.flush()
    append(
        session,
        LogEntry(
            ev.PERSON_FORGOTTEN,
            actor,
            None,
            person.id,
            {"badges_revoked": revoked, "values_erased": erased, "accounts": len(accounts)},
        ),
        at,
    )


def wipe_free_pages(engine: Engine) -> None:
    """Rebuild an SQLite file so erased values do not linger in its free pages or WAL.

    Run after the erasure is committed (VACUUM cannot run inside a
    transaction). Other databases keep their own free space (PostgreSQL's
    VACUUM reclaims it).
    """
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"there is nobody with id {person_id}")
    return person


def _who(person: Person) -> str:
    return f"{person.name} (id {person.id})"


def _slot_in_use(session: Session, person_id: int) -> int | None:
    """The slot holding (or keeping for) the person's device, if any."""
    slot = session.scalar(
        select(Slot.number).where(Slot.occupant_id == person_id, Slot.state != "free").limit(1)
    )
    if slot is not None:
        return slot
    return session.scalar(
        select(Custody.slot_number)
        .where(Custody.person_id == person_id, Custody.ended_at.is_(None))
        .limit(1)
    )


def _forget_accounts(session: Session, person_id: int, at: datetime) -> list[str]:
    """Close the person's panel accounts and rename them; their old user names.

    Each account is deactivated (sessions ended, tokens revoked) and renamed
    ``former-account-<id>``, its login addresses cleared; the log's values of
    the account that nobody owned yet (committed before the link) become the
    person's, so they are erased with the rest.
    """
    names = []
    linked = select(PanelAccount).where(PanelAccount.person_id == person_id)
    for account in session.scalars(linked).all():
        names.append(account.username)
        claim_account_values(session, account.username, person_id)
        end_sessions(session, account.id, at=at, reason="forgotten")
        session.execute(
            update(ApiToken)
            .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        session.execute(
            update(PanelSession).where(PanelSession.account_id == account.id).values(client="")
        )
        alias = FORMER_ACCOUNT.format(id=account.id)
        account.username, account.active = alias, False
        for column in ACCOUNT_NAME_COLUMNS:
            session.execute(
                update(column.table)
                .where(column == names[-1])
                .values({column.name: alias})
                .execution_options(synchronize_session=False)
            )
        # The login throttle counts wrong passwords by typed name (web/throttle.py).
        typed = LoginThrottle.key
        session.execute(
            delete(LoginThrottle)
            .where(
                or_(
                    typed == f"name:{names[-1]}",
                    and_(typed.startswith("pair:"), typed.endswith(f" {names[-1]}")),
                )
            )
            .execution_options(synchronize_session=False)
        )
    return names


def _personal_strings(session: Session, person: Person, accounts: list[str]) -> list[str]:
    """The person's name, card numbers, account names and stored personal values:
    what must go."""
    found = {person.name, *(badge.uid for badge in person.badges), *accounts}
    found.update(
        session.scalars(select(PersonalValue.value).where(PersonalValue.person_id == person.id))
    )
    # Longest first, so a name is replaced before a shorter value inside it.
    return sorted((s for s in found if s), key=len, reverse=True)


def _scrub_copies(session: Session, secrets: list[str], alias: str) -> None:
    """Replace the person's strings wherever the product copied them as text.

    Alert messages and details, the notification outbox, the daemon's
    requests and their results, and the panel's stored idempotent answers:
    each a copy made for a moment, none of them hashed. Only the rows whose
    text holds one of the strings are read (a LIKE per string, in SQL), and
    only whole words are replaced, so a short name does not eat into other
    words ("Al" in "Alert").
    """
    if not secrets:
        return
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, secrets)) + r")(?!\w)")
    copies = {
        Alert: (Alert.details,),
        NotifyMessage: (NotifyMessage.subject, NotifyMessage.body),
        Command: (Command.payload, Command.result),
        IdempotentRequest: (IdempotentRequest.body,),
    }
    for model, columns in copies.items():
        for row in session.scalars(select(model).where(_holding(columns, secrets))):
            for column in columns:
                value = getattr(row, column.key)
                if model is IdempotentRequest:
                    setattr(row, column.key, _scrubbed_text(value or "", pattern, alias))
                else:
                    setattr(row, column.key, _scrubbed(value, pattern, alias))


def _holding(columns: tuple[Any, ...], secrets: list[str]) -> ColumnElement[bool]:
    """Rows where one of ``columns`` holds one of ``secrets`` as stored text.

    JSON columns are stored with non-ASCII escaped (``Zo\\u00eb``), so each
    string is looked for in that spelling too. LIKE ignores ASCII case: it
    may find a row the whole-word match then leaves alone, never miss one.
    """
    spellings = sorted({form for s in secrets for form in (s, json.dumps(s)[1:-1])})
    return or_(
        *(
            cast(column, Text).contains(form, autoescape=True)
            for column in columns
            for form in spellings
        )
    )


def _scrubbed(value: Any, pattern: re.Pattern[str], alias: str) -> Any:
    """``value`` (text or JSON) with every match of ``pattern`` replaced by ``alias``."""
    if isinstance(value, str):
        return pattern.sub(alias, value)
    if isinstance(value, dict):
        return {k: _scrubbed(v, pattern, alias) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, pattern, alias) for v in value]
    return value


def _scrubbed_text(text: str, pattern: re.Pattern[str], alias: str) -> str:
    """Stored JSON text, scrubbed as data (escaped non-ASCII included) or as plain text."""
    try:
        return json.dumps(_scrubbed(json.loads(text), pattern, alias))
    except ValueError:
        return _scrubbed(text, pattern, alias)
