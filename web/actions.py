"""The manager's forms: grant a release, release a slot or all of them, visitors, alerts.

Each form post becomes a request to the daemon through :mod:`web.manager`
and ends with a message saying what the daemon did, or why it did not. A
form with a mistake comes back with the mistake named and the input kept.
Every form that opens a slot asks for the password as :mod:`web.reauth` says.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.exceptions import Forbidden
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from locker.commands import (
    MAX_NAME,
    MAX_NOTE,
    MAX_RETURN_MINUTES,
    MAX_TEXT,
    NOTE_TOO_LONG,
    CommandKind,
)
from locker.errors import Conflict, ControllerDown, InvalidRequest, NotFound
from locker.models import Person, Slot
from web import manager, reauth
from web.commands import describe
from web.context import client_address, get_config, get_db
from web.words import GRANT_REASON_WORDS, STOCK_WORDS, alert_words, in_words, state_words

bp = Blueprint("actions", __name__)

FLASH_CATEGORY = {"done": "success", "failed": "error", "pending": "warning", "expired": "error"}
PASSWORD_LABEL = "Your password, again (not needed if you typed it in the last few minutes)"
PASSWORD_LABEL_NOW = "Your password, again, to open the slot now (if not typed in the last minutes)"


def _optional_int(value):
    return int(value) if value not in (None, "") else None


class GrantForm(FlaskForm):
    """Approve a release for one person."""

    person_id = SelectField("Person", coerce=int, validators=[InputRequired()])
    reason = RadioField(
        "Reason",
        choices=[SelectChoice(code, words) for code, words in GRANT_REASON_WORDS.items()],
        validators=[InputRequired()],
    )
    note = TextAreaField(
        "Note", validators=[Optional(), Length(max=MAX_NOTE, message=NOTE_TOO_LONG)]
    )
    when = RadioField(
        "When",
        choices=[
            SelectChoice("badge", "At their next badge"),
            SelectChoice("now", "Open their slot now"),
        ],
        default="badge",
        validators=[InputRequired()],
    )
    return_minutes = IntegerField(
        "Expected back in (minutes)",
        validators=[Optional(), NumberRange(1, MAX_RETURN_MINUTES)],
    )
    password = PasswordField(PASSWORD_LABEL_NOW, validators=[Optional()])


class ReleaseSlotForm(FlaskForm):
    """Open one slot; the manager types their password again."""

    slot = SelectField("Slot", coerce=int, validators=[InputRequired()])
    reason = StringField("Reason", validators=[InputRequired(), Length(max=MAX_TEXT)])
    password = PasswordField(PASSWORD_LABEL, validators=[Optional()])


class ReleaseAllForm(FlaskForm):
    """Evacuation: open every slot holding a device."""

    reason = StringField("Reason", validators=[InputRequired(), Length(max=MAX_TEXT)])
    confirm = BooleanField(
        "I understand that every slot holding a device will open", validators=[DataRequired()]
    )
    password = PasswordField(PASSWORD_LABEL, validators=[Optional()])


class StockForm(FlaskForm):
    """Open an empty setting slot for one of the setting's own devices to be put in."""

    slot = SelectField("Slot", coerce=int, validators=[InputRequired()])
    password = PasswordField(PASSWORD_LABEL, validators=[Optional()])


class VisitorInForm(FlaskForm):
    """Open a visitor slot for a visitor's phone."""

    name = StringField("Visitor's name", validators=[InputRequired(), Length(max=MAX_NAME)])
    slot = SelectField("Slot", coerce=_optional_int, validate_choice=True)
    password = PasswordField(PASSWORD_LABEL, validators=[Optional()])


class VisitorOutForm(FlaskForm):
    """Open a visitor's slot when they leave."""

    slot = SelectField("Slot", coerce=int, validators=[InputRequired()])
    password = PasswordField(PASSWORD_LABEL, validators=[Optional()])


FORMS = {
    CommandKind.GRANT: GrantForm,
    CommandKind.RELEASE_SLOT: ReleaseSlotForm,
    CommandKind.RELEASE_ALL: ReleaseAllForm,
    CommandKind.VISITOR_IN: VisitorInForm,
    CommandKind.VISITOR_OUT: VisitorOutForm,
    CommandKind.STOCK: StockForm,
}

#: The words of the stock button, for the status page's slots (drawn by Jinja and by JS).
bp.add_app_template_global(STOCK_WORDS, "stock_words")


def _forms(submitted: str | None = None) -> dict[str, FlaskForm]:
    """Every form of the page; only ``submitted`` is filled from the request."""
    forms = {
        name: cls(
            prefix=name.replace("_", "-"), formdata=None if name != submitted else request.form
        )
        for name, cls in FORMS.items()
    }
    with get_db().read() as session:
        people = session.scalars(
            select(Person).where(Person.active, Person.role != "visitor").order_by(Person.name)
        )
        forms[CommandKind.GRANT].person_id.choices = [
            SelectChoice(str(p.id), p.name) for p in people
        ]
        rows = {row.number: row for row in session.scalars(select(Slot))}
        names = {p.id: p.name for p in session.scalars(select(Person))}
    slots = [
        SelectChoice(str(cfg.number), _slot_choice(cfg.number, rows.get(cfg.number), names))
        for cfg in get_config().slots
    ]
    visitor = [c for c in slots if get_config().slot(int(c.value)).kind == "visitor"]
    setting = [c for c in slots if get_config().slot(int(c.value)).kind == "setting"]
    forms[CommandKind.RELEASE_SLOT].slot.choices = slots
    forms[CommandKind.VISITOR_IN].slot.choices = [
        SelectChoice("", "The first free visitor slot"),
        *visitor,
    ]
    forms[CommandKind.VISITOR_OUT].slot.choices = visitor
    forms[CommandKind.STOCK].slot.choices = setting
    return forms


