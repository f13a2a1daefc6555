"""Who may do what: sessions, bearer tokens, CSRF, roles and security headers.

Access is denied by default. One hook in front of every view requires a login
(except for the few public endpoints), checks the CSRF token of every
session-authenticated change, and refuses any change to a viewer account.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from werkzeug.exceptions import Forbidden

from locker.accounts import session_account
from web.bearer import token_user
from web.context import MAX_ID, app_clock, get_db, real_now

csrf = CSRFProtect()
login_manager = LoginManager()

#: Endpoints anybody may reach without logging in.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "api.healthz"})
#: Changes every account may make, viewers included.
ANY_ACCOUNT_CHANGES = frozenset({"auth.login", "auth.logout"})
ACTING_ROLES = frozenset({"manager", "admin"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Header the status page's background refresh sends, so it does not count as activity.
POLL_HEADER = "X-Panel-Poll"
# Where the app keeps its session cookie's signer class (_session_signer).
_SESSION_SIGNER = "locker.session_signer"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
#: Sent only when ``web.secure_cookies`` is on, i.e. the panel is served over HTTPS:
#: a browser that saw it never falls back to plain HTTP (where the cookie would leak).
HSTS = "max-age=31536000"


class PanelUser:
    """A logged-in panel account, by session or by bearer token."""

    def __init__(
        self,
        account_id: int,
        username: str,
        role: str,
        *,
        via_token: bool = False,
        session_key: str | None = None,
    ):
        self.id = account_id
        self.username = username
        self.role = role
        self.via_token = via_token
        #: The key of the server-side session this request belongs to (none for a token).
        self.session_key = session_key

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: the account id and the session's key.

        The key names a row of ``panel_sessions``, which logout, a new password,
        a deactivation or an admin ends: the cookie is then worth nothing.
        """
        return f"{self.id}:{self.session_key}"

    @property
    def can_act(self) -> bool:
        """Managers and admins may change things; viewers only read."""
        return self.role in ACTING_ROLES

    @property
    def is_admin(self) -> bool:
        """Admins also manage panel accounts, their sessions and tokens."""
        return self.role == "admin"


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def uses_api() -> bool:
    """True for JSON endpoints, which answer errors in JSON rather than HTML."""
    return request.path == "/healthz" or request.path.startswith("/api/")


@login_manager.user_loader
def load_session_user(user_id: str) -> PanelUser | None:
    """The account whose live server-side session the cookie names."""
    # A request with an Authorization header is judged by its token alone, which
    # is also what makes skipping CSRF for it safe: a browser never adds one by itself.
    if request.headers.get("Authorization"):
        return None
    number, _, key = user_id.partition(":")
    if not number.isdigit() or int(number) > MAX_ID or not key:
        return None
    with get_db().read() as session:
        account = session_account(session, key, at=real_now())
        if account is None or account.id != int(number):
            return None  # logged out, ended, deactivated, or its password changed since
        return PanelUser(account.id, account.username, account.role, session_key=key)


@login_manager.request_loader
def load_token_user(_request) -> PanelUser | None:
    """The account a bearer token belongs to (a read; see :mod:`web.bearer`)."""
    token = bearer_token()
    if token is None:
        return None
    use = token_user(token)
    if use is None:
        g.auth_problem = "the bearer token is unknown or revoked"
        return None
    account = use.account
    return PanelUser(account.id, account.username, account.role, via_token=True)


@login_manager.unauthorized_handler
def unauthorized():
    """JSON 401 for the API; the login page for everything else."""
    if uses_api():
        message = g.get("auth_problem") or "log in, or send Authorization: Bearer TOKEN"
        return jsonify(error=message), 401
    # Only a page can be come back to; a form post would arrive as a GET.
    target = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else None
    return redirect(url_for("auth.login", next=target))


def guard():
    """Login, CSRF and role checks in front of every view."""
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS and endpoint != "auth.login":
        return None
    if endpoint != "auth.login" and not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.routing_exception is not None:
        return None  # let a logged-in caller see the 404 or 405
    if bearer_token() is None:
        csrf.protect()
    if request.method in SAFE_METHODS or endpoint in ANY_ACCOUNT_CHANGES:
        return None
    if not current_user.can_act:
        raise Forbidden("a viewer account can only look: ask a manager to do this")
    return None


def add_security_headers(response):
    """Headers every response carries."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static":
        # Status pages and API answers hold names and are out of date in seconds.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def is_safe_next(target: str | None) -> bool:
    """True for a path on this site, so a login link cannot send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


class PanelSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions on the app's clock, whose idle timer the status
    page's polling does not reset."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer, signing and ageing the cookie by the app's clock."""
        serializer = super().get_signing_serializer(app)
        if serializer is not None:
            # itsdangerous reads time.time(): the idle timeout would ignore the
            # clock the rest of the panel (logins, the server-side session) runs on.
            serializer.signer = _session_signer(app)
        return serializer

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        """The cookie's expiry, by the app's clock."""
        if not session.permanent:
            return None
        return app_clock(app).now() + app.permanent_session_lifetime

    def should_set_cookie(self, app: Flask, session) -> bool:
        """Re-issue the cookie on a person's requests, not on background refreshes."""
        if request.headers.get(POLL_HEADER):
            return session.modified
        return super().should_set_cookie(app, session)


def _session_signer(app: Flask) -> type[TimestampSigner]:
    """The app's :class:`TimestampSigner`, stamping and ageing by its clock (made once)."""
    signer = app.extensions.get(_SESSION_SIGNER)
    if signer is None:
        clock = app_clock(app)

        class ClockedSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        signer = app.extensions[_SESSION_SIGNER] = ClockedSigner
    return signer


def init_app(app: Flask) -> None:
    """Install CSRF protection, Flask-Login, the guard and the headers on ``app``."""
    # The guard calls csrf.protect() itself, only for session-authenticated requests.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.session_interface = PanelSessionInterface()
    app.before_request(guard)
    app.after_request(add_security_headers)
