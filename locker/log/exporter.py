"""Exporting the log as CSV (formula-safe) or JSON lines, streamed in chunks."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locker.errors import ChainBroken
from locker.log.chain import canonical_details, format_ts
from locker.log.personal import (
    DETAILS_ACTORS,
    REF_KEY,
    Resolver,
    needs_resolving,
    parsed_details,
)
from locker.log.walk import event_batches
from locker.models import Event

EXPORT_FIELDS = ("id", "ts", "kind", "actor", "slot", "person_id", "details", "prev_hash", "hash")


# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_START = frozenset("=+-@\t\r")
# A reference as the chain stores it (commit_value's dict as canonical JSON).
# A quote inside a JSON string is always escaped, so only real ones match.
_STORED_REF = re.compile(r'\{"c":"[0-9a-f]{64}","ref":(\d+)\}')


def export(
    session: Session,
    out: TextIO,
    *,
    fmt: Literal["csv", "jsonl"] = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
    person_id: int | None = None,
    batch: int = 5000,
) -> int:
    """Write events to ``out`` oldest first; the number of events written.

    ``since`` is inclusive and ``until`` exclusive; ``kinds`` limits the kinds
    and ``person_id`` the person. CSV has a header row, ``details`` as its
    canonical JSON text, and a leading apostrophe on any text cell a
    spreadsheet would take for a formula; JSON lines carry ``details`` as an
    object and every value exactly as stored. Rows are streamed in keyset
    batches, so memory stays flat. Open a CSV file with ``newline=""``. A row
    that cannot be read, or whose details are not JSON, raises
    :class:`ChainBroken` (run :func:`verify` to see the rest).
    """
    written = 0
    for text, count in _export(session, fmt, since, until, kinds, person_id, batch):
        out.write(text)
        written += count
    return written


def export_chunks(
    session: Session,
    *,
    fmt: Literal["csv", "jsonl"] = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
    person_id: int | None = None,
    batch: int = 5000,
    redact: Callable[[str], str] | None = None,
) -> Iterator[str]:
    """What :func:`export` writes, as text chunks to stream: one per batch of events.

    The format is checked at once; the events are read as the chunks are taken.
    ``redact`` rewrites each event's stored details text on the way out (the
    panel hides badge UIDs from viewers this way); such an export no longer
    matches its hashes.
    """
    _check_format(fmt)
    chunks = _export(session, fmt, since, until, kinds, person_id, batch, redact)
    return (text for text, _ in chunks)


def _export(
    session: Session,
    fmt: str,
    since: datetime | None,
    until: datetime | None,
    kinds: Iterable[str] | None,
    person_id: int | None,
    batch: int,
    redact: Callable[[str], str] | None = None,
) -> Iterator[tuple[str, int]]:
    """``(text, events in it)`` for each batch of the export; the CSV header first."""
    _check_format(fmt)
    conditions: list[Any] = []
    after_id = 0
    if since is not None:
        conditions.append(Event.ts >= format_ts(since))
    if until is not None:
        conditions.append(Event.ts < format_ts(until))
    if conditions:
        # The ts index gives the ids the time range spans, so each keyset
        # batch reads a range of the primary key (or of the kind or person index).
        low, high = session.execute(
            select(func.min(Event.id), func.max(Event.id)).where(*conditions)
        ).one()
        after_id = -1 if low is None else low - 1
        conditions.append(Event.id <= (-1 if high is None else high))
    if kinds is not None:
        conditions.append(Event.kind.in_(sorted(set(kinds))))
    if person_id is not None:
        conditions.append(Event.person_id == person_id)
    batches = resolved_batches(session, event_batches(session, conditions, after_id, batch))
    if redact is not None:
        at = EXPORT_FIELDS.index("details")
        batches = ([(*r[:at], redact(r[at]), *r[at + 1 :]) for r in rows] for rows in batches)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_FIELDS)
        yield _take(buffer), 0
        for rows in batches:
            writer.writerows(_safe_rows(rows))
            yield _take(buffer), len(rows)
    else:
        for rows in batches:
            yield "".join(_jsonl_line(row) for row in rows), len(rows)


def resolved_batches(
    session: Session, batches: Iterable[Sequence[Any]]
) -> Iterator[list[Sequence[Any]]]:
    """Rows of ``EXPORT_FIELDS`` with personal references resolved to their values.

    The chain stores commitments (:mod:`locker.log.personal`); an export is
    read by people, so it shows the names (or the pseudonym of a forgotten
    person). Such rows no longer hash to ``hash``: ``locker log verify``
    checks the stored log.
    """
    at_actor, at_details = EXPORT_FIELDS.index("actor"), EXPORT_FIELDS.index("details")
    at_person = EXPORT_FIELDS.index("person_id")
    for rows in batches:
        # Most events hold no reference and name no account or visitor: they
        # are passed through unparsed (parsing every row's details, twice,
        # halved the export's speed). Most of the rest get their values
        # swapped into the stored text; only the others are parsed.
        parsed: dict[int, Any] = {}
        swapped: dict[int, list[int]] = {}
        for at, row in enumerate(rows):
            stored, actor = row[at_details], row[at_actor]
            # Not text only in a row written behind the application's back: shown as stored.
            if not isinstance(stored, str) or not needs_resolving(stored, actor):
                continue
            refs = _stored_refs(stored, actor)
            if refs is None:
                parsed[at] = parsed_details(stored)
            else:
                swapped[at] = refs
        actors = {row[at_actor] for row in rows}
        resolver = Resolver(session)
        resolver.load(
            [d for d in parsed.values() if d is not None],
            actors,
            refs=(ref for refs in swapped.values() for ref in refs),
        )
        # An actor not read from its row's details is shown the same way
        # wherever it appears: resolved once per batch, and only the rows
        # whose actor reads differently are rebuilt.
        renamed = {}
        for actor in actors:
            shown = resolver.actor(actor, None)
            if shown != actor:
                renamed[actor] = shown
        out: list[Sequence[Any]] = [
            (*row[:at_actor], renamed[row[at_actor]], *row[at_actor + 1 :])
            if row[at_actor] in renamed
            else row
            for row in rows
        ]
        for at in swapped:
            text = _swapped_in(rows[at][at_details], resolver)
            if text is None:  # a value is erased: its pseudonym needs the parsed details
                parsed[at] = parsed_details(rows[at][at_details])
            else:
                row = out[at]
                out[at] = (*row[:at_details], text, *row[at_details + 1 :])
        for at, details in parsed.items():
            if details is None:
                continue
            row = rows[at]
            cells = list(row)
            cells[at_actor] = resolver.actor(row[at_actor], details)
            shown = resolver.details(details, row[at_person])
            if shown != details:
                cells[at_details] = canonical_details(shown)
            out[at] = tuple(cells)
        yield out


def _stored_refs(stored: str, actor: str) -> list[int] | None:
    """The reference ids in stored details text, when every reference in it is
    spelt as the chain writes one and the actor is not read from the details;
    else ``None`` (the details are parsed instead)."""
    if actor in DETAILS_ACTORS:
        return None
    refs = _STORED_REF.findall(stored)
    if len(refs) != stored.count(REF_KEY):
        return None
    return [int(ref) for ref in refs]


def _swapped_in(stored: str, resolver: Resolver) -> str | None:
    """``stored`` with each reference replaced by its value as a JSON string,
    which is the canonical text of the resolved details (the keys are the
    same); ``None`` if a value is no longer stored."""
    values = resolver.values
    try:
        return _STORED_REF.sub(
            lambda ref: json.dumps(values[int(ref[1])][0], ensure_ascii=False), stored
        )
    except KeyError:
        return None


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or jsonl")


def _take(buffer: io.StringIO) -> str:
    """What has been written to ``buffer``, emptying it."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def spreadsheet_safe(value: object) -> object:
    """``value`` as a CSV cell a spreadsheet will not run as a formula: text
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe; anything else is as it was."""
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        return "'" + value
    return value


def _safe_rows(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    """Each row with :func:`spreadsheet_safe` applied to its cells, written out
    inline: a function call per cell was a fifth of the export's time."""
    formula_start = _FORMULA_START
    for row in rows:
        yield [
            "'" + value if isinstance(value, str) and value[:1] in formula_start else value
            for value in row
        ]


def _jsonl_line(row: Sequence[Any]) -> str:
    record = dict(zip(EXPORT_FIELDS, row, strict=True))
    try:
        record["details"] = json.loads(record["details"])
    except (TypeError, ValueError) as exc:
        raise ChainBroken(record["id"], "its details are not valid JSON") from exc
    return json.dumps(record, ensure_ascii=False) + "\n"
