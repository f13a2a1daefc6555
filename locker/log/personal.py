"""Personal values out of the hashed chain: commitments in the log, values beside it.

The event log is append-only and hash-chained, so anything written into an
event's details can never be removed without breaking ``locker log verify``.
A leaver's name or card number must be removable (UK GDPR, the right to
erasure), so the chain carries a *commitment* in its place::

    {"name": {"ref": 17, "c": "<sha256(salt || value) in hex>"}}

Row 17 of ``personal_values`` keeps the value and a random salt outside the
chain. A reader resolves the reference to the value (and can check it against
``c``); erasing deletes the row, after which the reference reads as a
pseudonym ("Former staff #12") and, without the salt, the commitment cannot
be tested against guessed names. Every event hash still verifies.

Which values are personal is decided by the details key (:data:`PERSONAL_FIELDS`),
at any depth (``changes: {"name": [old, new]}`` too), and by the actor: an
actor that is a person's name is hashed as ``person:<id>`` (readers show that
person's current name, the pseudonym once forgotten), and one that is the
visitor the event names as :data:`VISITOR_ACTOR`. Panel account names stay as
they are: who acted on the panel is what the log is for.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from locker.decisions import LogEntry
from locker.models import PanelAccount, Person, PersonalValue

#: Details keys whose text values are personal data: a person's, manager's or
#: visitor's name, a card UID, a free-text note, an alert's message about a
#: person (it names them), a panel user name, the address a panel request came
#: from, and the committed name of an event's actor (:data:`ACTOR_KEY`).
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "person",
        "manager",
        "uid",
        "visitor",
        "note",
        "message",
        "username",
        "account",
        "client",
        "actor",
    }
)
#: Keys whose values name a panel account: they belong to its linked person.
ACCOUNT_FIELDS = frozenset({"username", "account"})
#: Keys whose values belong to nobody on the people list (a visitor signed in by name).
NOBODYS_FIELDS = frozenset({"visitor"})

#: The actor of an event done by a person (a badge), followed by their id.
PERSON_ACTOR = "person:"
#: The actor of an event done by the visitor its ``visitor`` detail names.
VISITOR_ACTOR = "@visitor"

#: The actor of an event done through a panel account; the details key
#: :data:`ACTOR_KEY` holds the account's user name, committed.
ACCOUNT_ACTOR = "@account"
#: The actor of an old event whose actor was a name that is nobody's any more
#: (given at migration only); its name is committed under :data:`ACTOR_KEY`.
FORMER_ACTOR = "@former"
#: The details key holding the committed name of an ``@account`` or ``@former`` actor.
ACTOR_KEY = "actor"

#: Actors whose name a reader finds in the event's details.
DETAILS_ACTORS = frozenset({VISITOR_ACTOR, ACCOUNT_ACTOR, FORMER_ACTOR})

#: Actors that are never a person.
SYSTEM_ACTORS = frozenset({"system", "daemon"})
#: Actors that name nobody: the system, the panel before a login (a failed one),
#: the demo's seeding (``locker demo``), none at all.
NOBODYS_ACTORS = SYSTEM_ACTORS | {"panel", "demo", ""}

#: How a value reads once erased: the person's pseudonym, or this for anyone else's.
ERASED = "(erased)"
#: How a reference's key is spelt in stored details text (canonical JSON).
REF_KEY = '"ref"'

#: How a ``@former`` actor reads once its name is erased.
FORMER_STAFF = "Former staff"

#: ``session.info`` key of the people :func:`personal_actor` has read in the session.
_PEOPLE_KEY = "locker.log.people"


def pseudonym(person_id: int) -> str:
    """What a forgotten person is called from then on, e.g. ``Former staff #12``."""
    return f"Former staff #{person_id}"


def commitment(salt: str, value: str) -> str:
    """``sha256(salt || value)`` in hex, the salt given in hex."""
    return hashlib.sha256(bytes.fromhex(salt) + value.encode("utf-8")).hexdigest()


def is_ref(value: Any) -> bool:
    """Whether ``value`` is a commitment written by :func:`commit_details`."""
    return (
        isinstance(value, dict)
        and len(value) == 2
        and "ref" in value
        and "c" in value
        and type(value["ref"]) is int
        and isinstance(value["c"], str)
    )


