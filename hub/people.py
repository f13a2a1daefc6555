"""People at the hub: their names beside the shipped chain, and erasure when a site forgets them.

Since the data-protection issue a site's events carry a commitment
``{"ref": 17, "c": sha256(salt || value)}`` in place of each personal value
(:mod:`locker.log.personal`). A batch ships, beside its events, the values
the group's pages need: people's **names** (details keys ``name``, ``person``,
``manager``) with their salts. Nothing else personal leaves the site: not
card numbers, not visitors' names, not grant notes (free text that may carry
health details, which the group does not need to oversee overrides: the
reason code says why), not the messages of logged alerts (the hub shows the
alert's kind and the person's name instead; the snapshot's open alerts do carry
theirs, and an erasure rewrites them).

The hub keeps each value in ``site_personal_values``, outside the chain it
verifies, after checking it against the commitment an event of the batch
carries: a value that does not match is refused with the batch. When a batch
brings ``person.forgotten``, the hub deletes that person's values and writes
their pseudonym ("Former staff #12") over their name wherever it copied it
(the shifts, the last status snapshot), in the batch's transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hub.models import Site, SiteEvent, SitePersonalValue, SiteShift
from locker import events as ev
from locker.errors import InvalidRequest
from locker.log.personal import (
    ERASED,
    actor_person,
    commitment,
    is_ref,
    owner_of,
    pseudonym,
    refs_in,
)
from locker.shipping import SHIPPED_PERSONAL_FIELDS

#: The details keys whose values a site ships to the hub: people's names.
SHIPPED_FIELDS = SHIPPED_PERSONAL_FIELDS
#: How a personal value the site kept reads at the hub.
KEPT_AT_SITE = "(kept at the site)"
#: The longest value the hub takes (a name is at most 80 characters at the site).
MAX_VALUE = 200
_SALT = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class ShippedValue:
    """A person's name a batch ships beside its events."""

    ref: int
    person_id: int | None
    field: str
    value: str
    salt: str


def parse_values(raw: Any) -> list[ShippedValue]:
    """A batch's ``values`` list, checked for shape (:class:`InvalidRequest` naming the problem)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest("values must be a list")
    values = []
    for i, item in enumerate(raw):
        where = f"values[{i}]"
        if not isinstance(item, dict) or set(item) != {
            "ref",
            "person_id",
            "field",
            "value",
            "salt",
        }:
            raise InvalidRequest(f"{where}: an object with ref, person_id, field, value, salt")
        ref, person = item["ref"], item["person_id"]
        if type(ref) is not int or not 0 < ref < 2**62:
            raise InvalidRequest(f"{where}.ref: a positive integer is needed")
        if person is not None and (type(person) is not int or not 0 < person < 2**31):
            raise InvalidRequest(f"{where}.person_id: a person id or null is needed")
        if item["field"] not in SHIPPED_FIELDS:
            raise InvalidRequest(
                f"{where}.field: the hub takes only people's names "
                f"({', '.join(sorted(SHIPPED_FIELDS))}), not {str(item['field'])[:24]!r}"
            )
        if not isinstance(item["value"], str) or not 0 < len(item["value"]) <= MAX_VALUE:
            raise InvalidRequest(f"{where}.value: text of 1 to {MAX_VALUE} characters is needed")
        if not isinstance(item["salt"], str) or not _SALT.fullmatch(item["salt"]):
            raise InvalidRequest(f"{where}.salt: 32 hex digits are needed")
        values.append(ShippedValue(ref, person, item["field"], item["value"], item["salt"]))
    return values


def committed_refs(events: Iterable[dict[str, Any]]) -> dict[int, tuple[str, str, int | None]]:
    """``ref -> (commitment, field, owner)`` of every commitment in ``events``' details."""
    found: dict[int, tuple[str, str, int | None]] = {}

    def walk(node: Any, field: str, owner: int | None) -> None:
        if is_ref(node):
            found[node["ref"]] = (node["c"], field, owner)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, key, owner_of(key, node, owner))
        elif isinstance(node, list):
            for value in node:
                walk(value, field, owner)

    for event in events:
        details = event.get("details")
        # Most events name nobody: only those with a commitment are parsed.
        if details is not None and '"ref":' in details:
            walk(json.loads(details), "", event.get("person_id"))
    return found


