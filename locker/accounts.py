"""Panel accounts, their sessions and API tokens: argon2 password hashes, SHA-256 of
session keys and tokens.

A new password or a deactivation ends the account's sessions and revokes its
tokens at once: every request checks its session row or token row.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from argon2 import PasswordHasher

from locker import events as ev
from locker.decisions import LogEntry
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.log import append
from locker.models import ApiToken, PanelAccount, PanelSession

ACCOUNT_ROLES = ("viewer", "manager", "admin")
MIN_PASSWORD = 10
#: A session ends this long after its login however busy it is kept (the idle
#: timeout, ``web.session_idle_min``, usually ends it long before).
SESSION_MAX_AGE = timedelta(days=7)

# Made at its first use (_password_hasher): argon2 and its C bindings are
# 2.5 MB the daemon, which checks no password, need not hold. Tests set a
# cheaper one here.
_hasher: PasswordHasher | None = None


def _password_hasher() -> PasswordHasher:
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()
    return _hasher


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _password_hasher().hash(password)


def check_password(account: PanelAccount, password: str) -> bool:
    """True when ``password`` is the account's; upgrades an outdated hash in place."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _password_hasher()
    try:
        hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hasher.hash(password)
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

    Every session started with the old one ends and every token of the account
    is revoked: whoever had the old password may have made them.
    """
    account = find_account(session, username)
    _check_password_length(password)
    account.password_hash = hash_password(password)
    ended = end_sessions(session, account.id, at=at, reason="new password")
    revoked = _revoke_all_tokens(session, account.id, at=at)
    details = {
        "what": "panel account password changed",
        "username": account.username,
        "sessions_ended": ended,
        "tokens_revoked": revoked,
    }
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, details=details), at)
    return account


def set_active(
    session: Session, username: str, active: bool, *, at: datetime, actor: str, client: str = ""
) -> PanelAccount:
    """Deactivate (or activate again) ``username``; logs ``config.changed``.

    A deactivated account cannot log in; its sessions end and its tokens are
    revoked, so activating it again needs a new login and new tokens.
    ``client`` is the panel's address the change came from, if any.
    """
    account = find_account(session, username)
    if account.active == active:
        state = "active" if active else "deactivated"
        raise Conflict(f"the account {account.username!r} is already {state}")
    account.active = active
    details: dict[str, object] = {
        "what": "panel account " + ("activated" if active else "deactivated"),
        "username": account.username,
    }
    if not active:
        details["sessions_ended"] = end_sessions(session, account.id, at=at, reason="deactivated")
        details["tokens_revoked"] = _revoke_all_tokens(session, account.id, at=at)
    _log(session, details, at, actor, client)
    return account


def _log(session: Session, details: dict, at: datetime, actor: str, client: str) -> None:
    """``config.changed`` with the panel's address when the change came from the panel."""
    if client:
        details = {**details, "client": client}
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, details=details), at)


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"the password must have at least {MIN_PASSWORD} characters")


def find_account(session: Session, username: str) -> PanelAccount:
    """The account called ``username``."""
    account = session.scalar(select(PanelAccount).where(PanelAccount.username == username))
    if account is None:
        raise NotFound(f"no panel account {username!r}")
    return account


# ------------------------------------------------------------------ sessions