def commit_value(
    session: Session, field: str, value: str, person_id: int | None, event_id: int | None
) -> dict:
    """Store ``value`` beside the chain and return the commitment the chain gets."""
    salt = secrets.token_hex(16)
    # Inserted at once, without the ORM's flush: the reference needs the row's id now.
    row = {
        "event_id": event_id,
        "person_id": person_id,
        "field": field,
        "value": value,
        "salt": salt,
    }
    result = session.execute(insert(PersonalValue.__table__), row)
    return {"ref": result.inserted_primary_key[0], "c": commitment(salt, value)}


def owner_of(field: str, siblings: dict, person_id: int | None) -> int | None:
    """Whose value ``siblings[field]`` is: ``<field>_id`` beside it (``manager_id``),
    else the event's person, else nobody's (a visitor, a typed user name)."""
    if field in NOBODYS_FIELDS:
        return None
    own = siblings.get(f"{field}_id")
    return own if type(own) is int else person_id


def commit_details(
    session: Session,
    details: Any,
    person_id: int | None,
    event_id: int,
    field: str = "",
    *,
    owners: Mapping[str, int | None] | None = None,
) -> Any:
    """``details`` with every personal text value replaced by a commitment.

    ``field`` is the key ``details`` sits under (its personal values are then
    committed even inside a list, as ``changes.name: [old, new]``).
    ``person_id`` is whose values they are (see :func:`owner_of`), ``event_id``
    the event that will carry them. ``owners`` names the owner of some
    top-level keys outright (an account's user name is its linked person's).
    """
    if isinstance(details, dict):
        owners = owners or {}
        return {
            k: commit_details(session, v, _owner(k, details, person_id, owners), event_id, k)
            for k, v in details.items()
        }
    if isinstance(details, list):
        return [commit_details(session, v, person_id, event_id, field) for v in details]
    if field in PERSONAL_FIELDS and isinstance(details, str) and details:
        if field == "message" and person_id is None:
            return details  # an alert about nobody (storage, clock): no personal data
        return commit_value(session, field, details, person_id, event_id)
    return details


def _owner(
    field: str, siblings: dict, person_id: int | None, owners: Mapping[str, int | None]
) -> int | None:
    return owners[field] if field in owners else owner_of(field, siblings, person_id)


class AccountDirectory:
    """Panel accounts by user name, and the person each is linked to (cached per append).

    ``linked=False`` reads a database from before ``panel_accounts.person_id``
    (migration 0006 runs before 0007 adds it): no account has a person then.
    """

    def __init__(self, session: Session, *, linked: bool = True):
        self.session = session
        self.linked = linked
        #: user name -> linked person id (None: no person), for the accounts met so far.
        self.known: dict[str, int | None] = {}
        #: user names met that are nobody's account.
        self.unknown: set[str] = set()

    def is_account(self, name: Any) -> bool:
        """Whether ``name`` is a panel account's user name."""
        if not isinstance(name, str) or not name or name in self.unknown:
            return False
        if name in self.known:
            return True
        columns = [PanelAccount.id, PanelAccount.person_id] if self.linked else [PanelAccount.id]
        row = self.session.execute(select(*columns).where(PanelAccount.username == name)).first()
        if row is None:
            self.unknown.add(name)
            return False
        self.known[name] = row[1] if self.linked else None
        return True

    def owner(self, name: Any) -> int | None:
        """The person linked to the account ``name`` (None: no such account, or no link)."""
        return self.known.get(name) if self.is_account(name) else None


def personal_actor(session: Session, entry: LogEntry) -> str:
    """The actor to hash for ``entry``: a stand-in when it is the person or visitor's name.

    (A panel account's stand-in, :data:`ACCOUNT_ACTOR`, needs its name in the
    details too: :func:`private_entry` gives both.)
    """
    actor = entry.actor
    if not actor or actor in SYSTEM_ACTORS or actor.startswith(("cli:", PERSON_ACTOR, "@")):
        return actor
    if entry.details.get("visitor") == actor:
        return VISITOR_ACTOR
    if entry.person_id is not None:
        person = session.get(Person, entry.person_id)
        if person is not None:
            # Held for the session: its identity map keeps rows only while they
            # are referenced, and a badge's next event would read it again.
            session.info.setdefault(_PEOPLE_KEY, {})[person.id] = person
        if person is not None and person.name == actor:
            return f"{PERSON_ACTOR}{person.id}"
    someone = session.scalar(select(Person.id).where(Person.name == actor))
    return actor if someone is None else f"{PERSON_ACTOR}{someone}"


