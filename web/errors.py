"""Error answers: JSON ``{"error": ...}`` for the API, a plain page for people.

A mistake in a request (bad JSON, a wrong type, an unknown id) gets a 4xx
naming what is wrong. A 500 means a bug in the panel; it is logged with its
traceback and the answer gives nothing away.
"""

from __future__ import annotations

import sqlite3

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from locker.errors import Conflict, ControllerDown, InvalidRequest, NotFound
from web.security import uses_api

#: First match wins: a slot the bank does not have is a 404 though also a bad request.
STATUS_OF = {NotFound: 404, InvalidRequest: 400, Conflict: 409, ControllerDown: 503}
#: Seconds a client is asked to wait before trying again after a 503.
RETRY_AFTER_S = 30


def _message(error: HTTPException) -> str:
    """What to tell the caller: the view's own words, or a clearer default."""
    if isinstance(error, CSRFError):
        return f"CSRF check failed: {error.description} Reload the page and try again."
    if error.description != type(error).description:
        return error.description or error.name
    if error.code == 404:
        return f"nothing here: {request.method} {request.path}"
    if error.code == 405:
        methods = set(getattr(error, "valid_methods", None) or []) - {"HEAD", "OPTIONS"}
        allowed = ", ".join(sorted(methods))
        return f"{request.method} is not allowed on {request.path} (allowed: {allowed})"
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"the request is too large (at most {limit} bytes)"
    return error.description or error.name


def _answer(code: int, message: str, headers: dict[str, str] | None = None):
    if uses_api():
        response = jsonify(error=message)
    else:
        response = current_app.make_response(
            render_template("error.html", code=code, message=message)
        )
    response.status_code = code
    response.headers.update(headers or {})
    return response


def http_error(error: HTTPException):
    """A 4xx or 5xx raised on purpose or by routing."""
    headers = {}
    if getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return _answer(error.code or 500, _message(error), headers)


def locker_error(error: InvalidRequest | NotFound | Conflict | ControllerDown):
    """The product's own refusals: 400, 404, 409 or 503 with its message."""
    code = next(code for cls, code in STATUS_OF.items() if isinstance(error, cls))
    headers = {"Retry-After": str(RETRY_AFTER_S)} if code == 503 else None
    return _answer(code, str(error), headers)


def storage_error(error: OperationalError | sqlite3.DatabaseError):
    """The database cannot be used now (locked too long, disk full, file gone): 503.

    Nothing was changed: the transaction that met the error was rolled back.
    """
    current_app.logger.error("database unusable on %s %s: %s", request.method, request.path, error)
    reason = str(getattr(error, "orig", None) or error)
    return _answer(
        503,
        f"the locker's database cannot be used right now ({reason}); nothing was changed. "
        "Try again in a minute; if it goes on, tell the installer.",
        {"Retry-After": str(RETRY_AFTER_S)},
    )


def unexpected(error: Exception):
    """A bug: log it with its traceback and answer a bare 500."""
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return _answer(500, "internal error in the panel; it has been logged")


def init_app(app: Flask) -> None:
    """Register the error handlers on ``app``."""
    app.register_error_handler(HTTPException, http_error)
    for cls in STATUS_OF:
        app.register_error_handler(cls, locker_error)
    app.register_error_handler(OperationalError, storage_error)
    # Raised bare by the driver when a connection cannot even be opened.
    app.register_error_handler(sqlite3.DatabaseError, storage_error)
    app.register_error_handler(Exception, unexpected)