def key_digest(key: str) -> str:
    """What is stored of a session key or a token: its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def start_session(session: Session, account: PanelAccount, *, client: str, at: datetime) -> str:
    """A new session for ``account``: the key goes into the cookie, its digest into the table.

    Sessions older than :data:`SESSION_MAX_AGE` are cleared out on the way.
    """
    session.execute(delete(PanelSession).where(PanelSession.created_at < at - SESSION_MAX_AGE))
    key = secrets.token_urlsafe(32)
    session.add(
        PanelSession(account_id=account.id, key_hash=key_digest(key), client=client, created_at=at)
    )
    return key


def session_account(session: Session, key: str, *, at: datetime) -> PanelAccount | None:
    """The active account whose live session ``key`` is, or ``None``."""
    # One query, on every request a browser makes: the session with its account.
    found = session.execute(
        select(PanelSession.created_at, PanelSession.ended_at, PanelAccount)
        .join(PanelAccount, PanelAccount.id == PanelSession.account_id)
        .where(PanelSession.key_hash == key_digest(key))
    ).first()
    if found is None:
        return None
    created_at, ended_at, account = found
    if ended_at is not None or at - created_at > SESSION_MAX_AGE or not account.active:
        return None
    return account


def end_session(session: Session, key: str, *, at: datetime, reason: str = "logout") -> None:
    """End the one session ``key`` (a logout)."""
    session.execute(
        update(PanelSession)
        .where(PanelSession.key_hash == key_digest(key), PanelSession.ended_at.is_(None))
        .values(ended_at=at, end_reason=reason)
    )


def end_sessions(session: Session, account_id: int, *, at: datetime, reason: str) -> int:
    """End every live session of the account; how many there were."""
    result = session.execute(
        update(PanelSession)
        .where(PanelSession.account_id == account_id, PanelSession.ended_at.is_(None))
        .values(ended_at=at, end_reason=reason)
    )
    return result.rowcount or 0


def live_sessions(session: Session, account_id: int, *, at: datetime) -> int:
    """How many sessions of the account could still be used."""
    rows = session.scalars(
        select(PanelSession.id).where(
            PanelSession.account_id == account_id,
            PanelSession.ended_at.is_(None),
            PanelSession.created_at >= at - SESSION_MAX_AGE,
        )
    )
    return len(rows.all())


def end_sessions_of(
    session: Session, username: str, *, at: datetime, actor: str, client: str = ""
) -> int:
    """An admin ends every session of ``username`` at once; logged as ``config.changed``."""
    account = find_account(session, username)
    ended = end_sessions(session, account.id, at=at, reason=f"ended by {actor}")
    details = {
        "what": "panel sessions ended",
        "username": account.username,
        "sessions_ended": ended,
    }
    _log(session, details, at, actor, client)
    return ended


# -------------------------------------------------------------------- tokens


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256."""
    return key_digest(token)


def create_token(session: Session, username: str, *, at: datetime, actor: str) -> str:
    """A new bearer token for ``username``; only its digest is stored."""
    account = find_account(session, username)
    if not account.active:
        raise Conflict(f"the account {account.username!r} is deactivated: activate it first")
    token = "lk_" + secrets.token_urlsafe(32)
    row = ApiToken(account_id=account.id, token_hash=token_digest(token), created_at=at)
    session.add(row)
    session.flush()
    details = {"what": "API token created", "username": username, "token_id": row.id}
    append(session, LogEntry(ev.CONFIG_CHANGED, actor, details=details), at)
    return token


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: never the token itself."""

    id: int
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token, revoked ones included, oldest first."""
    rows = session.execute(
        select(ApiToken, PanelAccount.username)
        .join(PanelAccount, ApiToken.account_id == PanelAccount.id)
        .order_by(ApiToken.id)
    )
    return [
        TokenInfo(t.id, username, t.created_at, t.last_used_at, t.revoked_at)
        for t, username in rows
    ]


def revoke_token(
    session: Session, token_id: int, *, at: datetime, actor: str, client: str = ""
) -> TokenInfo:
    """Revoke token ``token_id``: its next request gets a 401."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"there is no API token {token_id}")
    if row.revoked_at is not None:
        raise Conflict(f"API token {token_id} was already revoked")
    row.revoked_at = at
    username = row.account.username
    details = {"what": "API token revoked", "username": username, "token_id": row.id}
    _log(session, details, at, actor, client)
    return TokenInfo(row.id, username, row.created_at, row.last_used_at, row.revoked_at)


def _revoke_all_tokens(session: Session, account_id: int, *, at: datetime) -> int:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class TokenUse:
    """A live token's id, its active account, and when it was last stamped as used."""

    token_id: int
    account: PanelAccount
    last_used_at: datetime | None


def token_account(session: Session, token: str) -> TokenUse | None:
    """The live token ``token`` with its active account, or ``None``; only reads."""
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.account.active:
        return None
    return TokenUse(row.id, row.account, row.last_used_at)


def stamp_token(session: Session | Connection, token_id: int, *, at: datetime) -> None:
    """Record that token ``token_id`` was used at ``at``."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


# -------------------------------------------------------------- decoy checks


@functools.cache
def _decoy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_hex(16))


def decoy_check(password: str) -> bool:
    """A check as long as a real one, for a name with no account: always ``False``."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _password_hasher()
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_decoy_hash(hasher), password)
    return False