def private_entry(
    session: Session,
    entry: LogEntry,
    event_id: int,
    accounts: AccountDirectory | None = None,
    *,
    migrating: bool = False,
) -> LogEntry:
    """``entry`` as the chain stores it (as event ``event_id``): personal values
    committed, the actor stood in for.

    With ``migrating``, an actor that is nobody's (no person, no account, not
    the system) is taken for a former member of staff and committed as
    :data:`FORMER_ACTOR`; a new event's actor is never guessed at that way.
    """
    accounts = accounts or AccountDirectory(session)
    actor = personal_actor(session, entry)
    details = dict(entry.details)
    # Only a name can be an account's (the system, a CLI user and stand-ins are not):
    # the daemon's own events cost no lookup.
    if actor == entry.actor and ACTOR_KEY not in details and _is_a_name(actor):
        if accounts.is_account(actor):
            actor, details[ACTOR_KEY] = ACCOUNT_ACTOR, entry.actor
        elif migrating:
            actor, details[ACTOR_KEY] = FORMER_ACTOR, entry.actor
    owners = {key: accounts.owner(details[key]) for key in ACCOUNT_FIELDS if key in details}
    by_account = accounts.owner(entry.actor) if actor == ACCOUNT_ACTOR else None
    owners[ACTOR_KEY] = by_account
    # The address is the one who acted (a login's or a failed login's account).
    owners["client"] = by_account if by_account is not None else _first(owners)
    details = commit_details(session, details, entry.person_id, event_id, owners=owners)
    if actor == entry.actor and details == entry.details:
        return entry
    return LogEntry(entry.kind, actor, entry.slot, entry.person_id, details)


def _is_a_name(actor: str) -> bool:
    """Whether ``actor`` is somebody's name (an account's, or a leaver's in an old log),
    not the system, the panel before a login, a CLI user or a stand-in."""
    return actor not in NOBODYS_ACTORS and not actor.startswith(("cli:", PERSON_ACTOR, "@"))


def _first(owners: Mapping[str, int | None]) -> int | None:
    return next((owner for owner in owners.values() if owner is not None), None)


# ----------------------------------------------------------------- reading


def refs_in(details: Any) -> set[int]:
    """Every reference id inside ``details``."""
    if is_ref(details):
        return {details["ref"]}
    if isinstance(details, dict):
        return set().union(*(refs_in(v) for v in details.values()))
    if isinstance(details, list):
        return set().union(*(refs_in(v) for v in details))
    return set()


# Built once, the ids bound when run: an ``in_()`` of a list built the
# statement again and coerced each id, per page and per export batch.
_VALUES_OF = select(PersonalValue.id, PersonalValue.value, PersonalValue.person_id).where(
    PersonalValue.id.in_(bindparam("ids", expanding=True))
)
_NAMES_OF = select(Person.id, Person.name).where(Person.id.in_(bindparam("ids", expanding=True)))


class Resolver:
    """Turns references back into values (or pseudonyms) for the readers of the log.

    Load it once with every reference a page needs (:meth:`load`), then call
    :meth:`details` and :meth:`actor` per event: one query per page, not per row.
    """

    def __init__(self, session: Session):
        self.session = session
        #: ref -> (value, person id), for the rows still stored.
        self.values: dict[int, tuple[str, int | None]] = {}
        #: ref -> person id, for every ref ever loaded (erased ones give a pseudonym).
        self.owners: dict[int, int | None] = {}
        #: Current names of the people met so far.
        self.names: dict[int, str] = {}

    def load(
        self, all_details: Iterable[Any], actors: Iterable[str] = (), refs: Iterable[int] = ()
    ) -> None:
        """Fetch the values behind every reference in ``all_details`` and of the
        reference ids ``refs``, and the names of the people among ``actors``."""
        wanted = set(refs).union(*(refs_in(parsed_details(d)) for d in all_details))
        wanted -= set(self.values)
        for chunk in _chunks(sorted(wanted), 500):
            rows = self.session.execute(_VALUES_OF, {"ids": chunk})
            for ref, value, owner in rows:
                self.values[ref] = (value, owner)
        people = {actor_person(a) for a in actors} - {None} - set(self.names)
        for chunk in _chunks(sorted(people), 500):
            rows = self.session.execute(_NAMES_OF, {"ids": chunk})
            self.names.update({pid: name for pid, name in rows})

    def value(self, ref: dict, person_id: int | None) -> str:
        """The value a reference stands for, or the pseudonym once it is erased."""
        stored = self.values.get(ref["ref"])
        if stored is not None:
            return stored[0]
        return pseudonym(person_id) if person_id is not None else ERASED

    def details(self, details: Any, person_id: int | None) -> Any:
        """``details`` with every reference resolved (load them first)."""
        if is_ref(details):
            return self.value(details, person_id)
        if isinstance(details, dict):
            # Only a dict or a list can hold a reference: scalars are kept as they are.
            return {
                k: self.details(v, owner_of(k, details, person_id))
                if isinstance(v, (dict, list))
                else v
                for k, v in details.items()
            }
        if isinstance(details, list):
            return [
                self.details(v, person_id) if isinstance(v, (dict, list)) else v for v in details
            ]
        return details

    def actor(self, actor: str, details: Any) -> str:
        """The actor as a reader should see it (load the person first)."""
        who = actor_person(actor)
        if who is not None:
            return self.names.get(who, pseudonym(who))
        if actor == VISITOR_ACTOR and isinstance(details, dict):
            visitor = details.get("visitor")
            return self.value(visitor, None) if is_ref(visitor) else str(visitor or "visitor")
        if actor in (ACCOUNT_ACTOR, FORMER_ACTOR) and isinstance(details, dict):
            named = details.get(ACTOR_KEY)
            stored = self.values.get(named["ref"]) if is_ref(named) else None
            if stored is not None:
                return stored[0]
            if isinstance(named, str) and named:
                return named
            return FORMER_STAFF if actor == FORMER_ACTOR else ERASED
        return actor


