"""The daily summary at closing: the day's alerts, overrides and who never deposited,
by e-mail (the destinations in ``notify.summary_to``) with a link to the report."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.alerts import queue_message
from locker.config import Config
from locker.log import format_ts, parse_ts
from locker.log.personal import shown_events
from locker.models import Alert, Event, NotifyMessage, Person
from locker.rota import shifts_on
from web.log_rows import kind_text
from web.words import ALERT_WORDS

TOPIC = "summary"


def closing_moment(config: Config, day: date) -> datetime:
    """Closing time on local ``day``, aware."""
    return datetime.combine(day, config.rules.closing, tzinfo=config.tz)


def summary_due(session: Session, config: Config, now: datetime) -> date | None:
    """The local day whose summary is due at ``now`` (past closing, not yet queued)."""
    if not config.notify.summary_to:
        return None
    day = now.astimezone(config.tz).date()
    closing = closing_moment(config, day)
    if now < closing:
        return None
    queued = session.scalar(
        select(NotifyMessage.id).where(
            NotifyMessage.topic == TOPIC, NotifyMessage.created_at >= closing
        )
    )
    return None if queued else day


def queue_summary(session: Session, config: Config, day: date, now: datetime) -> NotifyMessage:
    """Write the summary of ``day`` and put it in the outbox; the caller commits."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=config.tz)
    end = start + timedelta(days=1)
    names = {p.id: p.name for p in session.scalars(select(Person))}
    tz = config.tz
    alerts = session.scalars(
        select(Alert).where(Alert.raised_at >= start, Alert.raised_at < end).order_by(Alert.id)
    ).all()
    overrides = session.scalars(
        select(Event)
        .where(
            Event.kind.in_(ev.OVERRIDE_KINDS),
            Event.ts >= format_ts(start),
            Event.ts < format_ts(end),
        )
        .order_by(Event.id)
    ).all()
    deposited = set(
        session.scalars(
            select(Event.person_id).where(
                Event.kind == ev.DEPOSIT_CONFIRMED,
                Event.ts >= format_ts(start),
                Event.ts < format_ts(end),
            )
        )
    )
    never = sorted(
        names[s.person_id] for s in shifts_on(session, day) if s.person_id not in deposited
    )
    lines = [f"{config.site_name}: the day at the locker, {day:%A %d %B %Y}.", ""]
    lines.append(f"Alerts ({len(alerts)}):")
    for a in alerts:
        what = ALERT_WORDS.get(a.alert, a.alert)
        who = f", {names.get(a.person_id, '?')}" if a.person_id else ""
        where = f", slot {a.slot}" if a.slot is not None else ""
        state = " (resolved)" if a.resolved_at else ""
        lines.append(f"  {a.raised_at.astimezone(tz):%H:%M} {what}{where}{who}{state}")
    lines += ["", f"Overrides ({len(overrides)}):"]
    for e in shown_events(session, list(overrides)):
        who = f" for {names.get(e.person_id, '?')}" if e.person_id else ""
        moment = parse_ts(e.ts).astimezone(tz)
        lines.append(f"  {moment:%H:%M} {kind_text(e.kind)}{who} by {e.actor}")
    lines += ["", f"On the rota and never deposited a device ({len(never)}):"]
    lines += [f"  {name}" for name in never] or ["  nobody"]
    if config.notify.panel_url:
        lines += ["", f"The day's report: {config.notify.panel_url.rstrip('/')}/report?day={day}"]
    subject = f"Daily summary, {day:%a %d %b}"
    return queue_message(session, TOPIC, subject, "\n".join(lines), now, None)
