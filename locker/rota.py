"""The rota: who works when, as shifts and break windows per person per local day.

A rota arrives as a CSV file (``locker rota import``, read by
:mod:`locker.rota_file`) or as edits in the panel.
Times in the file are local to the site; everything stored is UTC. Converting
a local time on a daylight-saving day follows two rules:

- a local time that does not exist (the hour the clocks skip in spring) is a
  bad row, never silently moved;
- a local time that happens twice (the hour repeated in autumn) means its
  first occurrence (``fold=0``), the one still on summer time.

A file with any bad row is rejected whole and nothing is written, so a manager
fixes the file and imports it again; importing the same file twice changes
nothing. There are no overnight shifts: a shift lies within one local day.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locker import events
from locker.decisions import LogEntry
from locker.errors import InvalidRequest, NotFound
from locker.log import append
from locker.models import Break, Person, Shift

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Window = tuple[datetime, datetime]

#: The days the product takes. A typed day outside them is a mistake, and one
#: near ``date.min`` or ``date.max`` overflows as soon as a day is added to it.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


class NonexistentTime(InvalidRequest):
    """A local wall time the clocks skip on a spring-forward day.

    An :class:`InvalidRequest`, so the panel reports it like any other bad input.
    """


# --- Local days and times ---------------------------------------------------


def day_problem(text: str, what: str = "day") -> tuple[date | None, str]:
    """``(day, "")`` for ``YYYY-MM-DD`` within :data:`FIRST_DAY`..:data:`LAST_DAY`,
    else ``(None, why)`` naming ``what`` and the text (cut short)."""
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            if FIRST_DAY <= day <= LAST_DAY:
                return day, ""
            return None, (
                f"{what} {text!r} is out of range: the locker takes days from "
                f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
            )
    return None, f"{what} {text[:20]!r} is not a date as YYYY-MM-DD"


def parse_day(text: str, what: str = "day") -> date:
    """A ``YYYY-MM-DD`` day within the range the locker takes, or :class:`InvalidRequest`."""
    day, why = day_problem(text, what)
    if day is None:
        raise InvalidRequest(why)
    return day


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC moment of wall time ``at`` on local ``day``.

    An ambiguous time (autumn) takes its first occurrence, ``fold=0``. A time
    that does not exist (spring) raises :class:`NonexistentTime`.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    moment = naive.replace(tzinfo=tz).astimezone(UTC)
    # In the spring gap zoneinfo still gives an answer, but one that reads
    # back as a different wall time; that is how a skipped time shows itself.
    if moment.astimezone(tz).replace(tzinfo=None) != naive:
        raise NonexistentTime(
            f"{at:%H:%M} does not exist on {day.isoformat()} in {tz.key} (the clocks go forward)"
        )
    return moment


def local_day(moment_utc: datetime, tz: ZoneInfo) -> date:
    """The site's local date at ``moment_utc`` (an aware datetime)."""
    _require_aware(moment_utc, ValueError)
    return moment_utc.astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> Window:
    """``(start, end)`` in UTC of local ``day``: its midnight to the next one.

    The span is 24 hours, or 23 and 25 on the days the clocks change. Where
    a zone skips midnight itself, ``fold=0`` lands on the moment of the change,
    which is where that day begins.
    """
    start = datetime.combine(day, time()).replace(tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time()).replace(tzinfo=tz).astimezone(UTC)
    return start, end


def shift_problems(
    start: datetime, end: datetime, breaks: Sequence[Window], show: Callable[[datetime], str]
) -> list[str]:
    """Why a shift and its breaks do not fit together; empty when they do."""
    problems: list[str] = []
    if end <= start:
        problems.append(
            f"the shift {show(start)}-{show(end)} must end after it starts "
            "(overnight shifts are not supported)"
        )
        return problems
    ordered = sorted(breaks)
    for break_start, break_end in ordered:
        label = f"break {show(break_start)}-{show(break_end)}"
        if break_end <= break_start:
            problems.append(f"{label} must end after it starts")
        elif break_start < start or break_end > end:
            problems.append(f"{label} is outside the shift {show(start)}-{show(end)}")
    for (a_start, a_end), (b_start, b_end) in zip(ordered, ordered[1:], strict=False):
        if b_start < a_end:
            problems.append(
                f"breaks {show(a_start)}-{show(a_end)} and {show(b_start)}-{show(b_end)} overlap"
            )
    return problems


