"""When the session's account last typed its password (logging in counts).

Kept apart from :mod:`web.auth` (which notes a login here) and
:mod:`web.reauth` (which asks whether a password was typed lately), so the
two need not import each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import session

from web.context import get_config, real_now

#: Where the session keeps when its password was last typed (UTC, ISO 8601).
TYPED_AT = "password_typed_at"


def window() -> timedelta:
    """How long a typed password covers actions that open a slot."""
    return timedelta(minutes=get_config().web.reauth_min)


def password_typed(at: datetime | None = None) -> None:
    """Note in the session that its account's password was just typed (and was right)."""
    session[TYPED_AT] = (at or real_now()).isoformat()


def typed_recently() -> bool:
    """True when this session typed its password within :func:`window`."""
    raw = session.get(TYPED_AT)
    if not isinstance(raw, str):
        return False
    try:
        typed = datetime.fromisoformat(raw)
    except ValueError:
        return False
    return timedelta(0) <= real_now() - typed < window()
