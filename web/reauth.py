"""Re-authentication before anything that opens a slot: one policy for forms and the API.

Every action that opens a slot now (an open-now grant, releasing one slot,
releasing all, signing a visitor in or out) asks for the account's own
password again: the JSON field ``password`` in the API, a password field in
the forms. A password typed in the last ``web.reauth_min`` minutes (default 5;
logging in counts) covers the next actions, so a manager in an evacuation
types it once. A wrong password is refused even inside that time, and counts
against the login throttle like a wrong login.

Bearer tokens have no password to type: a token is a deliberate credential,
created with ``locker token create`` for a machine, and it is let through.
Keep it secret and revoke it (``locker token revoke ID``) when it may have
leaked; a viewer's token cannot act at all.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from werkzeug.exceptions import BadRequest, Forbidden

from web import auth
from web.context import get_config
from web.typed_password import password_typed, typed_recently

#: The longest password taken, as on the login form.
MAX_PASSWORD = 1024


class PasswordNeeded(Forbidden):
    """The action opens a slot: the account's password must be typed again."""


class WrongPassword(Forbidden):
    """The password typed again is not the account's."""


def require(password: str | None, purpose: str) -> None:
    """Let the caller ``purpose`` (e.g. "release a slot"), or raise a 403 saying why not.

    ``password`` is what the caller typed again, if anything.
    """
    if current_user.via_token:
        return
    if password:
        if auth.check_attempt(current_user.username, password, purpose=purpose) is None:
            raise WrongPassword("the password is wrong")
        password_typed()
        return
    if typed_recently():
        return
    minutes = get_config().web.reauth_min
    covers = f" (it covers the next {minutes} minutes)" if minutes else ""
    raise PasswordNeeded(f"type your password again in 'password' to {purpose}{covers}")


def password_in(data: dict[str, Any]) -> str | None:
    """Take ``password`` out of a JSON body (so it goes no further), checking its type."""
    password = data.pop("password", None)
    if password is None:
        return None
    if not isinstance(password, str) or not _encodable(password):
        raise BadRequest("password must be text")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"password is too long (at most {MAX_PASSWORD} characters)")
    return password


def _encodable(text: str) -> bool:
    # JSON can carry lone surrogates ("\ud800"), which no password hash can take.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
