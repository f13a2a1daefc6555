"""The rota page: import a rota file, and change today's shifts and breaks.

Everything goes through :mod:`locker.rota`, which checks the times and logs
each change; the daemon then re-reads its roster. Times are shown and typed
in the site's local time, and "today" is the controller's local day (the
simulated one in the demo). A rota file with any bad row changes nothing: the
page lists every bad row with its line number and what is wrong with it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from locker.errors import InvalidRequest, NotFound, RotaError
from locker.models import Person, Shift
from locker.rota import (
    end_shift_now,
    extend_shift,
    local_to_utc,
    parse_day,
    set_shift,
    shifts_on,
    start_break_now,
)
from locker.rota_file import import_rota
from web.context import client_address, controller_now, daemon_state, get_config, get_db, local_day
from web.people import flash_done, person_or_404, reload_roster

bp = Blueprint("rota", __name__)

#: Largest rota file the panel takes: a season for a big setting, far above the usual form limit.
ROTA_MAX_BYTES = 1024 * 1024
#: Longest break a manager can start from the panel, in minutes.
MAX_BREAK_MINUTES = 4 * 60

_HHMM = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?\+00:00")


@bp.url_value_preprocessor
def allow_a_large_rota(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Let a rota file past the panel's usual limit on a request body.

    This runs before the app's guard reads the form for its CSRF check, which
    is when the limit applies.
    """
    if endpoint == "rota.import_file":
        request.max_content_length = ROTA_MAX_BYTES


# ---------------------------------------------------------------- helpers


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(get_config().tz).strftime("%H:%M")


def _window_text(start: datetime, end: datetime) -> str:
    return f"{_hhmm(start)}–{_hhmm(end)}"


