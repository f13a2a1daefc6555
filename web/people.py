"""The people page: staff and managers, their own slots and badges, and enrolling a card.

Adding a person, giving or revoking a badge and (de)activating somebody go
through :mod:`locker.people`, which logs each change as ``config.changed``.
The daemon then re-reads its roster (a ``reload`` command), so a new badge
works at the locker straight away and a revoked one stops working.

Enrolling a card needs no typing: the page notes the controller's time when
the manager opens it, and offers the first unknown card read at the locker
after that moment (the daemon reports it in its live status file).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.exceptions import BadRequest, Forbidden
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from locker import events as ev
from locker.commands import MAX_NAME, CommandKind, text
from locker.decisions import LogEntry
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.log import append
from locker.models import Badge, Person
from locker.people import add_badge, add_person, revoke_badge, update_person
from locker.roster import normalise_uid
from web import uids
from web.commands import send_command
from web.context import (
    MAX_ID,
    client_address,
    controller_now,
    daemon_state,
    get_config,
    get_db,
    local_day,
    local_text,
)
from web.words import CHANGE_WORDS, role_words, slot_kind_words

bp = Blueprint("people", __name__)

#: Longest UID a person may type, separators included (10 bytes as ``de:ad:...``).
MAX_UID_TEXT = 40


def _optional_int(value):
    return int(value) if value not in (None, "") else None


class PersonDetailsForm(FlaskForm):
    """A person's name, role, own slot and permission (to change them)."""

    name = StringField("Name", validators=[InputRequired(), Length(max=MAX_NAME)])
    role = RadioField(
        "Role",
        choices=[SelectChoice("staff", "Staff"), SelectChoice("manager", "Manager or deputy")],
        default="staff",
        validators=[InputRequired()],
    )
    slot = SelectField("Own slot", coerce=_optional_int, validate_choice=True)
    setting_authorised = BooleanField(
        "May check out the setting's own devices (tablets, the outing phone)"
    )


class PersonForm(PersonDetailsForm):
    """Add a person: name, role, their own slot and first badge if any."""

    badge = StringField("Card number (optional)", validators=[Optional(), Length(max=MAX_UID_TEXT)])


# ---------------------------------------------------------------- helpers


def reload_roster() -> str:
    """Ask the daemon to re-read people, badges and the rota; a note for the manager, or ``""``."""
    outcome = send_command(
        CommandKind.RELOAD, {}, account=current_user.username, client=client_address()
    )
    if outcome.status == "done":
        return ""
    if outcome.status == "failed":
        return f"The controller could not re-read the change: {outcome.error}."
    if not outcome.daemon_running:
        return "The controller is not running; it will read the change when it starts."
    return "The controller has not picked the change up yet; it will shortly."


def flash_done(message: str, note: str) -> None:
    """Say what was done, and what the daemon made of it when that needs saying."""
    flash(message, "success")
    if note:
        flash(note, "warning")


def require_acting() -> None:
    """Pages that only lead to changes are for managers and admins."""
    if not current_user.can_act:
        raise Forbidden("a viewer account can only look")


def person_or_404(session: Session, person_id: int) -> Person:
    """The person with ``person_id``; :class:`NotFound` (404) otherwise."""
    person = session.get(Person, person_id) if 1 <= person_id <= MAX_ID else None
    if person is None:
        raise NotFound(f"there is nobody with id {person_id}")
    return person


def _slot_choices(session: Session, person_id: int | None = None) -> list[SelectChoice]:
    """No slot, or a staff slot nobody (but ``person_id``) owns yet."""
    owners = {
        number: owner
        for number, owner in session.execute(
            select(Person.slot_number, Person.id).where(Person.slot_number.is_not(None))
        )
    }
    choices = [SelectChoice("", "No slot of their own")]
    for cfg in get_config().slots:
        if cfg.kind == "staff" and owners.get(cfg.number, person_id) == person_id:
            choices.append(SelectChoice(str(cfg.number), f"Slot {cfg.label or cfg.number}"))
    return choices


def _row(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "role": person.role,
        "role_text": role_words(person.role),
        "slot": person.slot_number,
        "badges": [uids.shown(b.uid) for b in person.badges if b.revoked_at is None],
        "revoked": len([b for b in person.badges if b.revoked_at is not None]),
        "setting_authorised": person.setting_authorised,
        "active": person.active,
    }


def _page(form: PersonForm, status: int = 200):
    with get_db().read() as session:
        people = session.scalars(
            select(Person).options(selectinload(Person.badges)).order_by(Person.name)
        )
        rows = [_row(p) for p in people]
        form.slot.choices = _slot_choices(session)
    owners = {row["slot"]: row["name"] for row in rows if row["slot"] is not None}
    slots = [
        {
            "number": cfg.number,
            "label": cfg.label or str(cfg.number),
            "kind_text": slot_kind_words(cfg.kind),
            "owner": owners.get(cfg.number),
        }
        for cfg in get_config().slots
    ]
    assignment = get_config().rules.assignment
    page = render_template(
        "people.html", people=rows, form=form, slots=slots, assignment=assignment
    )
    return page, status


# ------------------------------------------------------------------ views