def check_values(
    values: Sequence[ShippedValue],
    events: Sequence[dict[str, Any]],
    new_events: Sequence[dict[str, Any]],
) -> list[ShippedValue]:
    """The values to keep: those the batch's new events commit to.

    A value no event of the batch commits to, or one its commitment rejects,
    is refused (:class:`InvalidRequest`). One of an event the hub has already
    is checked and left out: a re-sent batch stores nothing twice, and cannot
    bring back a value the hub has erased since.
    """
    if not values:
        return []
    refs = committed_refs(events)
    fresh = committed_refs(new_events)
    for i, value in enumerate(values):
        where = f"values[{i}] (ref {value.ref})"
        if value.ref not in refs:
            raise InvalidRequest(f"{where}: no event of the batch refers to it")
        digest, field, owner = refs[value.ref]
        if commitment(value.salt, value.value) != digest:
            raise InvalidRequest(f"{where}: the value does not match the event's commitment")
        if (field, owner) != (value.field, value.person_id):
            raise InvalidRequest(f"{where}: the event has it as {field!r} of person {owner}")
    return [value for value in values if value.ref in fresh]


def store_values(session: Session, site_id: int, values: Sequence[ShippedValue]) -> None:
    """Keep checked ``values`` of the site (a value stored already stays as it is)."""
    if values:
        session.execute(
            insert(SitePersonalValue)
            .values(
                [
                    {
                        "site_id": site_id,
                        "ref": v.ref,
                        "person_id": v.person_id,
                        "field": v.field,
                        "value": v.value,
                        "salt": v.salt,
                    }
                    for v in values
                ]
            )
            .on_conflict_do_nothing()
        )


def forget(session: Session, site: Site, person_id: int) -> None:
    """Erase what the hub holds of ``person_id`` of ``site`` (they logged ``person.forgotten``).

    Their values go, and their name is replaced by their pseudonym wherever the
    hub copied it: the shifts and the last status snapshot (its alert messages
    too, which may name them).
    """
    alias = pseudonym(person_id)
    names = set(
        session.scalars(
            select(SitePersonalValue.value).where(
                SitePersonalValue.site_id == site.id,
                SitePersonalValue.person_id == person_id,
                SitePersonalValue.field.in_(SHIPPED_FIELDS),
            )
        )
    )
    names.update(
        session.scalars(
            select(SiteShift.name).where(
                SiteShift.site_id == site.id, SiteShift.person_id == person_id
            )
        )
    )
    snapshot = site.snapshot or {}
    names.update(
        str(p.get("name"))
        for p in snapshot.get("on_shift", [])
        if isinstance(p, dict) and p.get("id") == person_id and p.get("name")
    )
    names.update(
        str(s.get("person"))
        for s in snapshot.get("slots", [])
        if isinstance(s, dict) and s.get("person_id") == person_id and s.get("person")
    )
    names.discard(alias)
    session.execute(
        SitePersonalValue.__table__.delete().where(
            SitePersonalValue.site_id == site.id, SitePersonalValue.person_id == person_id
        )
    )
    session.execute(
        update(SiteShift)
        .where(SiteShift.site_id == site.id, SiteShift.person_id == person_id)
        .values(name=alias)
    )
    if site.snapshot is not None and names:
        site.snapshot = _scrubbed(site.snapshot, names, alias)


def forget_in(session: Session, site: Site, new_events: Sequence[dict[str, Any]]) -> None:
    """Apply every ``person.forgotten`` among a batch's new events."""
    for event in new_events:
        if event["kind"] == ev.PERSON_FORGOTTEN and event.get("person_id") is not None:
            forget(session, site, event["person_id"])


def _scrubbed(node: Any, names: set[str], alias: str) -> Any:
    """``node`` (decoded JSON) with every one of ``names`` in its text replaced by ``alias``."""
    if isinstance(node, dict):
        return {k: _scrubbed(v, names, alias) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrubbed(v, names, alias) for v in node]
    if isinstance(node, str):
        for name in sorted(names, key=len, reverse=True):
            node = node.replace(name, alias)
    return node


# ----------------------------------------------------------------- reading


