"""A rota file: the CSV a manager exports from a spreadsheet, read and stored.

The format (SPEC's "Rota file"): a header row ``date,name,start,end,breaks``,
then one row per person per day. What a UK spreadsheet writes is taken as it
is: dates as ``YYYY-MM-DD`` or ``DD/MM/YYYY``, ``8:00`` for ``08:00``, the
header's words and a person's name in any case and spacing. A file with any
bad row is rejected whole, every bad row named with its line number and why;
nothing is changed. Importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locker import events
from locker.decisions import LogEntry
from locker.errors import RotaError
from locker.log import append
from locker.models import Person, Shift
from locker.rota import (
    NonexistentTime,
    Window,
    break_rows,
    break_windows,
    day_problem,
    local_to_utc,
    shift_problems,
    shift_windows,
)

#: The header row every rota file starts with, exactly.
HEADER = ("date", "name", "start", "end", "breaks")
_WANTED = ",".join(HEADER)


# One- or two-digit hours: spreadsheets often write 8:00 for 08:00.
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
# A UK spreadsheet's date: day, month, year.
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_BREAK = re.compile(r"([^-]*)-([^-]*)")


@dataclass(frozen=True)
class ShiftPlan:
    """One valid row of a rota file: a person's shift on a local day, in UTC."""

    person_id: int
    day: date
    start: datetime
    end: datetime
    breaks: tuple[Window, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    """What an import did: shifts added, changed and left as they were.

    ``first_day`` and ``last_day`` span the file's rows (``None`` for a file
    with a header and no rows).
    """

    added: int
    changed: int
    unchanged: int
    first_day: date | None
    last_day: date | None

    @property
    def changed_anything(self) -> bool:
        """True when the import wrote to the database."""
        return bool(self.added or self.changed)


def _header_word(cell: str) -> str:
    """A header cell as the word it means: ``" Date "`` and ``"DATE"`` are ``date``."""
    return "".join(cell.split()).casefold()


def _name_key(name: str) -> str:
    """A name as rows match it: case and runs of spaces do not count."""
    return " ".join(name.split()).casefold()


class _People:
    """The active people a row may name, found whatever the name's case and spacing."""

    def __init__(self, people_by_name: dict[str, int]):
        self._ids: dict[str, set[int]] = {}
        for name, person_id in people_by_name.items():
            self._ids.setdefault(_name_key(name), set()).add(person_id)

    def find(self, name: str, reasons: list[str]) -> int | None:
        """The id of the one active person called ``name``; else ``None`` and a reason."""
        if not name:
            reasons.append("the name is empty")
            return None
        ids = self._ids.get(_name_key(name), set())
        if len(ids) == 1:
            return next(iter(ids))
        if ids:
            reasons.append(f"{len(ids)} active people are named {name!r}: rename one of them")
        else:
            reasons.append(f"no active person is named {name!r}")
        return None


def parse_rota(text: str, *, people_by_name: dict[str, int], tz: ZoneInfo) -> list[ShiftPlan]:
    """The shifts a rota file asks for, in file order.

    ``text`` is the CSV (a UTF-8 byte-order mark, CRLF line endings and
    spaces around cells are fine; rows whose cells are all empty are skipped,
    as spreadsheets write them). The header's words may be in any case, with
    spaces. ``people_by_name`` maps stored names to person ids; a row's name
    matches whatever its case and spacing. Raises :class:`RotaError` naming
    every bad row by its line number (the header is line 1) when any row is bad.
    """
    people = _People(people_by_name)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise RotaError([(1, f"the file is empty; it must start with the header {_WANTED}")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[tuple[int, str]] = []
    plans: list[ShiftPlan] = []
    first_line_of: dict[tuple[int, date], int] = {}
    header_seen = False
    line = 0
    try:
        for row in reader:
            # A quoted cell may span lines; report a row by its first line.
            row_line, line = line + 1, reader.line_num
            cells = [cell.strip() for cell in row]
            if not header_seen:
                header_seen = True
                if tuple(_header_word(cell) for cell in cells) != HEADER:
                    raise RotaError([(1, _header_problem(cells))])
                continue
            if not any(cells):
                continue
            plan, reasons = _parse_row(cells, people, tz)
            if plan is not None:
                key = (plan.person_id, plan.day)
                if key in first_line_of:
                    reasons.append(
                        f"{cells[1]} is already on {plan.day.isoformat()} "
                        f"at line {first_line_of[key]}"
                    )
                else:
                    first_line_of[key] = row_line
            if reasons:
                problems.append((row_line, "; ".join(reasons)))
            elif plan is not None:
                plans.append(plan)
    except csv.Error as exc:
        problems.append((max(reader.line_num, 1), f"not readable as CSV: {exc}"))
    if problems:
        raise RotaError(problems)
    return plans


def _header_problem(cells: list[str]) -> str:
    if not any(cells):
        return f"the first line is blank; it must be the header {_WANTED}"
    return f"the first line must be the header {_WANTED}, not {','.join(cells)}"


def _parse_row(
    cells: list[str], people: _People, tz: ZoneInfo
) -> tuple[ShiftPlan | None, list[str]]:
    """A plan for one row, or ``None`` and every reason the row is bad."""
    if len(cells) != len(HEADER):
        return None, [
            f"expected {len(HEADER)} columns ({_WANTED}), found {len(cells)} "
            "(keep the last comma when there are no breaks)"
        ]
    day_text, name, start_text, end_text, breaks_text = cells
    reasons: list[str] = []

    day = _parse_date(day_text, reasons)
    person_id = people.find(name, reasons)
    start_at = _parse_time(start_text, "start", reasons)
    end_at = _parse_time(end_text, "end", reasons)
    break_times = _parse_breaks(breaks_text, reasons)

    if day is None:
        return None, reasons
    start = _to_utc(day, start_at, tz, reasons)
    end = _to_utc(day, end_at, tz, reasons)
    windows: list[Window] = []
    for break_start, break_end in break_times:
        window_start = _to_utc(day, break_start, tz, reasons)
        window_end = _to_utc(day, break_end, tz, reasons)
        if window_start is not None and window_end is not None:
            windows.append((window_start, window_end))
    if reasons or start is None or end is None:
        return None, reasons

    def show(moment: datetime) -> str:
        return f"{moment.astimezone(tz):%H:%M}"

    reasons.extend(shift_problems(start, end, windows, show))
    if reasons or person_id is None:
        return None, reasons
    return ShiftPlan(person_id, day, start, end, tuple(sorted(windows))), reasons


def _parse_date(text: str, reasons: list[str]) -> date | None:
    """``YYYY-MM-DD``, or ``DD/MM/YYYY`` as a UK spreadsheet exports it."""
    uk = _UK_DATE.fullmatch(text)
    if uk:
        try:
            text = date(int(uk[3]), int(uk[2]), int(uk[1])).isoformat()
        except ValueError:
            reasons.append(f"date {text!r} is not a day of the calendar (DD/MM/YYYY)")
            return None
    day, why = day_problem(text, "date")
    if day is None:
        reasons.append(why.replace("as YYYY-MM-DD", "as YYYY-MM-DD or DD/MM/YYYY"))
    return day


def _parse_time(text: str, what: str, reasons: list[str]) -> time | None:
    match = _TIME.fullmatch(text)
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    reasons.append(f"{what} {text!r} is not a time of day as HH:MM (00:00 to 23:59)")
    return None


def _parse_breaks(text: str, reasons: list[str]) -> list[tuple[time, time]]:
    """Break times from ``HH:MM-HH:MM;HH:MM-HH:MM``; nothing for an empty cell."""
    if not text:
        return []
    found: list[tuple[time, time]] = []
    for piece in (part.strip() for part in text.split(";")):
        match = _BREAK.fullmatch(piece)
        if match is None:
            reasons.append(f"break {piece!r} is not HH:MM-HH:MM (separate breaks with ;)")
            continue
        start = _parse_time(match[1].strip(), f"break {piece!r} start", reasons)
        end = _parse_time(match[2].strip(), f"break {piece!r} end", reasons)
        if start is not None and end is not None:
            found.append((start, end))
    return found


def _to_utc(day: date, at: time | None, tz: ZoneInfo, reasons: list[str]) -> datetime | None:
    if at is None:
        return None
    try:
        return local_to_utc(day, at, tz)
    except NonexistentTime as exc:
        reasons.append(str(exc))
        return None


def import_rota(
    session: Session, text: str, *, tz: ZoneInfo, at: datetime, actor: str
) -> ImportResult:
    """Store the shifts of rota file ``text``, one ``config.changed`` event if anything changed.

    Shifts are matched by person and day: an identical one is left alone, a
    different one is replaced with its breaks; shifts of other days and people
    are not touched. Names are those of active people. On :class:`RotaError`
    nothing has been written. ``session`` comes from ``Database.write()``; the
    caller commits.
    """
    people = session.execute(select(Person.name, Person.id).where(Person.active)).all()
    plans = parse_rota(text, people_by_name={p.name: p.id for p in people}, tz=tz)
    if not plans:
        return ImportResult(0, 0, 0, None, None)

    first_day = min(plan.day for plan in plans)
    last_day = max(plan.day for plan in plans)
    stored = {
        (shift.person_id, shift.day): shift
        for shift in session.scalars(
            select(Shift)
            .where(Shift.day >= first_day, Shift.day <= last_day)
            .options(selectinload(Shift.breaks))
        )
    }
    added = changed = unchanged = 0
    for plan in plans:
        shift = stored.get((plan.person_id, plan.day))
        if shift is None:
            session.add(
                Shift(
                    person_id=plan.person_id,
                    day=plan.day,
                    start=plan.start,
                    end=plan.end,
                    breaks=break_rows(plan.breaks),
                )
            )
            added += 1
        elif shift_windows(shift) == (plan.start, plan.end, plan.breaks):
            unchanged += 1
        else:
            shift.start, shift.end = plan.start, plan.end
            if break_windows(shift) != plan.breaks:
                shift.breaks = break_rows(plan.breaks)
            changed += 1

    result = ImportResult(added, changed, unchanged, first_day, last_day)
    if result.changed_anything:
        session.flush()
        append(
            session,
            LogEntry(
                kind=events.CONFIG_CHANGED,
                actor=actor,
                details={
                    "what": "rota",
                    "added": added,
                    "changed": changed,
                    "unchanged": unchanged,
                    "days": [first_day.isoformat(), last_day.isoformat()],
                },
            ),
            at,
        )
    return result
