"""People and their badges: adding, listing, revoking, and the roster the rules read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locker import events as ev
from locker.decisions import LogEntry
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.log import append
from locker.models import Badge, Person, Shift
from locker.roster import PersonInfo, Roster, ShiftInfo, normalise_uid

ROLES = ("staff", "manager", "visitor")


def add_person(
    session: Session,
    name: str,
    *,
    role: str = "staff",
    badge: str | None = None,
    slot: int | None = None,
    setting_authorised: bool = False,
    at: datetime,
    actor: str,
    client: str = "",
) -> Person:
    """Store a new person (and their first badge); logs ``config.changed``.

    ``client`` is the address of the panel the change came from, if any; it is
    logged with the change (so are those of the functions below).
    """
    name = _checked(session, name, role, slot, None)
    person = Person(
        name=name,
        role=role,
        slot_number=slot,
        setting_authorised=setting_authorised,
        active=True,
        created_at=at,
    )
    session.add(person)
    session.flush()
    details = {"what": "person added", "name": name, "role": role, "slot": slot}
    _log_change(session, person.id, details, at, actor, client)
    if badge:
        add_badge(session, person.id, badge, at=at, actor=actor, client=client)
    return person


def update_person(
    session: Session,
    person_id: int,
    *,
    name: str,
    role: str,
    slot: int | None,
    setting_authorised: bool,
    at: datetime,
    actor: str,
    client: str = "",
) -> dict[str, list[object]]:
    """Change a person's name, role, own slot or permission; what changed, ``{field: [old, new]}``.

    Logs ``config.changed`` with those changes (nothing when nothing changed).
    Badges, custody and shifts stay as they are: a device already held stays in
    its slot until it is collected, whatever the person's own slot becomes.
    """
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"there is nobody with id {person_id}")
    name = _checked(session, name, role, slot, person_id)
    wanted = {"name": name, "role": role, "slot": slot, "setting_authorised": setting_authorised}
    now = {
        "name": person.name,
        "role": person.role,
        "slot": person.slot_number,
        "setting_authorised": person.setting_authorised,
    }
    changes = {key: [now[key], value] for key, value in wanted.items() if now[key] != value}
    if not changes:
        return changes
    person.name, person.role = name, role
    person.slot_number, person.setting_authorised = slot, setting_authorised
    details = {"what": "person changed", "name": name, "changes": changes}
    _log_change(session, person.id, details, at, actor, client)
    return changes


def _log_change(
    session: Session, person_id: int, details: dict, at: datetime, actor: str, client: str
) -> None:
    """Log ``config.changed`` about ``person_id``, with the panel's address when known."""
    if client:
        details = {**details, "client": client}
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, None, person_id, details), at)


def _checked(
    session: Session, name: str, role: str, slot: int | None, person_id: int | None
) -> str:
    """The name tidied, once name, role and own slot suit ``person_id`` (``None``: a new person)."""
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise InvalidRequest("a name of 1 to 120 characters is needed")
    if not name.isprintable() or not _is_text(name):
        raise InvalidRequest("the name has characters that are not printable text")
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    same_name = session.scalar(select(Person.id).where(Person.name == name))
    if same_name is not None and same_name != person_id:
        raise Conflict(f"there is already somebody called {name!r}")
    if slot is not None:
        owner = session.scalar(select(Person).where(Person.slot_number == slot))
        if owner is not None and owner.id != person_id:
            raise Conflict(f"slot {slot} is already {owner.name}'s")
    return name


def _is_text(value: str) -> bool:
    """False for strings holding lone surrogates (undecodable bytes from a terminal)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def add_badge(
    session: Session, person_id: int, uid: str, *, at: datetime, actor: str, client: str = ""
) -> Badge:
    """Give ``person_id`` the badge ``uid``; a UID in use (even revoked) is refused."""
    uid = normalise_uid(uid)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    existing = session.scalar(select(Badge).where(Badge.uid == uid))
    if existing is not None:
        state = "revoked" if existing.revoked_at else "in use"
        raise Conflict(f"badge {uid} is already {state} ({existing.person.name})")
    badge = Badge(uid=uid, person_id=person_id, created_at=at)
    session.add(badge)
    session.flush()
    details = {"what": "badge added", "uid": uid, "name": person.name}
    _log_change(session, person_id, details, at, actor, client)
    return badge


def revoke_badge(
    session: Session, uid: str, *, at: datetime, actor: str, client: str = ""
) -> Badge:
    """Revoke badge ``uid``: it is refused from now on, and its reads are logged."""
    uid = normalise_uid(uid)
    badge = session.scalar(select(Badge).where(Badge.uid == uid))
    if badge is None:
        raise NotFound(f"no badge {uid}")
    if badge.revoked_at is not None:
        raise Conflict(f"badge {uid} was already revoked")
    badge.revoked_at = at
    details = {"what": "badge revoked", "uid": uid, "name": badge.person.name}
    _log_change(session, badge.person_id, details, at, actor, client)
    return badge


def find_person(session: Session, name_or_id: str | int) -> Person:
    """A person by id or exact name."""
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        person = session.get(Person, int(name_or_id))
    else:
        person = session.scalar(select(Person).where(Person.name == name_or_id))
    if person is None:
        raise NotFound(f"no person {name_or_id!r}")
    return person


@dataclass(frozen=True)
class PersonRow:
    """One line of ``locker staff list``."""

    id: int
    name: str
    role: str
    slot: int | None
    badges: tuple[str, ...]
    active: bool


def list_people(session: Session) -> list[PersonRow]:
    """Everybody, by name, with their active badges."""
    people = session.scalars(
        select(Person).options(selectinload(Person.badges)).order_by(Person.name)
    )
    return [
        PersonRow(
            p.id,
            p.name,
            p.role,
            p.slot_number,
            tuple(b.uid for b in p.badges if b.revoked_at is None),
            p.active,
        )
        for p in people
    ]


def load_roster(session: Session, tz: ZoneInfo, around: datetime) -> Roster:
    """A snapshot of people, badges and the shifts of the local days around ``around``."""
    people = {
        p.id: PersonInfo(p.id, p.name, p.role, p.slot_number, p.setting_authorised, p.active)
        for p in session.scalars(select(Person))
    }
    badges: dict[str, int] = {}
    revoked: dict[str, int] = {}
    for badge in session.scalars(select(Badge)):
        (revoked if badge.revoked_at else badges)[badge.uid] = badge.person_id
    today = around.astimezone(tz).date()
    days = [today + timedelta(days=d) for d in (-1, 0, 1)]
    shifts: dict[tuple[int, date], ShiftInfo] = {}
    query = select(Shift).where(Shift.day.in_(days)).options(selectinload(Shift.breaks))
    for shift in session.scalars(query):
        shifts[(shift.person_id, shift.day)] = ShiftInfo(
            shift.person_id,
            shift.day,
            shift.start,
            shift.end,
            tuple((b.start, b.end) for b in shift.breaks),
        )
    return Roster(people, badges, revoked, shifts)
