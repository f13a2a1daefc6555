"""The hub's Flask application: ``create_app`` wires the database, clock and blueprints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask, g

from hub import api, pages, report_pages, security
from hub.db import HubDatabase
from locker.clock import Clock, SystemClock
from locker.config import Config
from locker.errors import ConfigError
from web import errors

#: The largest request body: a compressed batch of a week's events is well under.
MAX_BODY = 16 * 1024 * 1024


def create_app(
    config: Config,
    db: HubDatabase,
    *,
    clock: Clock | None = None,
    secret_key: str | None = None,
    test_config: dict | None = None,
) -> Flask:
    """The hub app on ``db``, timed by ``clock`` (the system's by default; tests hand
    in a :class:`~locker.clock.SimulatedClock` and move it).

    The session key is ``secret_key`` if given (a demo's, a test's), else read
    from ``[hub_server] secret_key_file``.
    """
    app = Flask(__name__)
    server = config.hub_server
    clock = clock or SystemClock()
    app.config.update(
        SECRET_KEY=secret_key or _secret_key(server.secret_key_file),
        SESSION_COOKIE_NAME="hub_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=server.secure_cookies,
        MAX_CONTENT_LENGTH=MAX_BODY,
        HUB_DB=db,
        HUB_NOW=clock.now,
        HUB_IDLE_MIN=server.session_idle_min,
        HUB_OFFLINE_AFTER=timedelta(seconds=server.offline_after_s),
    )
    app.config.update(test_config or {})
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(report_pages.bp)

    @app.context_processor
    def hub_globals() -> dict:
        return {"account": g.get("account")}

    return app


def _secret_key(path: str) -> str:
    if path and Path(path).exists():
        return Path(path).read_text(encoding="utf-8").strip()
    raise ConfigError(
        "hub_server.secret_key_file: missing; `locker hub init` writes one "
        "(the hub refuses to start without a real secret key)"
    )