def break_rows(windows: Sequence[Window]) -> list[Break]:
    """New break rows for ``windows``."""
    return [Break(start=start, end=end) for start, end in windows]


def break_windows(shift: Shift) -> tuple[Window, ...]:
    """A stored shift's breaks as sorted ``(start, end)`` windows."""
    return tuple(sorted((b.start, b.end) for b in shift.breaks))


def shift_windows(shift: Shift) -> tuple[datetime, datetime, tuple[Window, ...]]:
    """A stored shift as ``(start, end, breaks)``, to compare with a plan."""
    return shift.start, shift.end, break_windows(shift)


# --- Reading shifts -----------------------------------------------------------


def shift_for(session: Session, person_id: int, day: date) -> Shift | None:
    """``person_id``'s shift on local ``day``, breaks loaded, or ``None``."""
    return session.scalars(
        select(Shift)
        .where(Shift.person_id == person_id, Shift.day == day)
        .options(selectinload(Shift.breaks))
    ).one_or_none()


def shifts_on(session: Session, day: date) -> list[Shift]:
    """Every shift on local ``day``, breaks loaded, earliest start first."""
    return list(
        session.scalars(
            select(Shift)
            .where(Shift.day == day)
            .options(selectinload(Shift.breaks))
            .order_by(Shift.start, Shift.person_id)
        )
    )


def _shift_at(session: Session, person_id: int, moment: datetime) -> Shift | None:
    """The shift ``person_id`` is on at ``moment`` (start included, end excluded)."""
    return session.scalars(
        select(Shift)
        .where(Shift.person_id == person_id, Shift.start <= moment, Shift.end > moment)
        .options(selectinload(Shift.breaks))
    ).first()


# --- Panel edits --------------------------------------------------------------


def set_shift(
    session: Session,
    person_id: int,
    day: date,
    start_utc: datetime,
    end_utc: datetime,
    breaks: Sequence[Window] = (),
    *,
    at: datetime,
    actor: str,
    client: str = "",
) -> Shift:
    """Create or replace ``person_id``'s shift on ``day``; logs ``shift.changed``.

    Nothing is written or logged when the shift is already exactly this.
    Raises :class:`NotFound` for an unknown person and :class:`InvalidRequest`
    when the times do not fit together.
    """
    _require_person(session, person_id)
    moments = [start_utc, end_utc, *(m for window in breaks for m in window)]
    for moment in moments:
        _require_aware(moment, InvalidRequest)
    start, end = start_utc.astimezone(UTC), end_utc.astimezone(UTC)
    windows = tuple(sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in breaks))
    problems = shift_problems(start, end, windows, _iso)
    if problems:
        raise InvalidRequest("; ".join(problems))

    shift = shift_for(session, person_id, day)
    old = _snapshot(shift)
    if shift is None:
        shift = Shift(person_id=person_id, day=day, start=start, end=end)
        session.add(shift)
    elif shift_windows(shift) == (start, end, windows):
        return shift
    shift.start, shift.end = start, end
    shift.breaks = break_rows(windows)
    _log_shift(session, events.SHIFT_CHANGED, shift, old, at, actor, client, action="set")
    return shift


