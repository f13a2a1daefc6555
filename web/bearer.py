"""Bearer tokens: whose a token is (a read), and when it was last used (a stamp).

Looking a token up only reads, so a read-only API call never needs the
write lock the daemon may be holding. The token's ``last_used_at`` is stamped
at most once a minute (:data:`STAMP_EVERY`), in its own short transaction
that waits at most :data:`STAMP_WAIT_MS` for the lock: when the database is
busy or failing, the stamp is skipped (it is a convenience for the token
list) and the request goes on as if nothing happened.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from locker.accounts import TokenUse, stamp_token, token_account
from web.context import get_db, real_now

log = logging.getLogger(__name__)

#: A token's ``last_used_at`` is at most this old (unless the database was busy).
STAMP_EVERY = timedelta(minutes=1)
#: How long a stamp waits for the database's write lock before it gives up.
STAMP_WAIT_MS = 50


class _Tries:
    """When this process last tried to stamp each token, so a busy database is not
    asked again on every request."""

    def __init__(self):
        self._lock = threading.Lock()
        self._at: dict[int, datetime] = {}

    def due(self, token_id: int, now: datetime) -> bool:
        """True (and noted) when the token was not tried within :data:`STAMP_EVERY`."""
        with self._lock:
            last = self._at.get(token_id)
            if last is not None and now - last < STAMP_EVERY:
                return False
            if len(self._at) > 10_000:
                self._at.clear()
            self._at[token_id] = now
            return True


def _tries() -> _Tries:
    """This app's record of stamp attempts (token ids are per database, so per app)."""
    return current_app.extensions.setdefault("locker_token_stamps", _Tries())


def token_user(token: str) -> TokenUse | None:
    """The live token and its active account, or ``None``; stamps its use now and then."""
    with get_db().read() as session:
        use = token_account(session, token)
    if use is not None:
        now = real_now()
        fresh = use.last_used_at is not None and now - use.last_used_at < STAMP_EVERY
        if not fresh and _tries().due(use.token_id, now):
            _stamp(get_db().engine, use.token_id, now)
    return use


def _stamp(engine: Engine, token_id: int, now: datetime) -> None:
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            waited = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {STAMP_WAIT_MS}")
        else:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{STAMP_WAIT_MS}ms'")
        try:
            stamp_token(conn, token_id, at=now)
            conn.commit()
        except OperationalError as exc:
            log.info("token %s: last use not recorded (%s)", token_id, exc.orig)
            conn.rollback()
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(waited)}")
                conn.commit()