def _slot_choice(number: int, row: Slot | None, names: dict[int, str]) -> str:
    if row is None:
        return f"Slot {number}"
    who = names.get(row.occupant_id) or row.visitor_name or "nobody"
    return f"Slot {row.label or number}: {who} ({state_words(row.state).lower()})"


def _again(forms: dict[str, FlaskForm]):
    return render_template("actions.html", forms=forms), 400


def _carry_out(action: Callable[[], manager.Requested], forms: dict[str, FlaskForm]):
    """Run ``action``; tell the manager what the daemon did, or what was wrong."""
    try:
        requested = action()
    except (InvalidRequest, NotFound, Conflict) as exc:
        flash(in_words(str(exc)), "error")
        return _again(forms)
    except ControllerDown as exc:
        flash(str(exc), "error")
        return render_template("actions.html", forms=forms), 503
    outcome = requested.outcome
    flash(describe(outcome, requested.names), FLASH_CATEGORY[outcome.status])
    return redirect(url_for("status.index"))


def _actor() -> manager.Actor:
    return manager.Actor(current_user.username, client_address())


def _password_again(form: FlaskForm, purpose: str) -> bool:
    """The re-authentication policy (:mod:`web.reauth`); a refusal is named at the field."""
    try:
        reauth.require(form.password.data or None, purpose)
    except reauth.WrongPassword:
        form.password.errors.append("That is not your password.")
        return False
    except reauth.PasswordNeeded:
        form.password.errors.append(f"Type your password again to {purpose}.")
        return False
    return True


@bp.get("/actions")
def index():
    """The manager's forms."""
    if not current_user.can_act:
        raise Forbidden("a viewer account can only look")
    forms = _forms()
    forms[CommandKind.RELEASE_SLOT].slot.data = request.args.get("slot", type=int)
    forms[CommandKind.STOCK].slot.data = request.args.get("stock", type=int)
    return render_template("actions.html", forms=forms)


@bp.post("/actions/grant")
def grant():
    """Grant a person a release."""
    forms = _forms(CommandKind.GRANT)
    form = forms[CommandKind.GRANT]
    if not form.validate():
        return _again(forms)
    if form.when.data == "now" and not _password_again(form, "open a slot now"):
        return _again(forms)
    data = {
        "person_id": form.person_id.data,
        "reason": form.reason.data,
        "note": form.note.data,
        "open_now": form.when.data == "now",
        "return_minutes": form.return_minutes.data,
    }
    return _carry_out(lambda: manager.grant_release(data, _actor()), forms)


@bp.post("/actions/release-slot")
def release_slot():
    """Release one slot."""
    forms = _forms(CommandKind.RELEASE_SLOT)
    form = forms[CommandKind.RELEASE_SLOT]
    if not form.validate() or not _password_again(form, "release a slot"):
        return _again(forms)
    data = {"reason": form.reason.data}
    return _carry_out(lambda: manager.release_slot(form.slot.data, data, _actor()), forms)


@bp.post("/actions/release-all")
def release_all():
    """Release every slot holding a device."""
    forms = _forms(CommandKind.RELEASE_ALL)
    form = forms[CommandKind.RELEASE_ALL]
    if not form.validate() or not _password_again(form, "release every slot"):
        return _again(forms)
    data = {"reason": form.reason.data, "confirm": form.confirm.data}
    return _carry_out(lambda: manager.release_all(data, _actor()), forms)


@bp.post("/actions/visitor-in")
def visitor_in():
    """Sign a visitor in: open a slot for their phone."""
    forms = _forms(CommandKind.VISITOR_IN)
    form = forms[CommandKind.VISITOR_IN]
    if not form.validate() or not _password_again(form, "open a slot for a visitor"):
        return _again(forms)
    data = {"name": form.name.data, "slot": form.slot.data}
    return _carry_out(lambda: manager.sign_in_visitor(data, _actor()), forms)


@bp.post("/actions/visitor-out")
def visitor_out():
    """Sign a visitor out: open their slot."""
    forms = _forms(CommandKind.VISITOR_OUT)
    form = forms[CommandKind.VISITOR_OUT]
    if not form.validate() or not _password_again(form, "open a visitor's slot"):
        return _again(forms)
    return _carry_out(lambda: manager.sign_out_visitor({"slot": form.slot.data}, _actor()), forms)


@bp.post("/actions/stock")
def stock():
    """Open an empty setting slot for one of the setting's own devices."""
    forms = _forms(CommandKind.STOCK)
    form = forms[CommandKind.STOCK]
    if not form.validate() or not _password_again(form, "open a setting slot"):
        return _again(forms)
    return _carry_out(lambda: manager.stock_slot(form.slot.data, {}, _actor()), forms)


@bp.post("/alerts/<int:alert_id>/ack")
def acknowledge(alert_id: int):
    """Acknowledge an open alert."""
    try:
        alert = manager.acknowledge_alert(alert_id, _actor())
    except (NotFound, Conflict) as exc:
        flash(str(exc), "error")
    else:
        where = f" at slot {alert.slot}" if alert.slot is not None else ""
        flash(f"Alert acknowledged: {alert_words(alert.alert).lower()}{where}.", "success")
    return redirect(url_for("status.index"))
