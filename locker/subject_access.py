"""Subject access: everything the locker holds about one person, gathered for them.

A member of staff may ask what is held about them (UK GDPR article 15); the
nursery has a month to answer with the data, the purposes, the recipients and
how long it is kept. :func:`collect` gathers it, :func:`write_zip` packs it as
one JSON file per kind of record plus ``summary.html``, a page a manager can
print and hand over (:mod:`locker.subject_access_page` writes it).

Which rows refer to a person is read from the models' foreign keys to
``people.id`` (:func:`person_columns`), not from a list kept by hand, so a table
added later is exported without anybody remembering to. Log events are found
by their ``person_id`` or a ``person_id`` in their details. A panel account
linked to the person (``panel_accounts.person_id``, a foreign key like the
others) brings its sessions and tokens, and the events holding the
person's account name or address (its logins and actions) come as
``panel_events``.

Secrets are left out: password, session and token hashes identify nothing
about the person and would only help somebody who stole the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Column, Table, func, or_, select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.decisions import LogEntry
from locker.errors import NotFound
from locker.log import append, format_ts
from locker.log.personal import ACCOUNT_FIELDS, ACTOR_KEY, PERSON_ACTOR, Resolver
from locker.models import (
    ApiToken,
    Base,
    Break,
    Event,
    PanelAccount,
    PanelSession,
    Person,
    PersonalValue,
    Shift,
)
from locker.subject_access_page import Notice, SubjectData, summary_html

#: Columns never exported: hashes of secrets (they tell the person nothing).
SECRET_COLUMNS = frozenset({"password_hash", "key_hash", "token_hash"})
#: How another person's value reads in somebody's export.
SOMEBODY_ELSE = "(another person)"
#: Personal values that make an event one of the person's panel actions: their
#: account as its actor, their user name or address in its details.
ACCOUNT_KEYS = sorted(ACCOUNT_FIELDS | {ACTOR_KEY, "client"})
#: How an export was asked for, as ``person.exported`` records it.
VIA = ("cli", "panel")


def person_columns() -> list[tuple[Table, Column[Any]]]:
    """Every ``(table, column)`` of the models with a foreign key to ``people.id``."""
    people_id = Person.__table__.c.id
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column is people_id for fk in column.foreign_keys):
                found.append((table, column))
    return found


def collect(session: Session, person_id: int, *, notice: Notice, at: datetime) -> SubjectData:
    """Everything held about the person ``person_id``, read in ``session``."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"there is nobody with id {person_id}")
    data = SubjectData(person.id, person.name, at, notice)
    data.records["person"] = [_row(Person.__table__, person_row(session, person.id))]
    by_table: dict[str, list[Column[Any]]] = {}
    tables: dict[str, Table] = {}
    for table, column in person_columns():
        by_table.setdefault(table.name, []).append(column)
        tables[table.name] = table
    for name, columns in by_table.items():
        table = tables[name]
        query = select(table).where(or_(*(c == person.id for c in columns)))
        order = list(table.primary_key.columns)
        rows = session.execute(query.order_by(*order)).mappings()
        data.records[name] = [_row(table, row) for row in rows]
    data.records["breaks"] = _breaks(session, person.id)
    events = person_events(session, person.id)
    data.records["events"] = _events(session, events, person.id)
    data.records["personal_values"] = [
        {"id": ref, "field": field, "value": value}
        for ref, field, value in session.execute(
            select(PersonalValue.id, PersonalValue.field, PersonalValue.value)
            .where(PersonalValue.person_id == person.id)
            .order_by(PersonalValue.id)
        )
    ]
    data.records.update(_accounts(session, person.id))
    return data


def held_counts(session: Session, person_id: int) -> dict[str, int]:
    """How many rows each table holds about the person, and their log events (by id)."""
    counts: dict[str, int] = {}
    for table, column in person_columns():
        query = select(func.count()).select_from(table).where(column == person_id)
        counts[table.name] = counts.get(table.name, 0) + (session.scalar(query) or 0)
    query = select(func.count()).select_from(Event).where(Event.person_id == person_id)
    counts["events"] = session.scalar(query) or 0
    return counts


def person_row(session: Session, person_id: int) -> Any:
    """The person's own row, as a mapping of its columns."""
    table = Person.__table__
    return session.execute(select(table).where(table.c.id == person_id)).mappings().one()


def person_events(session: Session, person_id: int) -> list[Event]:
    """Log events about the person: by ``person_id``, or naming their id in the details."""
    # The LIKE narrows the search; parsing decides (``"person_id":1`` also matches 12).
    named = Event.details.contains(f'"person_id":{person_id}')
    actor = Event.actor == f"{PERSON_ACTOR}{person_id}"
    query = select(Event).where(or_(Event.person_id == person_id, actor, named)).order_by(Event.id)
    return [
        event
        for event in session.scalars(query)
        if event.person_id == person_id
        or event.actor == f"{PERSON_ACTOR}{person_id}"
        or person_id in _ids_in(_details(event.details))
    ]


