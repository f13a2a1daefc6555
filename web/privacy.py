"""A person's privacy page: what is held about them, their access request, hold and leaving.

The page (``/people/<id>``) says in plain words what the locker holds about
one person and offers a manager the three things data protection asks of
the nursery: download everything held (a subject access request, answered
within a month), put a legal hold on (or release it), and forget a leaver.
The core does the work (:mod:`locker.subject_access`, :mod:`locker.privacy`).

Looking is logged too (:mod:`locker.access_log`): this page, the log, its
downloads and the daily report each write ``data.viewed`` (once a day per
account and page kind; a download every time). :func:`init_app` registers
that for the other blueprints' views in one table, :data:`WATCHED`, so their
modules stay as they were.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from locker.access_log import EVERY_TIME, record_view, viewed_since
from locker.errors import InvalidRequest, PersonHasDevice, PersonOnHold
from locker.log.personal import pseudonym
from locker.privacy import HOLD_REASON_MAX, forget_person, holds, set_hold, wipe_free_pages
from locker.rota import day_bounds
from locker.subject_access import collect, file_name, held_counts, record_export, zip_bytes
from locker.subject_access_page import notice_for
from web import reauth, uids
from web.context import controller_now, daemon_state, get_config, get_db, local_day
from web.errors import RETRY_AFTER_S
from web.people import flash_done, person_or_404, reload_roster, require_acting
from web.security import uses_api
from web.words import HELD_WORDS, PRIVACY_WORDS, role_words

bp = Blueprint("privacy", __name__)

#: Seconds a download waits for the write lock before it is refused as unrecordable.
WRITE_PROBE_S = 2.0
# Where the app keeps the views known to be on record today (_views_on_record).
_ON_RECORD = "locker.views_on_record"
#: Views of other blueprints that show personal data: endpoint → ``data.viewed`` what.
#: (A person's own page, ``privacy.person``, is watched too, with the person's id.)
WATCHED = {
    "log.index": "log",
    "log.overrides": "log",
    "log.export": "log_export",
    "report.index": "report",
    "api.events": "api_events",
}


def log_view(
    session: Session, what: str, person_id: int | None = None, *, actor: str | None = None
) -> None:
    """Record that ``actor`` (default: the logged-in account) viewed ``what``.

    Once a day per account, page kind and person; a download every time.
    """
    now, start = _moment_and_day_start()
    record_view(
        session,
        actor=actor or current_user.username,
        what=what,
        at=now,
        day_start=start,
        person_id=person_id,
    )


def _log_watched_view(response: Response) -> Response:
    """After a watched view answered 200: log who looked (see the module's docstring).

    A page is logged once it is made, so the log page does not open on the
    viewer's own visit; a download once it has been sent (its rows are read
    while it streams), so it does not carry its own record.

    The rule for a view that cannot be recorded (a storage fault) is one for
    every watched page: it is **refused**, in words, with a 503 that asks to
    try again (:func:`unrecorded`). An access log that misses exactly the views
    made while it was failing cannot answer "who has seen my records?", so
    personal data is shown only once its view is on record; a second look the
    same day is on record already and is shown (a read decides it). The
    status page, which runs the locker, is not watched and keeps working. A
    download's record is written after it is sent: the log is first checked to
    take a write, and a failure after that is left to the panel's journal.
    """
    watched = _watched()
    if watched is None or response.status_code != 200 or not current_user.is_authenticated:
        return response
    what, person_id = watched
    account = current_user.username
    app = current_app._get_current_object()
    if response.is_streamed:
        if not get_db().can_write(WRITE_PROBE_S):
            response.close()
            return unrecorded()
        response.call_on_close(lambda: _record(app, account, what, person_id))
    elif not _record(app, account, what, person_id):
        return unrecorded()
    return response


def _watched() -> tuple[str, int | None] | None:
    """What the current request views (``data.viewed``'s what, and about whom), if watched."""
    endpoint = request.endpoint or ""
    if endpoint == "privacy.person":
        return "person", (request.view_args or {}).get("person_id")
    what = WATCHED.get(endpoint)
    return None if what is None else (what, None)


def unrecorded() -> Response:
    """The refusal of a view that cannot be recorded: 503, in words, JSON for the API."""
    message = PRIVACY_WORDS["view_not_recorded"]
    if uses_api():
        answer = jsonify(error=message)
    else:
        answer = current_app.make_response(render_template("error.html", code=503, message=message))
    answer.status_code = 503
    answer.headers["Retry-After"] = str(RETRY_AFTER_S)
    return answer


def _moment_and_day_start() -> tuple[datetime, datetime]:
    """The controller's time now and when its local day began."""
    now = controller_now(daemon_state())
    start, _ = day_bounds(local_day(now), get_config().tz)
    return now, start


def _record(app: Flask, account: str, what: str, person_id: int | None = None) -> bool:
    """Put ``account``'s view on record (unless it is already, today); whether it is."""
    with app.app_context():
        _, start = _moment_and_day_start()
        view = (account, what, person_id)
        on_record = _views_on_record(app, start)
        if view in on_record:
            return True
        try:
            # Most views are a second look the same day: a read answers that
            # without taking the write lock the daemon's badge commits need.
            with get_db().read() as session:
                if viewed_since(
                    session, actor=account, what=what, since=start, person_id=person_id
                ):
                    on_record.add(view)
                    return True
            with get_db().write() as session:
                log_view(session, what, person_id, actor=account)
                session.commit()
        except (SQLAlchemyError, sqlite3.DatabaseError) as exc:
            app.logger.warning("data.viewed not logged (%s by %s): %s", what, account, exc)
            return False
        if what not in EVERY_TIME:
            on_record.add(view)
        return True


def _views_on_record(app: Flask, day_start: datetime) -> set[tuple[str, str, int | None]]:
    """The views this process knows are on record since ``day_start``.

    Each is ``(account, what, person id)``. A view once on record stays there
    (the log is only appended to, and a purge takes days long past), so a
    second look the same day asks the database nothing: every watched page was
    paying a session and a query for it. The set starts again empty when the
    day changes.
    """
    day, views = app.extensions.get(_ON_RECORD, (None, set()))
    if day != day_start:
        day, views = app.extensions[_ON_RECORD] = (day_start, set())
    return views


def init_app(app: Flask) -> None:
    """Log views of the watched pages of other blueprints."""
    app.after_request(_log_watched_view)


def _summary(session: Session, person_id: int) -> dict:
    person = person_or_404(session, person_id)
    counts = held_counts(session, person.id)
    return {
        "id": person.id,
        "name": person.name,
        "hold": holds(session).get(person.id),
        "role_text": role_words(person.role),
        "active": person.active,
        "badges": [
            {"uid": uids.shown(b.uid), "revoked": b.revoked_at is not None} for b in person.badges
        ],
        "held": [(HELD_WORDS[name], counts[name]) for name in HELD_WORDS if name in counts],
    }


def _person_page(person_id: int, *, error: str = "", reason: str = "", status: int = 200):
    # Read only: a 200 is put on record after it is made (_log_watched_view).
    with get_db().read() as session:
        info = _summary(session, person_id)
    page = render_template(
        "people_privacy.html",
        person=info,
        words=PRIVACY_WORDS,
        error=error,
        reason=reason,
        max_reason=HOLD_REASON_MAX,
    )
    return page, status


@bp.get("/people/<int:person_id>")
def person(person_id: int):
    """What the locker holds about one person, and the privacy actions (logged as viewed)."""
    return _person_page(person_id)


@bp.post("/people/<int:person_id>/hold")
def hold(person_id: int):
    """Put a legal hold on the person (with a reason) or release it; logged as ``person.hold``."""
    action = request.form.get("hold")
    if action not in ("on", "release"):
        raise BadRequest("hold must be on or release")
    reason = request.form.get("reason", "")[: HOLD_REASON_MAX * 4]
    with get_db().write() as session:
        person_or_404(session, person_id)
        try:
            set_hold(
                session,
                person_id,
                reason=reason,
                actor=current_user.username,
                at=controller_now(daemon_state(session)),
                release=action == "release",
            )
        except InvalidRequest as exc:
            error = str(exc).replace(" (--reason TEXT)", "")
        else:
            session.commit()
            error = ""
    if error:
        return _person_page(person_id, error=error, reason=reason, status=400)
    done = PRIVACY_WORDS["hold_done" if action == "on" else "release_done"]
    flash(done, "success")
    return redirect(url_for(".person", person_id=person_id))


def _forget_page(person_id: int, *, error: str = "", status: int = 200):
    with get_db().read() as session:
        info = _summary(session, person_id)
    page = render_template("people_forget.html", person=info, words=PRIVACY_WORDS, error=error)
    return page, status


@bp.get("/people/<int:person_id>/forget")
def confirm_forget(person_id: int):
    """Ask before forgetting a leaver: it cannot be undone, and the password is asked again."""
    require_acting()
    return _forget_page(person_id)


@bp.post("/people/<int:person_id>/forget")
def forget(person_id: int):
    """Forget a leaver (badges revoked, name and card numbers erased); logged."""
    if request.form.get("confirm") != "yes":
        return _forget_page(person_id, error=PRIVACY_WORDS["tick_to_confirm"], status=400)
    password = request.form.get("password", "")[: reauth.MAX_PASSWORD]
    if not password:
        # Erasure cannot be undone: a password typed minutes ago does not cover it.
        return _forget_page(person_id, error=PRIVACY_WORDS["password_needed"], status=403)
    try:
        reauth.require(password, "forget a person")
    except reauth.WrongPassword:
        return _forget_page(person_id, error=PRIVACY_WORDS["password_wrong"], status=403)
    db = get_db()
    with db.write() as session:
        name = person_or_404(session, person_id).name
        try:
            forget_person(
                session,
                person_id,
                actor=current_user.username,
                at=controller_now(daemon_state(session)),
            )
        except (PersonOnHold, PersonHasDevice) as exc:
            error = str(exc)
        else:
            session.commit()
            error = ""
    if error:
        return _forget_page(person_id, error=error, status=409)
    wipe_free_pages(db.engine)
    flash_done(
        PRIVACY_WORDS["forgotten"].format(name=name, alias=pseudonym(person_id)),
        reload_roster(),
    )
    return redirect(url_for("people.index"))


@bp.get("/people/<int:person_id>/export.zip")
def export(person_id: int):
    """Download everything held about the person (an access request); logged."""
    require_acting()
    with get_db().write() as session:
        person_or_404(session, person_id)
        now: datetime = controller_now(daemon_state(session))
        data = collect(session, person_id, notice=notice_for(get_config()), at=now)
        body = zip_bytes(data)
        record_export(session, person_id, actor=current_user.username, via="panel", at=now)
        session.commit()
    return Response(
        body,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(data)}"',
            "Cache-Control": "no-store",
        },
    )
