"""The manager's panel: a Flask app that reads the database and asks the daemon to act.

It never touches a pin: every action on the bank becomes a Command row that
the daemon carries out (see :mod:`web.commands`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from locker.clock import Clock, SystemClock
from locker.config import Config, config_path, load_config
from locker.db import Database, require_current_schema
from locker.errors import ConfigError
from web import (
    accounts,
    actions,
    alerts,
    api,
    auth,
    errors,
    idempotency,
    log,
    people,
    privacy,
    report,
    rota,
    security,
    sim,
    status,
)

#: A shorter key can be guessed; ``locker init`` writes 64 hex characters.
MIN_SECRET_KEY = 32
#: Largest request body the panel reads: forms and JSON commands are small.
MAX_BODY = 64 * 1024
#: Seconds a panel request waits for the database's write lock before a 503
#: (app config ``LOCKER_DB_BUSY_TIMEOUT_S``): the daemon's writes take milliseconds.
DB_BUSY_TIMEOUT_S = 5.0


def create_app(
    test_config: dict[str, Any] | None = None,
    *,
    config: Config | None = None,
    clock: Clock | None = None,
) -> Flask:
    """Build the panel for ``config`` (default: ``$LOCKER_CONFIG`` or the default path).

    ``clock`` is the real clock for sessions and logins (tests pass a
    simulated one). Outside tests the app refuses to start without a real
    secret key.
    """
    if config is None:
        config = load_config(config_path())
    app = Flask(__name__)
    app.config.from_mapping(
        SESSION_COOKIE_NAME="locker_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=config.web.session_idle_min),
        SESSION_REFRESH_EACH_REQUEST=True,
        # The CSRF token lives as long as the session; the idle timeout ends both.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_BODY,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config["SECRET_KEY"] = _secret_key(app, config)

    # Never create the database: a panel that made an empty one would hide a
    # deleted database from the daemon (only `locker init` creates it).
    busy_timeout_s = app.config.get("LOCKER_DB_BUSY_TIMEOUT_S", DB_BUSY_TIMEOUT_S)
    db = Database(config.db_url, busy_timeout_s=busy_timeout_s, create=False)
    require_current_schema(db.engine)
    app.extensions["locker_config"] = config
    app.extensions["locker_db"] = db
    app.extensions["locker_clock"] = clock or SystemClock()

    security.init_app(app)
    idempotency.init_app(app)
    errors.init_app(app)
    for module in (auth, status, alerts, actions, api, people, rota, sim, log, report, accounts):
        app.register_blueprint(module.bp)
    # Data protection (issue 17): the person's privacy page and the access log.
    app.register_blueprint(privacy.bp)
    privacy.init_app(app)

    @app.context_processor
    def panel_globals() -> dict[str, Any]:
        return {"site_name": config.site_name}

    return app


def _secret_key(app: Flask, config: Config) -> str:
    """The session key: from the test config, else from ``web.secret_key_file``."""
    key = app.config.get("SECRET_KEY") or ""
    path = config.web.secret_key_file
    if not key and path:
        try:
            key = Path(path).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            if not app.testing:
                raise ConfigError(
                    f"web.secret_key_file: {path} does not exist (run `locker init` to create it)"
                ) from None
        except OSError as exc:
            raise ConfigError(f"web.secret_key_file: cannot read {path}: {exc.strerror}") from None
    if app.testing:
        return key or secrets.token_hex(32)
    if not key:
        raise ConfigError(
            "web.secret_key_file: not set; the panel refuses to start without a secret key "
            "(run `locker init` to create one)"
        )
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"web.secret_key_file: the key in {path or 'the config'} is too short "
            f"(at least {MIN_SECRET_KEY} characters)"
        )
    return key