def start_break_now(
    session: Session,
    person_id: int,
    at: datetime,
    minutes: int,
    *,
    actor: str,
    client: str = "",
) -> Break:
    """Give ``person_id`` a break of ``minutes`` from ``at``; logs ``break.started``.

    The person must be on shift at ``at``, and the break must end by the end
    of the shift and not overlap a break already planned.
    """
    _require_person(session, person_id)
    _require_aware(at, InvalidRequest)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise InvalidRequest(f"a break needs a whole number of minutes above 0, not {minutes!r}")
    shift = _shift_at(session, person_id, at)
    if shift is None:
        raise InvalidRequest(f"person {person_id} is not on shift at {_iso(at)}")
    start, end = at.astimezone(UTC), at.astimezone(UTC) + timedelta(minutes=minutes)
    if end > shift.end:
        raise InvalidRequest(
            f"a {minutes}-minute break from {_iso(start)} would run past the end of the shift "
            f"at {_iso(shift.end)}"
        )
    for planned in shift.breaks:
        if planned.start < end and start < planned.end:
            raise InvalidRequest(
                f"the break would overlap the break {_iso(planned.start)}-{_iso(planned.end)}"
            )
    old = _snapshot(shift)
    new_break = Break(start=start, end=end)
    shift.breaks.append(new_break)
    _log_shift(
        session,
        events.BREAK_STARTED,
        shift,
        old,
        at,
        actor,
        client,
        action="break_now",
        extra={"break": [_iso(start), _iso(end)], "minutes": minutes},
    )
    return new_break


def extend_shift(
    session: Session,
    person_id: int,
    day: date,
    new_end: datetime,
    *,
    at: datetime,
    actor: str,
    client: str = "",
) -> Shift:
    """Move the end of ``person_id``'s shift on ``day`` later; logs ``shift.changed``.

    To end a shift early use :func:`end_shift_now`.
    """
    _require_person(session, person_id)
    _require_aware(new_end, InvalidRequest)
    shift = shift_for(session, person_id, day)
    if shift is None:
        raise NotFound(f"person {person_id} has no shift on {day.isoformat()}")
    if new_end <= shift.end:
        raise InvalidRequest(
            f"the new end {_iso(new_end)} is not after the shift's end {_iso(shift.end)}; "
            "end the shift now to shorten it"
        )
    old = _snapshot(shift)
    shift.end = new_end.astimezone(UTC)
    _log_shift(session, events.SHIFT_CHANGED, shift, old, at, actor, client, action="extend")
    return shift


def end_shift_now(
    session: Session, person_id: int, at: datetime, *, actor: str, client: str = ""
) -> Shift:
    """End ``person_id``'s current shift at ``at``; logs ``shift.changed``.

    A break under way ends with the shift; breaks still to come are dropped.
    """
    _require_person(session, person_id)
    _require_aware(at, InvalidRequest)
    shift = _shift_at(session, person_id, at)
    if shift is None or shift.start == at:
        raise InvalidRequest(f"person {person_id} is not part-way through a shift at {_iso(at)}")
    old = _snapshot(shift)
    now = at.astimezone(UTC)
    shift.end = now
    kept = [b for b in shift.breaks if b.start < now]
    for planned in kept:
        planned.end = min(planned.end, now)
    shift.breaks = kept
    _log_shift(session, events.SHIFT_CHANGED, shift, old, at, actor, client, action="end_now")
    return shift


def _require_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


def _require_aware(moment: datetime, error: type[Exception]) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise error(f"time {moment.isoformat()} has no time zone; pass an aware UTC time")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _snapshot(shift: Shift | None) -> dict[str, object] | None:
    """A shift's times as ISO strings, for the log."""
    if shift is None:
        return None
    return {
        "start": _iso(shift.start),
        "end": _iso(shift.end),
        "breaks": [[_iso(start), _iso(end)] for start, end in break_windows(shift)],
    }


def _log_shift(
    session: Session,
    kind: str,
    shift: Shift,
    old: dict[str, object] | None,
    at: datetime,
    actor: str,
    client: str,
    *,
    action: str,
    extra: dict[str, object] | None = None,
) -> None:
    session.flush()
    details: dict[str, object] = {
        "action": action,
        "day": shift.day.isoformat(),
        "old": old,
        "new": _snapshot(shift),
        **(extra or {}),
    }
    if client:
        details["client"] = client
    append(
        session,
        LogEntry(kind=kind, actor=actor, person_id=shift.person_id, details=details),
        at,
    )
