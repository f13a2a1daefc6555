"""Logging in and out, and checking a password again before a release.

Every attempt is logged (``auth.login``, ``auth.failed``, ``auth.logout``).
After five wrong passwords in a row an account is throttled for 30 seconds,
then 60, 120... up to 15 minutes: slow enough to stop guessing, never a
lockout that would keep a manager out during an emergency. The message is
the same whatever went wrong, so it does not tell which user names exist.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from locker import events as ev
from locker.accounts import check_password, hash_password
from locker.log import LogEntry, append
from locker.models import PanelAccount
from web.context import client_address, get_db, real_now
from web.security import PanelUser, is_safe_next

bp = Blueprint("auth", __name__)

WRONG_LOGIN = "Wrong user name or password."
#: Wrong passwords in a row allowed before the account is throttled.
FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)


class LoginForm(FlaskForm):
    """User name and password."""

    username = StringField("User name", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def throttle_delay(failures: int) -> timedelta | None:
    """How long an account with ``failures`` wrong passwords in a row must wait."""
    if failures < FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES, 10)  # 2**10 * 30 s is past the cap already
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


@functools.cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def _refusal(account: PanelAccount | None, password: str, now: datetime) -> str | None:
    """Why ``password`` does not let ``account`` in now, or ``None`` when it does."""
    if account is None or not account.active:
        # Spend the same time as a real check, so timing does not reveal names.
        check_password(PanelAccount(password_hash=_decoy_hash()), password)
        return "unknown user" if account is None else "account disabled"
    if account.throttled_until is not None and now < account.throttled_until:
        return "throttled"
    if not check_password(account, password):
        return "wrong password"
    return None


def check_attempt(username: str, password: str, *, purpose: str) -> PanelAccount | None:
    """The account when ``password`` is right for ``username``; logs and throttles.

    ``purpose`` is ``login`` (a success is logged as ``auth.login``) or the
    action a password was asked again for (only failures are logged).
    """
    now = real_now()
    db = get_db()
    with db.read() as read:
        account = read.scalar(select(PanelAccount).where(PanelAccount.username == username))
    # The slow hash check runs outside the write transaction, so it never
    # holds up the daemon's log.
    refusal = _refusal(account, password, now)
    with db.write() as write:
        row = write.get(PanelAccount, account.id) if account is not None else None
        if row is not None:
            _count(row, refusal, now)
            if refusal is None:
                row.password_hash = account.password_hash  # upgraded if it was outdated
        details = {"username": username[:80], "client": client_address()}
        if refusal is not None:
            details.update(reason=refusal, purpose=purpose)
            append(write, LogEntry(ev.AUTH_FAILED, "panel", details=details), now)
        elif purpose == "login":
            append(write, LogEntry(ev.AUTH_LOGIN, username, details=details), now)
        write.commit()
    return row if refusal is None else None


def _count(account: PanelAccount, refusal: str | None, now: datetime) -> None:
    if refusal is None:
        account.failed_logins = 0
        account.throttled_until = None
    elif refusal == "wrong password":
        account.failed_logins += 1
        delay = throttle_delay(account.failed_logins)
        if delay is not None:
            account.throttled_until = now + delay


def confirm_password(password: str | None, purpose: str) -> bool:
    """True when the logged-in person typed their own password again."""
    if current_user.via_token:
        return True  # a token is a credential kept for machines; it has no password
    return check_attempt(current_user.username, password or "", purpose=purpose) is not None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a success starts a fresh session."""
    form = LoginForm()
    next_page = request.values.get("next")
    if form.validate_on_submit():
        account = check_attempt(form.username.data, form.password.data, purpose="login")
        if account is not None:
            # A new session on login, so a session planted before it is worth nothing.
            session.clear()
            session.permanent = True
            login_user(PanelUser(account))
            return redirect(next_page if is_safe_next(next_page) else url_for("status.index"))
        flash(WRONG_LOGIN + " After several wrong tries, wait a minute.", "error")
    elif request.method == "GET" and current_user.is_authenticated:
        return redirect(url_for("status.index"))
    return render_template("login.html", form=form, next_page=next_page)


@bp.post("/logout")
def logout():
    """End the session and log it."""
    now = real_now()
    with get_db().write() as write:
        details = {"username": current_user.username, "client": client_address()}
        append(write, LogEntry(ev.AUTH_LOGOUT, current_user.username, details=details), now)
        write.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
