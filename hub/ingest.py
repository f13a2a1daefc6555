"""Taking a site's batch of events: checked against its stored chain, then stored once.

Every event's hash is recomputed with the site's own canonical encoding
(:func:`locker.log.event_hash`) and every event must name the one before it.
The batch's first new event must continue the site's stored head. Events the
hub already has are compared hash for hash: the same batch twice stores
nothing twice, and an old event sent with another hash (a rewritten, rehashed
local log) is refused and raises the alert "site's log does not continue its
history".

Two things a site may ship that the hub cannot fully recompute:

- a **sealed** event: its details held a card number, which does not leave
  the site; it comes with its hash and ``details: null``, and only its links
  (its ``prev_hash``, and the next event's) are checked;
- a **purge gap**: a retention purge removed events before they were shipped;
  the batch then says ``purged_through`` (the site's purge checkpoint), the
  first event must continue that, and the hub raises a ``gap`` alert.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.alerts import open_alert, resolve_alerts
from hub.db import HubDatabase
from hub.models import Site, SiteEvent
from hub.people import ShippedValue, check_values, forget_in, parse_values, store_values
from hub.totals import count_in, shipped_rows
from locker import events as ev
from locker.errors import Conflict, InvalidRequest
from locker.log import GENESIS_HASH, event_hash

#: The alert a refused batch raises (words fixed by the issue).
DOES_NOT_CONTINUE = "site's log does not continue its history"
MAX_BATCH = 50_000
_HASH = re.compile(r"[0-9a-f]{64}")
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_FIELDS = ("id", "ts", "kind", "actor", "slot", "person_id", "details", "prev_hash", "hash")


class ChainRefused(Conflict):
    """A batch that does not continue the site's stored chain."""


@dataclass(frozen=True)
class Batch:
    """A checked-for-shape batch: events in id order, the purge anchor if any, and the
    people's names shipped beside the events (:mod:`hub.people`)."""

    events: list[dict[str, Any]]
    purged_through: tuple[int, str] | None
    values: list[ShippedValue] = field(default_factory=list)


@dataclass(frozen=True)
class IngestResult:
    """What a batch did: events stored, events the hub already had, the new head."""

    stored: int
    duplicates: int
    head_id: int
    head_hash: str


def parse_batch(raw: Any) -> Batch:
    """The batch in ``raw`` (decoded JSON), or :class:`InvalidRequest` naming the problem."""
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        raise InvalidRequest('a batch is a JSON object with an "events" list')
    events = raw["events"]
    if len(events) > MAX_BATCH:
        raise InvalidRequest(f"a batch holds at most {MAX_BATCH} events, not {len(events)}")
    for i, event in enumerate(events):
        _check_event(event, i)
    for before, after in zip(events, events[1:], strict=False):
        if after["id"] != before["id"] + 1:
            raise InvalidRequest(
                f"events[] must be consecutive ids: {after['id']} after {before['id']}"
            )
    anchor = raw.get("purged_through")
    purged = None
    if anchor is not None:
        if (
            not isinstance(anchor, dict)
            or not _is_int(anchor.get("id"))
            or not isinstance(anchor.get("hash"), str)
            or not _HASH.fullmatch(anchor["hash"])
        ):
            raise InvalidRequest('purged_through must be {"id": int, "hash": 64 hex digits}')
        purged = (anchor["id"], anchor["hash"])
    return Batch(events, purged, parse_values(raw.get("values")))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


def _check_event(event: Any, i: int) -> None:
    where = f"events[{i}]"
    if not isinstance(event, dict) or set(event) - {*_FIELDS, "sealed"}:
        raise InvalidRequest(f"{where}: an object with the fields {', '.join(_FIELDS)}")
    if not _is_int(event.get("id")) or event["id"] < 1:
        raise InvalidRequest(f"{where}.id: a positive integer is needed")
    for name in ("kind", "actor"):
        if not isinstance(event.get(name), str) or len(event[name]) > 80:
            raise InvalidRequest(f"{where}.{name}: text of at most 80 characters is needed")
    if not isinstance(event.get("ts"), str) or not _TS.fullmatch(event["ts"]):
        raise InvalidRequest(f"{where}.ts: a UTC time as the log writes it is needed")
    for name in ("slot", "person_id"):
        if event.get(name) is not None and not _is_int(event[name]):
            raise InvalidRequest(f"{where}.{name}: an integer or null is needed")
    for name in ("prev_hash", "hash"):
        if not isinstance(event.get(name), str) or not _HASH.fullmatch(event[name]):
            raise InvalidRequest(f"{where}.{name}: 64 hex digits are needed")
    sealed = event.get("sealed", False)
    details = event.get("details")
    if sealed is not True and not isinstance(details, str):
        raise InvalidRequest(f"{where}.details: the canonical JSON text is needed")
    if sealed is True and details is not None:
        raise InvalidRequest(f"{where}.details: a sealed event ships no details")


