"""Who may see what on the hub: sessions, bearer tokens, CSRF and headers.

Access is denied by default: one hook in front of every view finds the
caller (a site by its token on the ingest routes, a hub account by its API
token or its session cookie everywhere else) and refuses anyone else. The
session cookie holds only a random key; the hub stores its SHA-256 and ends
it after the configured idle time. Headers and the "next" check are the
panel's own (:mod:`web.security`).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden

from hub import accounts
from hub.models import Site
from web.security import add_security_headers, bearer_token, uses_api

csrf = CSRFProtect()

#: Endpoints anybody may reach (the login form, the health check).
PUBLIC_ENDPOINTS = frozenset({"pages.login", "api.healthz", "static"})
#: Endpoints a site reaches with its own token (never an account's).
SITE_ENDPOINTS = frozenset({"api.ingest_head", "api.ingest_events", "api.ingest_status"})
SESSION_KEY = "hub_session"


def guard():
    """Find the caller and refuse the request unless it may make it."""
    g.account = None
    g.site = None
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS or request.routing_exception is not None:
        return None
    db = current_app.config["HUB_DB"]
    now = current_app.config["HUB_NOW"]()
    token = bearer_token()
    with db.session() as s:
        if endpoint in SITE_ENDPOINTS:
            g.site = accounts.site_by_token(s, token) if token else None
            if g.site is None:
                return jsonify(error="send the site's token as Authorization: Bearer TOKEN"), 401
            return None
        if token is not None:
            g.account = accounts.token_account(s, token)
        elif SESSION_KEY in session:
            idle = timedelta(minutes=current_app.config["HUB_IDLE_MIN"])
            g.account = accounts.session_account(s, session[SESSION_KEY], now, idle)
        if g.account is not None:
            g.visible = accounts.visible_site_ids(s, g.account)
    if g.account is None:
        if uses_api():
            return jsonify(error="log in, or send a hub token as Authorization: Bearer TOKEN"), 401
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    if token is None:
        csrf.protect()
    return None


def may_see(site: Site) -> bool:
    """True when the caller's account may see ``site``."""
    return g.visible is None or site.id in g.visible


def require_site(site: Site) -> Site:
    """``site``, or a 404 for an account that may not see it (as if it did not exist)."""
    if not may_see(site):
        abort(404, description=f"no site called {site.name!r}")
    return site


def require_admin() -> None:
    """Refuse an area manager what only a group admin may do."""
    if g.account.role != "group_admin":
        raise Forbidden("only a group admin may do this")


def init_app(app: Flask) -> None:
    """Install CSRF protection, the guard and the panel's security headers on ``app``."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(guard)
    app.after_request(add_security_headers)