@bp.get("/people")
def index():
    """Everybody, with their role, slot, badges and permissions; the form to add a person."""
    return _page(PersonForm(formdata=None))


@bp.post("/people")
def add():
    """Add a person, with their own slot and first badge when given."""
    form = PersonForm()
    with get_db().read() as session:
        form.slot.choices = _slot_choices(session)
    if not form.validate():
        return _page(form, 400)
    try:
        name = text(form.name.data, "the name", limit=MAX_NAME)
    except InvalidRequest as exc:
        form.name.errors.append(str(exc))
        return _page(form, 400)
    uid = form.badge.data.strip() if form.badge.data else ""
    with get_db().write() as session:
        problem = _store_person(session, form, name, uid)
        if problem is None:
            session.commit()
    if problem is not None:
        field, message, status = problem
        field.errors.append(message)
        return _page(form, status)  # nothing was committed: nobody is half-added
    name = " ".join(name.split())
    badge = f" with badge {normalise_uid(uid)}" if uid else ""
    flash_done(f"Added {name}{badge}.", reload_roster())
    return redirect(url_for(".index"))


def _store_person(session: Session, form: PersonForm, name: str, uid: str):
    """Add the person (and badge) in ``session``; ``None``, or ``(field, message, status)``."""
    now = controller_now(daemon_state(session))
    who = current_user.username
    try:
        person = add_person(
            session,
            name,
            role=form.role.data,
            slot=form.slot.data,
            setting_authorised=form.setting_authorised.data,
            at=now,
            actor=who,
            client=client_address(),
        )
    except InvalidRequest as exc:
        return form.name, str(exc), 400
    except Conflict as exc:
        taken = session.scalar(select(Person.id).where(Person.name == " ".join(name.split())))
        return (form.name if taken is not None else form.slot), str(exc), 409
    if not uid:
        return None
    try:
        add_badge(session, person.id, uid, at=now, actor=who, client=client_address())
    except InvalidRequest as exc:
        return form.badge, str(exc), 400
    except Conflict as exc:
        return form.badge, str(exc), 409
    return None


@bp.post("/people/<int:person_id>/active")
def set_active(person_id: int):
    """Deactivate a person (their badges are refused from now on) or reactivate them."""
    wanted = request.form.get("active")
    if wanted not in ("yes", "no"):
        raise BadRequest("active must be yes or no")
    active = wanted == "yes"
    with get_db().write() as session:
        person = person_or_404(session, person_id)
        name = person.name
        if person.active == active:
            flash(f"{name} is already {'active' if active else 'inactive'}.", "info")
            return redirect(url_for(".index"))
        now = controller_now(daemon_state(session))
        person.active = active
        details = {
            "what": "person reactivated" if active else "person deactivated",
            "name": name,
            "client": client_address(),
        }
        entry = LogEntry(ev.CONFIG_CHANGED, current_user.username, None, person.id, details)
        append(session, entry, now)
        session.commit()
    done = f"{name} is active again." if active else f"{name} is deactivated."
    flash_done(done, reload_roster())
    return redirect(url_for(".index"))


def _edit_page(person_id: int, form: PersonDetailsForm, status: int = 200):
    with get_db().read() as session:
        person = person_or_404(session, person_id)
        form.slot.choices = _slot_choices(session, person_id)
        info = _row(person)
    assignment = get_config().rules.assignment
    page = render_template("people_edit.html", person=info, form=form, assignment=assignment)
    return page, status


@bp.get("/people/<int:person_id>/edit")
def edit(person_id: int):
    """The form to change a person's name, role, own slot or permission."""
    require_acting()
    with get_db().read() as session:
        person = person_or_404(session, person_id)
        data = {
            "name": person.name,
            "role": person.role,
            "slot": person.slot_number,
            "setting_authorised": person.setting_authorised,
        }
    return _edit_page(person_id, PersonDetailsForm(formdata=None, data=data))


@bp.post("/people/<int:person_id>/edit")
def save(person_id: int):
    """Store the changes; the daemon re-reads the roster."""
    require_acting()
    form = PersonDetailsForm()
    with get_db().read() as session:
        person_or_404(session, person_id)
        form.slot.choices = _slot_choices(session, person_id)
    if not form.validate():
        return _edit_page(person_id, form, 400)
    try:
        name = text(form.name.data, "the name", limit=MAX_NAME)
    except InvalidRequest as exc:
        form.name.errors.append(str(exc))
        return _edit_page(person_id, form, 400)
    with get_db().write() as session:
        try:
            changes = update_person(
                session,
                person_id,
                name=name,
                role=form.role.data,
                slot=form.slot.data,
                setting_authorised=form.setting_authorised.data,
                at=controller_now(daemon_state(session)),
                actor=current_user.username,
                client=client_address(),
            )
        except (InvalidRequest, Conflict) as exc:
            field = form.slot if "slot" in str(exc) else form.name
            field.errors.append(str(exc))
            return _edit_page(person_id, form, 409 if isinstance(exc, Conflict) else 400)
        session.commit()
    if not changes:
        flash("Nothing was changed.", "info")
        return redirect(url_for(".index"))
    what = ", ".join(CHANGE_WORDS[key] for key in changes)
    flash_done(f"Changed {what} of {' '.join(name.split())}.", reload_roster())
    return redirect(url_for(".index"))