def recomputed(event: dict[str, Any]) -> str | None:
    """The hash ``event`` should carry, or ``None`` for a sealed one (nothing to recompute)."""
    if event.get("sealed"):
        return None
    return event_hash(
        prev_hash=event["prev_hash"],
        id=event["id"],
        ts=event["ts"],
        kind=event["kind"],
        actor=event["actor"],
        slot=event.get("slot"),
        person_id=event.get("person_id"),
        details=event["details"],
    )


def ingest(session: Session, site_id: int, batch: Batch, now: datetime) -> IngestResult:
    """Check ``batch`` against site ``site_id``'s chain and store its new events.

    Raises :class:`ChainRefused` (nothing stored) when the batch does not
    continue; :func:`take_batch` then raises the alert.
    """
    # The row lock serialises batches of one site; other sites go on in parallel.
    site = session.scalar(select(Site).where(Site.id == site_id).with_for_update())
    site.last_seen = now
    resolve_alerts(session, site.id, "offline", now)
    problem = _problem(session, site, batch) or _bad_reference(session, site, batch)
    if problem is not None:
        raise ChainRefused(f"{DOES_NOT_CONTINUE}: {problem}")
    new = [e for e in batch.events if e["id"] > site.head_seq]
    values = check_values(batch.values, batch.events, new)
    if new and new[0]["id"] != site.head_seq + 1:
        through = batch.purged_through[0]
        lost = through - site.head_seq
        open_alert(
            session,
            site.id,
            "gap",
            f"{lost} events were purged at the site before they reached the hub "
            f"(ids {site.head_seq + 1} to {through})",
            now,
        )
    if new:
        _copy_in(session, site.id, new)
        session.execute(
            update(Site)
            .where(Site.id == site.id)
            .values(
                head_seq=new[-1]["id"],
                head_hash=new[-1]["hash"],
                events=Site.events + len(new),
            )
        )
        site.head_seq, site.head_hash = new[-1]["id"], new[-1]["hash"]
        count_in(session, site, shipped_rows(new), now)
        store_values(session, site.id, values)
        forget_in(session, site, new)
    return IngestResult(len(new), len(batch.events) - len(new), site.head_seq, site.head_hash)


def check_reported_head(session: Session, site_id: int, reported: Any, now: datetime) -> None:
    """Compare the head a site's snapshot reports with the hub's copy of its log.

    A site whose newest event is older than what it shipped, or differs from
    the hub's copy of that event, has had its log cut back or rewritten: the
    hub raises the same alert as for a refused batch.
    """
    if not isinstance(reported, dict):
        return
    seq, digest = reported.get("id"), reported.get("hash")
    if not _is_int(seq) or not isinstance(digest, str):
        raise InvalidRequest('log_head must be {"id": int, "hash": text}')
    site = session.get(Site, site_id)
    if seq > site.head_seq:
        return  # not shipped yet: the next batch is checked in full
    if seq < site.head_seq:
        problem = f"the site's newest event is {seq}, but it had shipped up to {site.head_seq}"
    elif digest != site.head_hash:
        problem = f"event {seq} differs from the copy the hub stored"
    else:
        return
    open_alert(session, site_id, "chain", f"{DOES_NOT_CONTINUE}: {problem}", now)


def take_batch(db: HubDatabase, site_id: int, batch: Batch, now: datetime) -> IngestResult:
    """:func:`ingest` in its own transaction; a refusal commits its alert, nothing else."""
    try:
        with db.session() as session:
            return ingest(session, site_id, batch, now)
    except ChainRefused as refused:
        with db.session() as session:
            open_alert(session, site_id, "chain", str(refused), now)
        raise


_COPY_EVENTS = (
    "COPY site_events (site_id, seq, ts, kind, actor, slot, person_id, details, prev_hash, hash)"
    " FROM STDIN"
)


