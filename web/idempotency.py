"""Idempotency keys: the same state-changing request twice gets the first answer.

A manager double-clicks *Open now*, or her phone retries a request whose
answer it never saw. Each must be carried out once. A client sends a key it
made up for one intended action, in the ``Idempotency-Key`` header (the API)
or a hidden ``idempotency_key`` field (the panel's forms, see
:func:`idempotency_field`). The first request with a key is carried out and
its answer stored; a later one with the same key and account gets that
answer back (``Idempotent-Replayed: true``) without being carried out again.

The key is claimed in a write transaction before the view runs, so two
requests racing with one key cannot both get through: the second waits for
the first's answer. A key reused for a different request is refused (422).
An answer that is a server-side failure (5xx) is not kept, so a retry after
the daemon or the database came back is carried out. Keys are kept for a day.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from datetime import timedelta

from flask import Flask, current_app, flash, g, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict, UnprocessableEntity

from locker.models import IdempotentRequest
from web.context import get_db, real_now
from web.security import SAFE_METHODS, uses_api

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
#: How long a key is remembered.
KEEP = timedelta(hours=24)
#: Seconds a repeat waits for the first request's answer before giving up (409).
WAIT_S = 10.0
POLL_S = 0.05
#: Letters, digits and ``-_.:``; a UUID fits, and nothing that could confuse a log.
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Fields that differ between two sends of one action, or must not be hashed.
_NOT_FINGERPRINTED = frozenset({"csrf_token", "password", FORM_FIELD})


def idempotency_field() -> Markup:
    """A hidden form field with a fresh key: one key per rendering of a form."""
    return Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{uuid.uuid4()}">')


def request_key() -> str | None:
    """The request's idempotency key, if it sent one; 400 if it is malformed."""
    key = request.headers.get(HEADER)
    if key is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        key = request.form.get(FORM_FIELD)
    if key is None or key == "":
        return None
    if not _KEY.fullmatch(key):
        raise BadRequest(
            f"{HEADER} must be 1 to 128 letters, digits or '-_.:' (a UUID is a good key)"
        )
    return key


def fingerprint() -> str:
    """SHA-256 of what the request asks for: method, path and body (less passwords and tokens)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in _NOT_FINGERPRINTED}
        content = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    else:
        fields = sorted(
            (k, v) for k, v in request.form.items(multi=True) if k not in _NOT_FINGERPRINTED
        )
        content = json.dumps(fields)
    text = f"{request.method} {request.path}\n{content}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def claim():
    """Before the view: claim the key, or answer with the first answer it got."""
    if request.method in SAFE_METHODS or not current_user.is_authenticated:
        return None
    key = request_key()
    if key is None:
        return None
    account, printed = current_user.username, fingerprint()
    deadline = time.monotonic() + current_app.config.get("LOCKER_IDEMPOTENCY_WAIT_S", WAIT_S)
    while True:
        row = _claim_or_find(account, key, printed)
        if row is None:
            return None  # ours: the view runs, and remember() keeps its answer
        if row.fingerprint != printed:
            raise UnprocessableEntity(
                f"this {HEADER} was already used for a different request; "
                "make a new key for each action"
            )
        if row.status_code is not None:
            return _replay(row)
        if time.monotonic() >= deadline:
            raise Conflict(
                f"a request with this {HEADER} is still being carried out; "
                "ask again in a moment to get its answer"
            )
        time.sleep(POLL_S)


def _claim_or_find(account: str, key: str, printed: str) -> IdempotentRequest | None:
    """Insert the key as in progress (None: it is ours), or the row already there."""
    now = real_now()
    with get_db().write() as session:
        row = session.scalar(
            select(IdempotentRequest).where(
                IdempotentRequest.account == account, IdempotentRequest.key == key
            )
        )
        if row is not None:
            return row
        session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now - KEEP))
        claimed = IdempotentRequest(account=account, key=key, fingerprint=printed, created_at=now)
        session.add(claimed)
        try:
            session.commit()
        except IntegrityError:  # pragma: no cover - the write lock makes this a belt and braces
            session.rollback()
            return session.scalar(
                select(IdempotentRequest).where(
                    IdempotentRequest.account == account, IdempotentRequest.key == key
                )
            )
        g.idempotency_claim = claimed.id
    return None


def _replay(row: IdempotentRequest):
    response = current_app.response_class(
        row.body or "", status=row.status_code, content_type=row.content_type or None
    )
    if row.location:
        response.headers["Location"] = row.location
    response.headers["Idempotent-Replayed"] = "true"
    if not uses_api() and 300 <= row.status_code < 400:
        flash("That request had already been sent; it was carried out once.", "warning")
    return response


def remember(response):
    """After the view: keep the answer for the key this request claimed."""
    claim_id = g.pop("idempotency_claim", None)
    if claim_id is None:
        return response
    with get_db().write() as session:
        row = session.get(IdempotentRequest, claim_id)
        if row is None:
            return response
        if response.status_code >= 500 or response.is_streamed:
            # A failure of ours (the daemon or the database down): a retry may succeed.
            session.delete(row)
        else:
            row.status_code = response.status_code
            row.body = response.get_data(as_text=True)
            row.content_type = response.content_type or ""
            row.location = response.headers.get("Location", "")[:500]
        session.commit()
    return response


def release(error: BaseException | None) -> None:
    """If the request died before an answer was kept, let the key be used again."""
    claim_id = g.pop("idempotency_claim", None)
    if claim_id is None:
        return
    with get_db().write() as session:
        row = session.get(IdempotentRequest, claim_id)
        if row is not None and row.status_code is None:
            session.delete(row)
            session.commit()


def init_app(app: Flask) -> None:
    """Claim keys after the security guard, keep answers, and offer the form field."""
    app.before_request(claim)
    app.after_request(remember)
    app.teardown_request(release)
    app.jinja_env.globals["idempotency_field"] = idempotency_field