def _since_arg(value: str | None) -> datetime | None:
    """The enrol page's start moment from the query string, or ``None``."""
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def _since_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def card_after(session: Session, since: datetime) -> dict[str, Any] | None:
    """The unknown card last read at the locker, if it was read after ``since``."""
    daemon = daemon_state(session)
    uid, seen = daemon.last_unknown_uid, daemon.last_unknown_at
    if not uid or seen is None or seen <= since:
        return None
    badge = session.scalar(select(Badge).where(Badge.uid == uid))
    owner = None
    if badge is not None:
        state = "revoked badge" if badge.revoked_at is not None else "badge"
        owner = f"This card is already {badge.person.name}'s {state}: it cannot be given again."
    return {
        "uid": uids.shown(uid),
        "seen_local": seen.astimezone(get_config().tz).strftime("%H:%M:%S"),
        "taken": owner,
    }


def _enrol_page(person_id: int, since: datetime, *, error: str = "", typed: str = ""):
    with get_db().read() as session:
        person = person_or_404(session, person_id)
        state = daemon_state(session)
        today = local_day(controller_now(state))
        card = card_after(session, since)
        info = _row(person)
    page = render_template(
        "people_enrol.html",
        person=info,
        since=_since_text(since),
        since_local=local_text(since, today),
        card=card,
        daemon_running=state.running,
        error=error,
        typed=typed,
    )
    return page, 400 if error else 200


@bp.get("/people/<int:person_id>/enrol")
def enrol(person_id: int):
    """Enrol a badge: present the card at the locker now, or type its UID."""
    require_acting()
    since = _since_arg(request.args.get("since"))
    if since is None:
        with get_db().read() as session:
            person_or_404(session, person_id)
            now = controller_now(daemon_state(session))
        return redirect(url_for(".enrol", person_id=person_id, since=_since_text(now)))
    return _enrol_page(person_id, since)


@bp.get("/people/enrol/card")
def enrol_card():
    """The unknown card read at the locker after ``since``, for the enrol page's script."""
    since = _since_arg(request.args.get("since"))
    if since is None:
        return jsonify(error="since must be an ISO 8601 time with its time zone"), 400
    with get_db().read() as session:
        return jsonify(card=card_after(session, since), daemon=daemon_state(session).running)


@bp.post("/people/<int:person_id>/badges")
def give_badge(person_id: int):
    """Give a person a badge: the card just read at the locker, or a UID typed by hand."""
    raw = request.form.get("uid", "")
    since = _since_arg(request.form.get("since"))
    with get_db().write() as session:
        person = person_or_404(session, person_id)
        name = person.name
        try:
            if len(raw) > MAX_UID_TEXT:
                raise InvalidRequest(f"a card number is at most {MAX_UID_TEXT} characters")
            badge = add_badge(
                session,
                person.id,
                raw.strip(),
                at=controller_now(daemon_state(session)),
                actor=current_user.username,
                client=client_address(),
            )
        except (InvalidRequest, Conflict) as exc:
            error = str(exc)
        else:
            uid = badge.uid
            session.commit()
            error = ""
    if error:
        if since is None:
            with get_db().read() as session:
                since = controller_now(daemon_state(session))
        return _enrol_page(person_id, since, error=error, typed=raw[:MAX_UID_TEXT])
    flash_done(f"The card {uid} is now {name}'s badge.", reload_roster())
    return redirect(url_for(".index"))


def _badge_or_404(session: Session, uid: str) -> Badge:
    try:
        uid = normalise_uid(uid)
    except InvalidRequest:
        raise NotFound(f"there is no badge {uid[:MAX_UID_TEXT]!r}") from None
    badge = session.scalar(select(Badge).where(Badge.uid == uid))
    if badge is None:
        raise NotFound(f"there is no badge {uid}")
    return badge


@bp.get("/people/badges/<uid>/revoke")
def confirm_revoke(uid: str):
    """Ask before revoking a badge: a revoked card can never be given out again."""
    require_acting()
    with get_db().read() as session:
        badge = _badge_or_404(session, uid)
        info = {"uid": badge.uid, "name": badge.person.name, "revoked": badge.revoked_at}
    return render_template("people_revoke.html", badge=info)


@bp.post("/people/badges/<uid>/revoke")
def revoke(uid: str):
    """Revoke a badge: it is refused at the locker from now on."""
    if request.form.get("confirm") != "yes":
        raise BadRequest("tick the box to confirm that the badge is to be revoked")
    with get_db().write() as session:
        badge = _badge_or_404(session, uid)
        name = badge.person.name
        try:
            badge = revoke_badge(
                session,
                badge.uid,
                at=controller_now(daemon_state(session)),
                actor=current_user.username,
                client=client_address(),
            )
        except Conflict as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        uid = badge.uid
        session.commit()
    flash_done(f"{name}'s card {uid} is revoked: it opens nothing now.", reload_roster())
    return redirect(url_for(".index"))