def _copy_in(session: Session, site_id: int, events: list[dict[str, Any]]) -> None:
    """Store ``events`` with PostgreSQL's COPY, in the session's transaction.

    COPY moves rows several times faster than an INSERT per row, and the
    batch was checked already: a duplicate key here would be a bug, and
    fails the whole transaction.
    """
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(_COPY_EVENTS) as copy:
        for e in events:
            copy.write_row(
                (
                    site_id,
                    e["id"],
                    e["ts"],
                    e["kind"],
                    e["actor"],
                    e.get("slot"),
                    e.get("person_id"),
                    e.get("details"),
                    e["prev_hash"],
                    e["hash"],
                )
            )


def _problem(session: Session, site: Site, batch: Batch) -> str | None:
    """Why ``batch`` cannot be taken, or ``None``."""
    events = batch.events
    for before, event in zip([None, *events], events, strict=False):
        digest = recomputed(event)
        if digest is not None and digest != event["hash"]:
            return f"event {event['id']}'s hash does not recompute"
        if before is not None and event["prev_hash"] != before["hash"]:
            return f"event {event['id']} does not follow event {before['id']}"
    if not events:
        return None
    known = _stored_hashes(session, site.id, events[0]["id"], min(events[-1]["id"], site.head_seq))
    for event in events:
        if event["id"] in known and known[event["id"]] != event["hash"]:
            return f"event {event['id']} differs from the copy the hub stored"
    new = [e for e in events if e["id"] > site.head_seq]
    if not new:
        return None
    first = new[0]
    if first["id"] == site.head_seq + 1:
        if first["prev_hash"] != site.head_hash:
            return f"event {first['id']} does not follow the hub's event {site.head_seq}"
        return None
    if first is not events[0]:
        return f"event {first['id']} does not follow the hub's event {site.head_seq}"
    anchor = batch.purged_through
    if anchor is None or anchor[0] != first["id"] - 1 or anchor[1] != first["prev_hash"]:
        return (
            f"events {site.head_seq + 1} to {first['id'] - 1} are missing "
            "and no purge checkpoint accounts for them"
        )
    return None


#: Events that name an earlier event by id and hash: (id key, hash key) in their details.
_REFERENCES = {
    ev.LOG_CHECKPOINT: ("event_id", "hash"),
    ev.LOG_PURGED: ("through_id", "through_hash"),
}


def _bad_reference(session: Session, site: Site, batch: Batch) -> str | None:
    """A checkpoint or purge event naming an event with another hash than the chain's.

    A daily checkpoint records the head it covered and a purge the last event it
    removed; the hub checks both against its copy (or the batch), so a site
    cannot claim to have checkpointed or purged a history other than the one it shipped.
    """
    named: dict[int, tuple[int, str]] = {}
    for event in batch.events:
        keys = _REFERENCES.get(event["kind"])
        if keys is None or event.get("sealed"):
            continue
        try:
            details = json.loads(event["details"])
            named[event["id"]] = (int(details[keys[0]]), str(details[keys[1]]))
        except (ValueError, KeyError, TypeError):
            return f"event {event['id']} ({event['kind']}) does not name the event it covers"
    if not named:
        return None
    known = {e["id"]: e["hash"] for e in batch.events}
    if batch.purged_through is not None:
        known[batch.purged_through[0]] = batch.purged_through[1]
    known[0] = GENESIS_HASH
    wanted = [seq for seq, _ in named.values() if seq not in known]
    if wanted:
        rows = session.execute(
            select(SiteEvent.seq, SiteEvent.hash).where(
                SiteEvent.site_id == site.id, SiteEvent.seq.in_(wanted)
            )
        )
        known.update({seq: digest for seq, digest in rows})
    for event_id, (seq, digest) in named.items():
        if seq in known and known[seq] != digest:
            return f"event {event_id} names event {seq} with another hash than the chain's"
    return None


def _stored_hashes(session: Session, site_id: int, low: int, high: int) -> dict[int, str]:
    """The hub's stored hashes of the site's events ``low`` to ``high``."""
    if high < low:
        return {}
    rows = session.execute(
        select(SiteEvent.seq, SiteEvent.hash).where(
            SiteEvent.site_id == site_id, SiteEvent.seq >= low, SiteEvent.seq <= high
        )
    )
    return {seq: digest for seq, digest in rows}