class Names:
    """The names behind a page's events: load once per page, then read per event."""

    def __init__(self, session: Session, site_id: int):
        self.session = session
        self.site_id = site_id
        self.values: dict[int, str] = {}
        #: A person's name by id: from their shipped name values, else their shifts.
        self.people: dict[int, str] = {}

    def load(self, events: Sequence[Any]) -> Names:
        """Fetch the values and people ``events`` (stored rows) refer to."""
        _load_names(self.session, {self.site_id: (self, events)})
        return self

    @classmethod
    def for_sites(
        cls, session: Session, events_by_site: Mapping[int, Sequence[Any]]
    ) -> dict[int, Names]:
        """A loaded :class:`Names` for each site's events, in three queries for them
        all (the overrides page shows up to 200 sites; a query per site made it slow)."""
        names = {site_id: cls(session, site_id) for site_id in events_by_site}
        _load_names(session, {s: (names[s], events) for s, events in events_by_site.items()})
        return names

    def name_of(self, person_id: int) -> str:
        """A person's name as the hub knows it, their pseudonym once it has none."""
        return self.people.get(person_id, pseudonym(person_id))

    def details(self, node: Any, owner: int | None, field: str = "") -> Any:
        """``node`` (decoded details) with every commitment read as the hub may show it."""
        if is_ref(node):
            if field not in SHIPPED_FIELDS:
                return KEPT_AT_SITE
            value = self.values.get(node["ref"])
            if value is not None:
                return value
            return self.name_of(owner) if owner is not None else ERASED
        if isinstance(node, dict):
            return {k: self.details(v, owner_of(k, node, owner), k) for k, v in node.items()}
        if isinstance(node, list):
            return [self.details(v, owner, field) for v in node]
        return node

    def actor(self, actor: str) -> str:
        """``person:<id>`` as that person's name; any other actor as it is."""
        who = actor_person(actor)
        return actor if who is None else self.name_of(who)

    def shown(self, event: SiteEvent) -> ShownEvent:
        """``event`` with its names in place (the stored row is not touched)."""
        details = None
        if event.details is not None:
            details = json.dumps(
                self.details(json.loads(event.details), event.person_id),
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            )
        return ShownEvent(
            event.seq,
            event.seq,
            event.site_id,
            event.ts,
            event.kind,
            self.actor(event.actor),
            event.slot,
            event.person_id,
            details,
            event.hash,
        )


@dataclass(frozen=True)
class ShownEvent:
    """A shipped event as the pages show it: names in place of commitments."""

    id: int
    seq: int
    site_id: int
    ts: str
    kind: str
    actor: str
    slot: int | None
    person_id: int | None
    details: str | None
    hash: str


def shown_events(session: Session, site_id: int, events: Sequence[SiteEvent]) -> list[ShownEvent]:
    """``events`` of one site with names in place of commitments."""
    names = Names(session, site_id).load(events)
    return [names.shown(e) for e in events]


def _load_names(session: Session, wanted: Mapping[int, tuple[Names, Sequence[Any]]]) -> None:
    """Fill each site's :class:`Names` with the values and people its events refer to.

    A person's name comes from their shipped name values, else their newest shift.
    """
    refs: set[tuple[int, int]] = set()
    people: set[tuple[int, int]] = set()
    for site_id, (_, events) in wanted.items():
        for event in events:
            if event.details is not None:
                refs |= {(site_id, ref) for ref in refs_in(json.loads(event.details))}
            for who in (event.person_id, actor_person(event.actor)):
                if who is not None:
                    people.add((site_id, who))
    value = SitePersonalValue
    if refs:
        for site_id, ref, text in session.execute(
            select(value.site_id, value.ref, value.value).where(
                tuple_(value.site_id, value.ref).in_(sorted(refs))
            )
        ):
            wanted[site_id][0].values[ref] = text
    if not people:
        return
    pairs = sorted(people)
    for site_id, person, name in session.execute(
        select(SiteShift.site_id, SiteShift.person_id, SiteShift.name)
        .where(tuple_(SiteShift.site_id, SiteShift.person_id).in_(pairs))
        .order_by(SiteShift.day)
    ):
        wanted[site_id][0].people[person] = name
    for site_id, person, name in session.execute(
        select(value.site_id, value.person_id, value.value)
        .where(tuple_(value.site_id, value.person_id).in_(pairs), value.field == "name")
        .order_by(value.ref)
    ):
        wanted[site_id][0].people[person] = name
