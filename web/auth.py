"""Logging in and out, and the one place a typed password is checked.

Every password typed in the panel (a login, or a re-authentication before an
action that opens a slot) goes through :func:`check_attempt`: it is counted
by the throttle (:mod:`web.throttle`) before it is checked, and takes the same
time whether the name exists, the password is wrong or the attempt is
throttled, so neither the answer nor its timing tells which names exist. The
message is the same whatever went wrong.

A login starts a server-side session (:class:`~locker.models.PanelSession`),
checked on every request; logging out ends it at once.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from locker import events as ev
from locker.accounts import check_password, decoy_check, end_session, start_session
from locker.decisions import LogEntry
from locker.log import append
from locker.models import PanelAccount
from web import throttle
from web.context import client_address, get_db, real_now
from web.security import PanelUser, is_safe_next
from web.typed_password import password_typed

bp = Blueprint("auth", __name__)

WRONG_LOGIN = "Wrong user name or password."
#: A typed name is cut to this length for the log (and escaped).
LOGGED_NAME = 40
#: argon2 takes 64 MiB a check: at most this many run at once, so a flood of
#: logins cannot take a Pi's memory; the others wait their turn.
PARALLEL_CHECKS = 2


class LoginForm(FlaskForm):
    """User name and password."""

    username = StringField("User name", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class CheckCost:
    """How long a real password check has taken lately (the median of the last few).

    A throttled attempt waits this long instead of checking, so it answers no
    sooner than a real check, without spending the memory and CPU of one. Only
    the last few count, so the figure follows the Pi's load within seconds.
    """

    def __init__(self, keep: int = 5):
        self._lock = threading.Lock()
        self._seconds: deque[float] = deque(maxlen=keep)

    def add(self, seconds: float) -> None:
        """Remember one real check's cost."""
        with self._lock:
            self._seconds.append(seconds)

    def typical(self) -> float | None:
        """The median recent cost, or ``None`` before the first check."""
        with self._lock:
            return statistics.median(self._seconds) if self._seconds else None


_costs = CheckCost()
_checks = threading.BoundedSemaphore(PARALLEL_CHECKS)


def _check(account: PanelAccount | None, password: str) -> bool:
    """A real argon2 check (against a decoy hash for a name without an account)."""
    started = time.perf_counter()
    with _checks:
        if account is None or not account.active:
            right = decoy_check(password)
        else:
            right = check_password(account, password)
    _costs.add(time.perf_counter() - started)
    return right


def _wait_like_a_check(password: str) -> None:
    typical = _costs.typical()
    if typical is None:
        _check(None, password)  # no figure yet: measure one
    else:
        time.sleep(typical)


@dataclass(frozen=True)
class Checked:
    """A right password: whose it is, and the new session's key after a login."""

    account_id: int
    username: str
    role: str
    session_key: str | None


def check_attempt(username: str, password: str, *, purpose: str) -> Checked | None:
    """Who ``password`` lets in as ``username``, or ``None``; throttled and logged.

    ``purpose`` is ``login`` (a success starts a session and is logged as
    ``auth.login``) or the action a password was asked again for.
    """
    now = real_now()
    name, address = username[:80], client_address()
    db = get_db()
    # Counted before the check, in the write transaction, so parallel guesses
    # are counted one after another (no read-then-write race).
    with db.write() as write:
        allowed = throttle.reserve(write, name, address, now)
        account = write.scalar(select(PanelAccount).where(PanelAccount.username == name))
        write.commit()
    # The slow check runs outside the write transaction, so it never holds up the daemon's log.
    if allowed:
        right = _check(account, password)
    else:
        _wait_like_a_check(password)
        right = False
    with db.write() as write:
        if right and account is not None:
            checked = _let_in(write, account, purpose, now)
        else:
            checked = None
            _log_failure(write, account, name, _refusal(account, allowed), purpose, now)
        write.commit()
    return checked


def _refusal(account: PanelAccount | None, allowed: bool) -> str:
    if not allowed:
        return "throttled"
    if account is None:
        return "unknown user"
    return "wrong password" if account.active else "account disabled"


def _let_in(write: Session, account: PanelAccount, purpose: str, now: datetime) -> Checked:
    address = client_address()
    throttle.succeeded(write, account.username, address, now)
    row = write.get(PanelAccount, account.id)
    row.password_hash = account.password_hash  # upgraded if it was outdated
    earlier = throttle.unlogged_failures(write, address, now)
    if earlier:
        details = {"client": address, "reason": "earlier attempts", "attempts": earlier}
        append(write, LogEntry(ev.AUTH_FAILED, "panel", details=details), now)
    key = None
    if purpose == "login":
        key = start_session(write, row, client=address, at=now)
        details = {"username": row.username, "client": address}
        append(write, LogEntry(ev.AUTH_LOGIN, row.username, details=details), now)
    return Checked(row.id, row.username, row.role, key)


def _log_failure(
    write: Session,
    account: PanelAccount | None,
    name: str,
    reason: str,
    purpose: str,
    now: datetime,
) -> None:
    """One ``auth.failed`` event per burst from an address (see :mod:`web.throttle`)."""
    address = client_address()
    attempts = throttle.failure_to_log(write, address, now)
    if attempts is None:
        return
    details: dict[str, object] = {
        "client": address,
        "reason": reason,
        "purpose": purpose,
        "attempts": attempts,
    }
    if account is not None:
        # Only a name that is an account's: an attacker's typing stays out of the log.
        details["username"] = shown_name(name)
    append(write, LogEntry(ev.AUTH_FAILED, "panel", details=details), now)


def shown_name(name: str) -> str:
    """``name`` cut to :data:`LOGGED_NAME` characters, anything unprintable escaped."""
    cut = name[:LOGGED_NAME]
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a success starts a fresh session."""
    form = LoginForm()
    next_page = request.values.get("next")
    if form.validate_on_submit():
        checked = check_attempt(form.username.data, form.password.data, purpose="login")
        if checked is not None:
            # A new session on login, so a session planted before it is worth nothing.
            session.clear()
            session.permanent = True
            user = PanelUser(
                checked.account_id, checked.username, checked.role, session_key=checked.session_key
            )
            login_user(user)
            password_typed()
            return redirect(next_page if is_safe_next(next_page) else url_for("status.index"))
        flash(WRONG_LOGIN + " After several wrong tries, wait a minute.", "error")
    elif request.method == "GET" and current_user.is_authenticated:
        return redirect(url_for("status.index"))
    return render_template("login.html", form=form, next_page=next_page)


@bp.post("/logout")
def logout():
    """End the session (on the server too, so a copied cookie is worth nothing) and log it."""
    now = real_now()
    with get_db().write() as write:
        if current_user.session_key:
            end_session(write, current_user.session_key, at=now)
        details = {"username": current_user.username, "client": client_address()}
        append(write, LogEntry(ev.AUTH_LOGOUT, current_user.username, details=details), now)
        write.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
