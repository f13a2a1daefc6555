"""Panel accounts and API tokens: argon2 password hashes, SHA-256 of tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.log import LogEntry, append
from locker.models import ApiToken, PanelAccount

ACCOUNT_ROLES = ("viewer", "manager", "admin")
MIN_PASSWORD = 10

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(account: PanelAccount, password: str) -> bool:
    """True when ``password`` is the account's; upgrades an outdated hash in place."""
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return True


def add_account(
    session: Session, username: str, role: str, password: str, *, at: datetime, actor: str
) -> PanelAccount:
    """Create a panel account; logs ``config.changed`` (never the password)."""
    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise InvalidRequest("a user name of 1 to 80 characters without spaces is needed")
    if not username.isprintable():
        # Invisible and direction-changing characters would let two names look alike.
        raise InvalidRequest("the user name has characters that are not printable text")
    if role not in ACCOUNT_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ACCOUNT_ROLES)}, not {role!r}")
    _check_password_length(password)
    if session.scalar(select(PanelAccount.id).where(PanelAccount.username == username)):
        raise Conflict(f"there is already an account called {username!r}")
    account = PanelAccount(
        username=username, role=role, password_hash=hash_password(password), created_at=at
    )
    session.add(account)
    session.flush()
    details = {"what": "panel account added", "username": username, "role": role}
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, details=details), at)
    return account


def set_password(
    session: Session, username: str, password: str, *, at: datetime, actor: str
) -> PanelAccount:
    """Give ``username`` a new password; logs ``config.changed`` (never the password).

    Sessions started with the old password end, since :func:`session_key` changes.
    """
    account = find_account(session, username)
    _check_password_length(password)
    account.password_hash = hash_password(password)
    details = {"what": "panel account password changed", "username": account.username}
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, details=details), at)
    return account


def session_key(account: PanelAccount) -> str:
    """A short fingerprint of the account's password hash, kept in its sessions.

    A session is honoured only while the key matches, so a new password (or
    a rehash) ends every session started before it.
    """
    return hashlib.sha256(account.password_hash.encode("utf-8")).hexdigest()[:16]


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"the password must have at least {MIN_PASSWORD} characters")


def find_account(session: Session, username: str) -> PanelAccount:
    """The account called ``username``."""
    account = session.scalar(select(PanelAccount).where(PanelAccount.username == username))
    if account is None:
        raise NotFound(f"no panel account {username!r}")
    return account


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, username: str, *, at: datetime, actor: str) -> str:
    """A new bearer token for ``username``; only its digest is stored."""
    account = find_account(session, username)
    token = "lk_" + secrets.token_urlsafe(32)
    session.add(ApiToken(account_id=account.id, token_hash=token_digest(token), created_at=at))
    details = {"what": "API token created", "username": username}
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, details=details), at)
    return token


def account_for_token(session: Session, token: str, *, at: datetime) -> PanelAccount | None:
    """The active account a bearer token belongs to, or ``None``."""
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.account.active:
        return None
    row.last_used_at = at
    return row.account