def parse_time(value: str | None, what: str) -> time:
    """A local time of day typed as ``HH:MM``."""
    match = _HHMM.fullmatch((value or "").strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidRequest(f"{what} must be a time of day as HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


def parse_breaks(value: str | None) -> list[tuple[time, time]]:
    """Break windows typed as ``HH:MM-HH:MM``, several separated by ``;`` or ``,``."""
    windows = []
    for piece in re.split(r"[;,]", value or ""):
        piece = piece.strip()
        if not piece:
            continue
        start, dash, end = piece.replace("–", "-").partition("-")
        if not dash:
            raise InvalidRequest(f"break {piece!r} must be HH:MM-HH:MM")
        windows.append(
            (parse_time(start, f"break {piece!r} start"), parse_time(end, f"break {piece!r} end"))
        )
    return windows


def in_local_words(message: str, person_id: int, name: str) -> str:
    """A rota error in the manager's words: local ``HH:MM`` times and the person's name."""
    message = _ISO.sub(lambda m: _hhmm(datetime.fromisoformat(m[0])), message)
    return re.sub(rf"\bperson {person_id}\b", lambda m: name, message)


def _shown_day(today: date) -> date:
    """The day the page shows: ``?day=YYYY-MM-DD`` (or a form's ``day``), else today.

    A day that is not a date, or is outside the years the locker takes, is a 400.
    """
    text = request.args.get("day") or request.form.get("day") or ""
    return parse_day(text) if text else today


def _row(shift: Shift, now: datetime) -> dict[str, Any]:
    return {
        "id": shift.person_id,
        "name": shift.person.name,
        "start": _hhmm(shift.start),
        "end": _hhmm(shift.end),
        "hours": _window_text(shift.start, shift.end),
        "breaks": [_window_text(b.start, b.end) for b in shift.breaks],
        "breaks_input": "; ".join(f"{_hhmm(b.start)}-{_hhmm(b.end)}" for b in shift.breaks),
        "on_shift_now": shift.start <= now < shift.end,
        "on_break_now": any(b.start <= now < b.end for b in shift.breaks),
        "ended": shift.end <= now,
    }


def _page(*, problems=None, error: str = "", error_for: int | None = None, status: int = 200):
    with get_db().read() as session:
        now = controller_now(daemon_state(session))
        today = local_day(now)
        day = _shown_day(today)
        shifts = [_row(s, now) for s in shifts_on(session, day)]
        rostered = {row["id"] for row in shifts}
        others = [
            {"id": p.id, "name": p.name}
            for p in session.scalars(
                select(Person).where(Person.active, Person.role != "visitor").order_by(Person.name)
            )
            if p.id not in rostered
        ]
    page = render_template(
        "rota.html",
        shifts=shifts,
        others=others,
        day=day,
        today=today,
        is_today=day == today,
        editable=day >= today,
        now_local=_hhmm(now),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        problems=problems,
        error=error,
        error_for=error_for,
        timezone=get_config().tz.key,
    )
    return page, status


def _form_person_id() -> int:
    raw = request.form.get("person_id", "")
    if not raw.isdigit() or len(raw) > 19:
        raise BadRequest("choose the person")
    return int(raw)


def _form_day(today: date) -> date:
    """The day a shift form is for: its ``day`` field, today or later."""
    day = parse_day(request.form.get("day") or today.isoformat())
    if day < today:
        raise InvalidRequest("a day that is over cannot be changed")
    return day


def _back(day: date | None = None):
    if day is None:
        return redirect(url_for(".index"))
    return redirect(url_for(".index", day=day.isoformat()))


def _edit(person_id: int, change):
    """Run ``change(session, person, now, today)`` in one write; the message, or the page again.

    ``change`` returns what to tell the manager and the day to show. A refusal
    from :mod:`locker.rota` comes back on the page in local words, and
    nothing is written.
    """
    with get_db().write() as session:
        person = person_or_404(session, person_id)
        name = person.name
        now = controller_now(daemon_state(session)).replace(microsecond=0)
        try:
            message, day = change(session, person, now, local_day(now))
        except (InvalidRequest, NotFound) as exc:
            error = in_local_words(str(exc), person_id, name)
            if name not in error:
                error = f"{name}: {error}"
        else:
            session.commit()
            error = ""
    if error:
        return _page(error=error, error_for=person_id, status=400)
    flash_done(message, reload_roster())
    return _back(None if day == local_day(now) else day)


def _who() -> dict[str, str]:
    return {"actor": current_user.username, "client": client_address()}


# ------------------------------------------------------------------ views


@bp.get("/rota")
def index():
    """Today's shifts and breaks (or another day's with ``?day=``), the edit forms, the import."""
    return _page()


@bp.post("/rota/import")
def import_file():
    """Import a rota file (CSV): every bad row is named and nothing changes, or it is stored."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(error="Choose a rota file (CSV) to import.", status=400)
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        return _page(
            error="The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”.",
            status=400,
        )
    with get_db().write() as session:
        now = controller_now(daemon_state(session))
        try:
            result = import_rota(
                session, text, tz=get_config().tz, at=now, actor=current_user.username
            )
        except RotaError as exc:
            problems = exc.problems
        else:
            session.commit()
            problems = None
    if problems:
        return _page(problems=problems, status=400)
    if result.first_day is None:
        flash("The file has a header and no shifts: nothing changed.", "info")
        return _back()
    days = f"{result.first_day:%a %d %b %Y}"
    if result.last_day != result.first_day:
        days += f" to {result.last_day:%a %d %b %Y}"
    message = (
        f"Rota imported ({days}): {result.added} added, {result.changed} changed, "
        f"{result.unchanged} unchanged."
    )
    if not result.changed_anything:
        flash(message + " Nothing changed.", "info")
        return _back()
    flash_done(message, reload_roster())
    return _back()


@bp.post("/rota/shifts")
def save_shift():
    """Set a person's shift and breaks for a day (today unless the form says otherwise)."""
    person_id = _form_person_id()

    def change(session, person, now, today):
        day = _form_day(today)
        tz = get_config().tz
        start = local_to_utc(day, parse_time(request.form.get("start"), "start"), tz)
        end = local_to_utc(day, parse_time(request.form.get("end"), "end"), tz)
        breaks = [
            (local_to_utc(day, s, tz), local_to_utc(day, e, tz))
            for s, e in parse_breaks(request.form.get("breaks"))
        ]
        shift = set_shift(session, person.id, day, start, end, breaks, at=now, **_who())
        when = "today" if day == today else f"on {day:%a %d %b}"
        breaks_text = ", ".join(_window_text(b.start, b.end) for b in shift.breaks)
        words = f"breaks {breaks_text}" if breaks_text else "no breaks"
        hours = _window_text(shift.start, shift.end)
        return f"{person.name}'s shift {when}: {hours}, {words}.", day

    return _edit(person_id, change)


@bp.post("/rota/shifts/<int:person_id>/break-now")
def break_now(person_id: int):
    """Start a break for a person now, for the minutes given."""
    raw = request.form.get("minutes", "").strip()

    def change(session, person, now, today):
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_BREAK_MINUTES:
            raise InvalidRequest(
                f"the break needs a whole number of minutes from 1 to {MAX_BREAK_MINUTES}"
            )
        taken = start_break_now(session, person.id, now, int(raw), **_who())
        return f"{person.name} is on a break: {_window_text(taken.start, taken.end)}.", today

    return _edit(person_id, change)


@bp.post("/rota/shifts/<int:person_id>/extend")
def extend(person_id: int):
    """Move the end of a person's shift today later."""

    def change(session, person, now, today):
        new_end = local_to_utc(
            today, parse_time(request.form.get("end"), "the new end"), get_config().tz
        )
        shift = extend_shift(session, person.id, today, new_end, at=now, **_who())
        return f"{person.name}'s shift today now ends at {_hhmm(shift.end)}.", today

    return _edit(person_id, change)


@bp.post("/rota/shifts/<int:person_id>/end-now")
def end_now(person_id: int):
    """End a person's shift now: their device is released as at any shift end."""

    def change(session, person, now, today):
        end_shift_now(session, person.id, now, **_who())
        return f"{person.name}'s shift ended at {_hhmm(now)}.", today

    return _edit(person_id, change)