def actor_person(actor: str) -> int | None:
    """The person id a ``person:<id>`` actor stands for, else ``None``."""
    if actor.startswith(PERSON_ACTOR) and actor[len(PERSON_ACTOR) :].isdigit():
        return int(actor[len(PERSON_ACTOR) :])
    return None


def resolve_one(session: Session, details: Any, person_id: int | None) -> Any:
    """One event's details with its references resolved (for a single event)."""
    resolver = Resolver(session)
    resolver.load([details])
    return resolver.details(details, person_id)


def erase_values(session: Session, person_id: int) -> int:
    """Delete every personal value of ``person_id``; how many were deleted."""
    result = session.execute(
        delete(PersonalValue)
        .where(PersonalValue.person_id == person_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def needs_resolving(stored: Any, actor: str) -> bool:
    """Whether an event's stored details text may hold a reference, or its
    actor is read from them (a panel account, a visitor, a former name).

    Details that are not text (already parsed) are always looked through.
    """
    if not isinstance(stored, str):
        return True
    return REF_KEY in stored or actor in DETAILS_ACTORS


def parsed_details(details: Any) -> Any:
    """Stored details text parsed, ``None`` when it is not JSON (it holds no
    references); anything not text is given back as it is."""
    if not isinstance(details, str):
        return details
    try:
        return json.loads(details)
    except ValueError:
        return None


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class ShownEvent:
    """An event as a reader shows it: its references resolved, its row untouched.

    Built by :func:`shown_events`; it has the attributes of
    :class:`~locker.models.Event` the readers use, so the ORM row (which a
    change would mark dirty) is never altered.
    """

    id: int
    ts: str
    kind: str
    actor: str
    slot: int | None
    person_id: int | None
    details: str
    prev_hash: str
    hash: str


def shown_events(session: Session, events: Sequence[Any]) -> list[ShownEvent]:
    """``events`` (rows with an Event's attributes) with names in place of references."""
    # Parsed once, and only where a reference or a details-named actor can be.
    parsed = [
        parsed_details(e.details) if needs_resolving(e.details, e.actor) else None for e in events
    ]
    resolver = Resolver(session)
    resolver.load([d for d in parsed if d is not None], {e.actor for e in events})
    shown = []
    for event, details in zip(events, parsed, strict=True):
        text = event.details
        if details is not None:
            resolved = resolver.details(details, event.person_id)
            if event.actor in (ACCOUNT_ACTOR, FORMER_ACTOR) and isinstance(resolved, dict):
                resolved.pop(ACTOR_KEY, None)  # shown as the actor, not again in the details
            if resolved != details:
                text = json.dumps(
                    resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                )
        shown.append(
            ShownEvent(
                event.id,
                event.ts,
                event.kind,
                resolver.actor(event.actor, details),
                event.slot,
                event.person_id,
                text,
                event.prev_hash,
                event.hash,
            )
        )
    return shown