def _ids_in(value: Any) -> set[int]:
    """Every ``person_id`` value anywhere in a details object."""
    found: set[int] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "person_id" and isinstance(inner, int):
                found.add(inner)
            else:
                found |= _ids_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _ids_in(inner)
    return found


def _breaks(session: Session, person_id: int) -> list[dict[str, Any]]:
    """The breaks of the person's shifts (a break refers to its shift, not the person)."""
    query = (
        select(Break.__table__)
        .join(Shift, Shift.id == Break.shift_id)
        .where(Shift.person_id == person_id)
        .order_by(Break.id)
    )
    return [_row(Break.__table__, row) for row in session.execute(query).mappings()]


def _accounts(session: Session, person_id: int) -> dict[str, list[dict[str, Any]]]:
    """The sessions and tokens of the person's panel accounts (``panel_accounts.person_id``:
    the accounts themselves are exported with every other table that names the person),
    and the events whose account names or addresses are theirs."""
    accounts = select(PanelAccount.id).where(PanelAccount.person_id == person_id)
    sessions = PanelSession.__table__
    tokens = ApiToken.__table__
    theirs = (
        select(PersonalValue.event_id)
        .where(PersonalValue.person_id == person_id, PersonalValue.field.in_(ACCOUNT_KEYS))
        .distinct()
    )
    return {
        "panel_sessions": [
            _row(sessions, r)
            for r in session.execute(
                select(sessions).where(sessions.c.account_id.in_(accounts)).order_by(sessions.c.id)
            ).mappings()
        ],
        "api_tokens": [
            _row(tokens, r)
            for r in session.execute(
                select(tokens).where(tokens.c.account_id.in_(accounts)).order_by(tokens.c.id)
            ).mappings()
        ],
        "panel_events": _events(
            session,
            list(session.scalars(select(Event).where(Event.id.in_(theirs)).order_by(Event.id))),
            person_id,
        ),
    }


def _row(table: Table, row: Any) -> dict[str, Any]:
    """One database row as JSON values, without the secret columns."""
    return {
        column.name: _plain(row[column.name])
        for column in table.columns
        if column.name not in SECRET_COLUMNS
    }


def _events(session: Session, events: list[Event], person_id: int) -> list[dict[str, Any]]:
    """Events as stored (``details``, with commitments) and as read (``details_read``).

    In ``details_read`` the person's own values are filled in; anybody else's
    (the manager who approved, another member of staff) read as
    :data:`SOMEBODY_ELSE`: a subject access answer gives third parties' data
    only when it must.
    """
    resolver = Resolver(session)
    resolver.load([e.details for e in events], [e.actor for e in events])
    for ref, (_value, owner) in list(resolver.values.items()):
        if owner != person_id:
            resolver.values[ref] = (SOMEBODY_ELSE, owner)
    rows = []
    table = Event.__table__
    for event in events:
        row = _row(table, {c.name: getattr(event, c.name) for c in table.columns})
        row["details"] = _details(event.details)
        row["details_read"] = resolver.details(row["details"], event.person_id)
        rows.append(row)
    return rows


def _details(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a damaged row is exported as it is stored


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# ------------------------------------------------------------------ the file


def write_zip(data: SubjectData, target: str | Path | BinaryIO) -> None:
    """Write the export as a ZIP: one ``<records>.json`` per kind and ``summary.html``."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, rows in data.records.items():
            text = json.dumps(rows, indent=2, ensure_ascii=False, sort_keys=True)
            archive.writestr(f"{name}.json", text + "\n")
        archive.writestr("about.json", json.dumps(_about(data), indent=2, ensure_ascii=False))
        archive.writestr("summary.html", summary_html(data))


def zip_bytes(data: SubjectData) -> bytes:
    """The export as bytes (for a download)."""
    buffer = io.BytesIO()
    write_zip(data, buffer)
    return buffer.getvalue()


def file_name(data: SubjectData) -> str:
    """A name for the ZIP that does not carry the person's name (it may be mailed)."""
    return f"access-request-person{data.person_id}-{data.made_at:%Y-%m-%d}.zip"


def _about(data: SubjectData) -> dict[str, Any]:
    notice = data.notice
    return {
        "controller": notice.site_name,
        "person_id": data.person_id,
        "made_at": format_ts(data.made_at),
        "lawful_basis": notice.lawful_basis,
        "purposes": list(notice.purposes),
        "recipients": list(notice.recipients),
        "retention": [{"what": what, "kept": kept} for what, kept in notice.retention],
        "files": sorted(f"{name}.json" for name in data.records),
    }


def record_export(session: Session, person_id: int, *, actor: str, via: str, at: datetime) -> Event:
    """Log ``person.exported``: ``actor`` exported everything about ``person_id`` by ``via``."""
    if via not in VIA:
        raise ValueError(f"via must be one of {VIA}")
    entry = LogEntry(ev.PERSON_EXPORTED, actor, None, person_id, {"via": via})
    return append(session, entry, at)
