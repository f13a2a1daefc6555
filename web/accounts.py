"""Panel accounts for admins: deactivate or activate one, end its sessions, revoke tokens,
say whose it is.

The same as ``locker user deactivate/activate``, ``locker user link`` and
``locker token list/revoke`` on the command line; every change is logged as
``config.changed`` with the admin's name and address.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, Forbidden

from locker.account_links import link_account
from locker.accounts import end_sessions_of, list_tokens, live_sessions, revoke_token, set_active
from locker.errors import Conflict, NotFound
from locker.models import PanelAccount, Person
from web.context import MAX_ID, client_address, get_db, local_text, real_now

bp = Blueprint("accounts", __name__)


def require_admin() -> None:
    """Only an admin account manages panel accounts."""
    if not current_user.is_admin:
        raise Forbidden("only an admin account can manage panel accounts and tokens")


def _who() -> dict[str, str]:
    return {"actor": current_user.username, "client": client_address()}


def _account_or_404(session: Session, account_id: int) -> PanelAccount:
    account = session.get(PanelAccount, account_id) if account_id <= MAX_ID else None
    if account is None:
        raise NotFound(f"there is no panel account {account_id}")
    return account


@bp.get("/accounts")
def index():
    """Every panel account with its live sessions, and every API token."""
    require_admin()
    now = real_now()
    with get_db().read() as session:
        accounts = [
            {
                "id": a.id,
                "username": a.username,
                "role": a.role,
                "active": a.active,
                "sessions": live_sessions(session, a.id, at=now),
                "me": a.id == current_user.id,
                "person_id": a.person_id,
            }
            for a in session.scalars(select(PanelAccount).order_by(PanelAccount.username))
        ]
        people = session.execute(
            select(Person.id, Person.name).where(Person.active.is_(True)).order_by(Person.name)
        ).all()
        tokens = [
            {
                "id": t.id,
                "username": t.username,
                "created": local_text(t.created_at),
                "last_used": local_text(t.last_used_at) or "never",
                "revoked": local_text(t.revoked_at),
            }
            for t in list_tokens(session)
        ]
    return render_template("accounts.html", accounts=accounts, tokens=tokens, people=people)


@bp.post("/accounts/<int:account_id>/active")
def set_account_active(account_id: int):
    """Deactivate an account (its sessions end, its tokens are revoked) or activate it."""
    require_admin()
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        raise BadRequest("active must be 1 (activate) or 0 (deactivate)")
    active = wanted == "1"
    if not active and account_id == current_user.id:
        raise Conflict("you cannot deactivate your own account: ask another admin")
    with get_db().write() as session:
        username = _account_or_404(session, account_id).username
        set_active(session, username, active, at=real_now(), **_who())
        session.commit()
    if active:
        flash(f"{username} can log in again.", "success")
    else:
        flash(f"{username} is deactivated: its sessions ended, its tokens are revoked.", "success")
    return redirect(url_for(".index"))


@bp.post("/accounts/<int:account_id>/person")
def set_account_person(account_id: int):
    """Say which member of staff uses the account (or nobody): their access request and
    erasure then cover its logins and actions."""
    require_admin()
    wanted = request.form.get("person", "")
    if wanted != "" and not (wanted.isdigit() and int(wanted) <= MAX_ID):
        raise BadRequest("person must be a person's id, or empty for nobody")
    with get_db().write() as session:
        account = _account_or_404(session, account_id)
        person = None
        if wanted:
            person = session.get(Person, int(wanted))
            if person is None:
                raise NotFound(f"there is nobody with id {wanted}")
        changed = link_account(session, account, person, at=real_now(), **_who())
        session.commit()
        username, whom = account.username, "nobody" if person is None else person.name
    if changed:
        flash(f"{username} is now linked to {whom}.", "success")
    else:
        flash(f"{username} was already linked to {whom}.", "info")
    return redirect(url_for(".index"))


@bp.post("/accounts/<int:account_id>/end-sessions")
def end_sessions(account_id: int):
    """End every session of an account at once (a lost phone, a shared computer)."""
    require_admin()
    with get_db().write() as session:
        username = _account_or_404(session, account_id).username
        ended = end_sessions_of(session, username, at=real_now(), **_who())
        session.commit()
    flash(f"{ended} session{'s' if ended != 1 else ''} of {username} ended.", "success")
    return redirect(url_for(".index"))


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int):
    """Revoke an API token: its next request gets 401."""
    require_admin()
    if token_id > MAX_ID:
        raise NotFound(f"there is no API token {token_id}")
    with get_db().write() as session:
        info = revoke_token(session, token_id, at=real_now(), **_who())
        session.commit()
    flash(f"Token {info.id} of {info.username} is revoked.", "success")
    return redirect(url_for(".index"))
