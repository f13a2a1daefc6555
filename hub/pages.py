"""The group's pages: log in, all sites, open alerts, overrides, one site read-only."""

from __future__ import annotations

from datetime import date, timedelta

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import text

from hub import accounts, event_rows, overview
from hub.security import SESSION_KEY, csrf, require_site
from hub.shifts import site_tz
from locker.errors import InvalidRequest
from web import throttle
from web.context import client_address
from web.security import is_safe_next
from web.words import event_words, state_words

bp = Blueprint("pages", __name__)
LOG_PAGE = 100
#: Sites on one page of the sites list.
SITES_PAGE = 100
#: Sites (with something open) on one page of the alerts.
ALERT_SITES_PAGE = 50
#: Overrides on one page of the overrides log.
OVERRIDES_PAGE = 200
#: The advisory lock that serialises logins (any number; this one is the hub's logins).
LOGIN_LOCK = 18_001


def _db():
    return current_app.config["HUB_DB"]


def _now():
    return current_app.config["HUB_NOW"]()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form, and logging in (throttled as the panel's login is)."""
    error = None
    if request.method == "POST":
        csrf.protect()
        name = request.form.get("name", "")[:80]
        password = request.form.get("password", "")
        now = _now()
        with _db().session() as s:
            # One login at a time: the throttle's counters are read, then written.
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOGIN_LOCK})
            allowed = throttle.reserve(s, name, client_address(), now)
            account = accounts.login(s, name, password) if allowed else None
            if account is not None:
                throttle.succeeded(s, name, client_address(), now)
                session.clear()
                session[SESSION_KEY] = accounts.start_session(s, account, now)
        if account is not None:
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("pages.sites"))
        if not allowed:
            error = "too many wrong passwords from here: wait a few minutes and try again"
            return render_template("login.html", error=error), 429
        error = "wrong name or password"
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    """End this session."""
    with _db().session() as s:
        accounts.end_session(s, session.get(SESSION_KEY, ""), _now())
    session.clear()
    return redirect(url_for("pages.login"))


@bp.get("/")
def sites():
    """The sites, a page at a time by name: online or offline, clock trust, last event,
    the chain (``?after=NAME`` turns the page)."""
    after = request.args.get("after") or None
    with _db().session() as s:
        rows = overview.site_rows(
            s,
            g.visible,
            _now(),
            current_app.config["HUB_OFFLINE_AFTER"],
            after=after,
            limit=SITES_PAGE + 1,
        )
    more = len(rows) > SITES_PAGE
    rows = rows[:SITES_PAGE]
    return render_template(
        "sites.html", rows=rows, later=rows[-1].name if more else None, paged=after is not None
    )


@bp.get("/alerts")
def alerts():
    """Open alerts across the sites: the hub's own and the sites' safety alerts, a page
    of sites at a time (``?after=NAME`` turns the page)."""
    after = request.args.get("after") or None
    with _db().session() as s:
        rows, later = overview.open_alerts(s, g.visible, after=after, limit=ALERT_SITES_PAGE)
    return render_template("alerts.html", rows=rows, later=later, paged=after is not None)


@bp.get("/overrides")
def overrides():
    """Overrides (grants, releases, on-the-spot approvals) across sites, with filters."""
    site_name = request.args.get("site") or None
    kind = request.args.get("kind") or None
    if kind is not None and kind not in overview.OVERRIDE_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(overview.OVERRIDE_KINDS)}")
    since, until = day_arg("since"), day_arg("until")
    before = _override_key(request.args.get("before"))
    with _db().session() as s:
        site_id = require_site(accounts.find_site(s, site_name)).id if site_name else None
        rows = overview.overrides(
            s,
            g.visible,
            site_id=site_id,
            kind=kind,
            since=since.isoformat() if since else None,
            until=(until + timedelta(days=1)).isoformat() if until else None,
            before=before,
            limit=OVERRIDES_PAGE + 1,
        )
        names = overview.site_names(s, g.visible)
        older = None
        if len(rows) > OVERRIDES_PAGE:
            rows = rows[:OVERRIDES_PAGE]
            last = rows[-1][1]
            older = f"{last.ts}~{last.site_id}~{last.seq}"
        rows = event_rows.override_rows(s, rows)
    return render_template(
        "overrides.html",
        rows=rows,
        older=older,
        names=names,
        kinds=[(kind, event_words(kind)) for kind in overview.OVERRIDE_KINDS],
        chosen={"site": site_name, "kind": kind, "since": since, "until": until},
    )


def _override_key(raw: str | None) -> tuple[str, int, int] | None:
    """The overrides page's ``before`` (``TS~SITE~ID``, as its "Older" link writes it)."""
    if not raw:
        return None
    try:
        ts, site_id, seq = raw.split("~")
        return ts, int(site_id), int(seq)
    except ValueError:
        raise InvalidRequest(
            f"before must be TIME~SITE~ID as the Older link gives, not {raw!r}"
        ) from None


def day_arg(name: str) -> date | None:
    """Query argument ``name`` as a date (``YYYY-MM-DD``), ``None`` if absent; a clear 400 else."""
    raw = request.args.get(name) or ""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date as YYYY-MM-DD, not {raw!r}") from None


@bp.get("/sites/<name>")
def site(name: str):
    """One site, read-only: its last status snapshot and its shipped log, newest first."""
    before = request.args.get("before")
    try:
        before_id = int(before) if before else None
    except ValueError:
        raise InvalidRequest(f"before must be an event id, not {before!r}") from None
    with _db().session() as s:
        row = require_site(accounts.find_site(s, name))
        events = overview.events_before(s, row.id, before_id, LOG_PAGE)
        shown = event_rows.log_rows(s, row, events)
        timezone = site_tz(row).key
    return render_template(
        "site.html",
        site=row,
        snapshot=row.snapshot or {},
        events=shown,
        timezone=timezone,
        state_words=state_words,
        older=events[-1].seq if len(events) == LOG_PAGE else None,
    )
