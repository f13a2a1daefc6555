"""The hub's report pages: a site's day, the weekly group report, acknowledging alerts."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from hub import accounts, alerts, site_report, week_report
from hub.pages import day_arg
from hub.security import require_admin, require_site
from hub.shifts import site_tz
from locker.errors import InvalidRequest

bp = Blueprint("reports", __name__)
#: The longest note a group admin may leave on an acknowledged alert.
MAX_NOTE = 500


def _db():
    return current_app.config["HUB_DB"]


def _now():
    return current_app.config["HUB_NOW"]()


@bp.get("/sites/<name>/report")
def site_day(name: str):
    """A site's daily report rebuilt from its shipped events (``?day=YYYY-MM-DD``)."""
    now = _now()
    with _db().session() as s:
        site = require_site(accounts.find_site(s, name))
        day = day_arg("day") or now.astimezone(site_tz(site)).date()
        report = site_report.day_report(s, site, day, now)
    return render_template("site_report.html", report=report)


def _week() -> date:
    return week_report.week_of(day_arg("week") or _now().date())


@bp.get("/reports/week")
def week():
    """The weekly group report, printable (``?week=`` any day of the week)."""
    monday = _week()
    with _db().session() as s:
        rows = week_report.group_week(s, g.visible, monday, _now())
    return render_template(
        "week.html",
        rows=rows,
        monday=monday,
        sunday=monday.fromordinal(monday.toordinal() + 6),
        previous=monday.fromordinal(monday.toordinal() - 7),
        next=monday.fromordinal(monday.toordinal() + 7),
        reasons_text=week_report.reasons_text,
        alerts_text=week_report.alerts_text,
    )


@bp.get("/reports/week.csv")
def week_csv():
    """The weekly group report as CSV, one line a site."""
    monday = _week()
    with _db().session() as s:
        rows = week_report.group_week(s, g.visible, monday, _now())
    return Response(
        week_report.week_csv(rows, monday),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="group-week-{monday}.csv"'},
    )


@bp.post("/alerts/<int:alert_id>/acknowledge")
def acknowledge(alert_id: int):
    """A group admin acknowledges a site's chain alert, with a note of what was found."""
    require_admin()
    note = (request.form.get("note") or "").strip()
    if not note:
        raise InvalidRequest("say what was checked: a note is needed to acknowledge the alert")
    if len(note) > MAX_NOTE:
        raise InvalidRequest(f"the note is at most {MAX_NOTE} characters, not {len(note)}")
    with _db().session() as s:
        alerts.acknowledge(s, alert_id, g.account.name, note, _now())
    return redirect(url_for("pages.alerts"))
