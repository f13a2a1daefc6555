"""The readable side of a subject access export: the notice and ``summary.html``.

The summary is one self-contained HTML page (its own styles, no script, no
link out) that prints on A4 from any browser: who holds the data and why, who
receives it, how long it is kept, the person's rights, then the records
themselves in tables. The JSON files beside it in the ZIP hold the same rows
in full, for a machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from locker.config import Config


@dataclass(frozen=True)
class Notice:
    """What the summary tells the person besides their data (articles 13 and 15)."""

    site_name: str
    #: Why the data is held, one purpose a line.
    purposes: tuple[str, ...]
    #: Who receives it (besides the nursery's own managers).
    recipients: tuple[str, ...]
    #: ``(what, how long and why)`` pairs.
    retention: tuple[tuple[str, str], ...]
    lawful_basis: str = (
        "Legal obligation: the EYFS statutory framework requires a safeguarding policy "
        "covering staff's mobile phones and cameras; and legitimate interests: keeping a "
        "reliable record of who held which device, for the children's safety and for "
        "inspections."
    )


@dataclass
class SubjectData:
    """Everything held about one person: ``records`` maps a file name to its rows."""

    person_id: int
    name: str
    made_at: datetime
    notice: Notice
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


#: Why the locker holds personal data (docs/privacy.md says the same, at length).
PURPOSES = (
    "Keeping staff's phones, smartwatches and other camera devices away from the children "
    "during the working day, as the nursery's safeguarding policy requires (EYFS).",
    "Giving devices back on breaks, at the end of the shift and when a manager approves it.",
    "Keeping a tamper-evident record of who held which device when, for safeguarding "
    "investigations and for inspectors (Ofsted).",
    "Keeping the locker and the manager's panel secure (badges, logins, alerts).",
)

#: Headings of the record tables in the summary, by file name; others are titled
#: from their name, so a table added later still shows.
SECTION_TITLES = {
    "person": "Your details",
    "badges": "Your badges (RFID cards)",
    "shifts": "Your shifts",
    "breaks": "Your breaks",
    "custody": "Your devices in the locker",
    "grants": "Releases approved for you",
    "alerts": "Alerts about you",
    "slots": "The slot you are using now",
    "events": "Log events about you",
    "panel_accounts": "Your panel accounts",
    "panel_sessions": "Your panel logins",
    "api_tokens": "Your API tokens",
    "panel_events": "Your panel logins and what your accounts did",
}


def notice_for(config: Config, retention: tuple[tuple[str, str], ...] = ()) -> Notice:
    """The notice for this site: purposes, recipients from the config, retention.

    ``retention`` lists ``(what, how long)``; empty means the log's one period.
    """
    recipients = [
        "The nursery's managers and deputies, and the administrators of the panel.",
        "Inspectors (Ofsted) and, in a safeguarding investigation, the local authority's "
        "designated officer (LADO) or the police, when they ask for it.",
    ]
    for destination in config.notify.destinations:
        recipients.append(
            f"Alert messages to the notification destination '{destination.name}' "
            "(they name the slot and may name the person)."
        )
    if config.hub.url:
        host = urlsplit(config.hub.url).hostname or config.hub.url
        recipients.append(
            f"The group's hub at {host}: a copy of the event log, for the group's managers."
        )
    if not retention:
        retention = retention_rows(config)
    return Notice(config.site_name, PURPOSES, tuple(recipients), retention)


def retention_rows(config: Config) -> tuple[tuple[str, str], ...]:
    """``(what, how long)`` for each category of ``[retention]``, in a person's words."""
    kept = config.retention
    return (
        (
            "Badge, slot, deposit and release events, your devices' stays in the locker, "
            "releases approved for you",
            f"{kept.custody_days} days",
        ),
        ("Alerts", f"{kept.alerts_days} days"),
        ("Shifts and breaks from the rota", f"{kept.shifts_days} days"),
        ("Panel logins, logouts and panel sessions", f"{kept.login_days} days"),
        ("Notification messages", f"{kept.notifications_days} days after they are sent"),
        ("Other log events", f"{config.retention_days} days"),
        (
            "Your name, badges and personal details",
            "While you work here; erased when you leave (only a number stays in the log), "
            "unless a legal hold is on",
        ),
    )


def summary_html(data: SubjectData) -> str:
    """The printable summary page of ``data``."""
    notice = data.notice
    title = f"What {notice.site_name} holds about {data.name}"
    parts = [
        "<!doctype html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Made on {escape(data.made_at.strftime('%d %B %Y at %H:%M UTC'))}, "
        f"in answer to a subject access request (UK GDPR, article 15). "
        f"Person number {data.person_id}.</p>",
        "<h2>Why we hold it</h2>",
        _list(notice.purposes),
        f"<p><strong>Lawful basis.</strong> {escape(notice.lawful_basis)}</p>",
        "<h2>Who receives it</h2>",
        _list(notice.recipients),
        "<h2>How long we keep it</h2>",
        _table(["What", "Kept"], list(notice.retention)),
        "<h2>Your rights</h2>",
        "<p>You may ask for a copy of this data (this is one), for mistakes to be "
        "corrected, and for data to be erased when there is no reason left to keep it "
        "(a safeguarding record or an investigation may be such a reason). You may "
        "complain to the Information Commissioner's Office (ico.org.uk, 0303 123 1113).</p>",
        "<h2>The records</h2>",
        "<p>Each table below is also in the ZIP as a JSON file of the same name, "
        "with every field. Times are UTC.</p>",
    ]
    for name, rows in data.records.items():
        parts.append(_section(name, rows))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(name: str, rows: list[dict[str, Any]]) -> str:
    heading = SECTION_TITLES.get(name) or name.replace("_", " ").capitalize()
    head = f'<h3 id="{escape(name)}">{escape(heading)} <small>({escape(name)}.json)</small></h3>'
    if not rows:
        return head + "\n<p>None.</p>"
    columns = list(rows[0])
    body = [[_cell(row.get(column)) for column in columns] for row in rows]
    return head + "\n" + _table(columns, body)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _list(items: tuple[str, ...]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _table(header: list[str], rows: list[Any]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font:11pt/1.4 system-ui,sans-serif;margin:2em;max-width:60em}"
    "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em;font-size:9pt}"
    "th,td{border:1px solid #999;padding:.2em .4em;text-align:left;vertical-align:top;"
    "word-break:break-word}"
    "th{background:#eee}h3 small{font-weight:normal;color:#555}"
    "@media print{body{margin:0}h2,h3{break-after:avoid}tr{break-inside:avoid}}"
)
