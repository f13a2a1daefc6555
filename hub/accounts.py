"""Hub accounts, sites' tokens, sessions and API tokens.

Passwords, digests and the decoy check are the panel's own
(:mod:`locker.accounts`): argon2id hashes, SHA-256 of every key and token, a
login for a name that does not exist costing as much as a real one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from hub.models import (
    AREA_MANAGER,
    GROUP_ADMIN,
    HUB_ROLES,
    AccountSite,
    Base,
    HubAccount,
    HubSession,
    HubToken,
    Site,
)
from locker.accounts import (
    MIN_PASSWORD,
    check_password,
    decoy_check,
    hash_password,
    key_digest,
)
from locker.errors import Conflict, InvalidRequest, NotFound
from locker.log import GENESIS_HASH

#: A session ends this long after its login however busy it is kept.
SESSION_MAX_AGE = timedelta(days=1)


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > 80 or not name.isprintable() or any(c.isspace() for c in name):
        raise InvalidRequest(f"a {what} name of 1 to 80 printable characters without spaces")
    return name


def add_site(session: Session, name: str, at: datetime) -> str:
    """Register site ``name``; its token (shown once: only the digest is stored)."""
    name = _check_name(name, "site")
    if session.scalar(select(Site.id).where(Site.name == name)):
        raise Conflict(f"there is already a site called {name!r}")
    token = "hs_" + secrets.token_urlsafe(32)
    session.add(
        Site(
            name=name,
            token_digest=key_digest(token),
            created_at=at,
            head_seq=0,
            head_hash=GENESIS_HASH,
            events=0,
        )
    )
    session.flush()
    return token


def new_site_token(session: Session, name: str) -> str:
    """A new token for site ``name`` (a Pi replaced or stolen); the old one stops working."""
    site = find_site(session, name)
    token = "hs_" + secrets.token_urlsafe(32)
    site.token_digest = key_digest(token)
    return token


def remove_site(session: Session, name: str) -> dict[str, int]:
    """Delete site ``name`` and everything the hub holds of it; rows deleted per table.

    For a registration no longer used: a setting that closed, or the old name
    of a site registered again after its upgrade (docs/log-migration.md), whose
    copy still holds the names its release wrote in clear, out of reach of an
    erasure at the site. The tables are found from the models' foreign keys to
    ``sites``, so a table added later cannot be left behind.
    """
    site = find_site(session, name)
    removed: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):  # the rows that refer to others first
        column = _site_column(table)
        if column is not None:
            removed[table.name] = session.execute(delete(table).where(column == site.id)).rowcount
    session.delete(site)
    session.flush()
    return removed


def _site_column(table: Table):
    """``table``'s column that refers to a site, or ``None``."""
    return next((fk.parent for fk in table.foreign_keys if fk.column.table.name == "sites"), None)


def site_by_token(session: Session, token: str) -> Site | None:
    """The site whose token ``token`` is, or ``None``."""
    return session.scalar(select(Site).where(Site.token_digest == key_digest(token)))


def find_site(session: Session, name: str) -> Site:
    """The site called ``name``."""
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise NotFound(f"no site called {name!r}")
    return site


def add_account(
    session: Session, name: str, role: str, password: str, sites: list[str], at: datetime
) -> HubAccount:
    """A new hub account; an area manager's ``sites`` are the only ones it sees."""
    name = _check_name(name, "user")
    if role not in HUB_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(HUB_ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"the password must have at least {MIN_PASSWORD} characters")
    if role == GROUP_ADMIN and sites:
        raise InvalidRequest("a group admin sees every site: give sites to area managers only")
    if session.scalar(select(HubAccount.id).where(HubAccount.name == name)):
        raise Conflict(f"there is already a hub account called {name!r}")
    account = HubAccount(
        name=name, role=role, password_hash=hash_password(password), active=True, created_at=at
    )
    session.add(account)
    session.flush()
    for site_name in sites:
        session.add(AccountSite(account_id=account.id, site_id=find_site(session, site_name).id))
    return account


def find_account(session: Session, name: str) -> HubAccount:
    """The hub account called ``name``."""
    account = session.scalar(select(HubAccount).where(HubAccount.name == name))
    if account is None:
        raise NotFound(f"no hub account called {name!r}")
    return account


def set_active(session: Session, name: str, active: bool, at: datetime) -> HubAccount:
    """Deactivate (or activate again) hub account ``name``.

    As on the panel: a deactivated account cannot log in, its sessions end and
    its API tokens are revoked, so activating it again needs a new login and
    new tokens.
    """
    account = find_account(session, name)
    if account.active == active:
        raise Conflict(
            f"the hub account {name!r} is already {'active' if active else 'deactivated'}"
        )
    account.active = active
    if not active:
        session.execute(
            update(HubSession)
            .where(HubSession.account_id == account.id, HubSession.ended_at.is_(None))
            .values(ended_at=at)
        )
        session.execute(
            update(HubToken)
            .where(HubToken.account_id == account.id, HubToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
    return account


def visible_site_ids(session: Session, account: HubAccount) -> set[int] | None:
    """The sites ``account`` may see; ``None`` means every site (a group admin)."""
    if account.role != AREA_MANAGER:
        return None
    rows = session.scalars(select(AccountSite.site_id).where(AccountSite.account_id == account.id))
    return set(rows)


def login(session: Session, name: str, password: str) -> HubAccount | None:
    """The active account ``name`` if ``password`` is its own, else ``None``."""
    account = session.scalar(select(HubAccount).where(HubAccount.name == name))
    if account is None or not account.active:
        decoy_check(password)
        return None
    return account if check_password(account, password) else None


def start_session(session: Session, account: HubAccount, at: datetime) -> str:
    """A new session key for ``account`` (the cookie's); only its digest is stored."""
    key = secrets.token_urlsafe(32)
    session.add(
        HubSession(
            account_id=account.id, key_digest=key_digest(key), created_at=at, last_seen_at=at
        )
    )
    return key


def session_account(session: Session, key: str, at: datetime, idle: timedelta) -> HubAccount | None:
    """The active account of live session ``key`` (its idle timer restarts), or ``None``."""
    row = session.scalar(select(HubSession).where(HubSession.key_digest == key_digest(key)))
    if row is None or row.ended_at is not None:
        return None
    if at - row.created_at > SESSION_MAX_AGE or at - row.last_seen_at > idle:
        row.ended_at = at
        return None
    account = session.get(HubAccount, row.account_id)
    if account is None or not account.active:
        return None
    row.last_seen_at = at
    return account


def end_session(session: Session, key: str, at: datetime) -> None:
    """End session ``key`` (logout)."""
    session.execute(
        update(HubSession)
        .where(HubSession.key_digest == key_digest(key), HubSession.ended_at.is_(None))
        .values(ended_at=at)
    )


def create_token(session: Session, name: str, at: datetime) -> str:
    """A new API token for account ``name``; only its digest is stored."""
    account = find_account(session, name)
    if not account.active:
        raise Conflict(f"the hub account {name!r} is deactivated")
    token = "hk_" + secrets.token_urlsafe(32)
    session.add(HubToken(account_id=account.id, digest=key_digest(token), created_at=at))
    return token


def token_account(session: Session, token: str) -> HubAccount | None:
    """The active account of live API token ``token``, or ``None``."""
    row = session.scalar(select(HubToken).where(HubToken.digest == key_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    account = session.get(HubAccount, row.account_id)
    return account if account is not None and account.active else None
