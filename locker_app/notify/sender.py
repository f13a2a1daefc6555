"""The outbox sender: each message to each destination that wants it, at least once.

A message is sent to every destination the policy names; each acceptance is
committed (with its ``notify.sent`` entry) before the next destination is
tried, so a restart sends again only what no commit recorded: at most the one
acceptance a crash cut off, once more. A duplicate alert beats a lost one, so
nothing is marked sent before the service has taken it (docs/events.md). A
destination that fails is retried with a growing pause (``notify.failed``
each time, with the destination's name and the error, never its URL) until
``notify.retry_for_h`` has passed; a message about an operational alert waits
out the quiet hours first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from locker import events as ev
from locker.config import Config
from locker.db import Database
from locker.decisions import LogEntry
from locker.log import append
from locker.models import Alert, NotifyMessage, Person
from locker.notify_policy import Destination
from locker_app.notify.channel import AppriseChannel, SendError
from web.words import ALERT_WORDS

#: Seconds before the 1st, 2nd, ... retry; after the last, every last one.
BACKOFF_S = (30, 60, 120, 300, 600)
#: Messages looked at in one pass.
BATCH = 50
#: Who the log says did it.
ACTOR = "notify"
ALERT_TOPICS = frozenset({ev.ALERT_RAISED, ev.ALERT_RESOLVED})


def backoff(attempts: int) -> timedelta:
    """The pause after the ``attempts``-th failed try."""
    return timedelta(seconds=BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1])


class Sender:
    """Drains the outbox; ``run_once`` is one pass (the worker thread repeats it)."""

    def __init__(
        self, config: Config, db: Database, channel: AppriseChannel, now: Callable[[], datetime]
    ):
        self.config = config
        self.db = db
        self.channel = channel
        self.now = now

    def run_once(self) -> int:
        """Try every message that is due; returns how many there were."""
        with self.db.read() as session:
            due = list(
                session.scalars(
                    select(NotifyMessage.id)
                    .where(
                        NotifyMessage.finished_at.is_(None),
                        NotifyMessage.next_attempt_at <= self.now(),
                    )
                    .order_by(NotifyMessage.id)
                    .limit(BATCH)
                )
            )
        for message_id in due:
            self.deliver(message_id)
        return len(due)

    def deliver(self, message_id: int) -> None:
        """Send message ``message_id`` to the destinations it has not reached yet."""
        notify = self.config.notify
        with self.db.read() as session:
            message = session.get(NotifyMessage, message_id)
            if message is None or message.finished_at is not None:
                return
            subject, body = self.words(session, message)
        now = self.now()
        quiet = None
        if message.topic in ALERT_TOPICS:
            quiet = notify.quiet_until(message.alert, now, self.config.tz)
        if quiet is not None:
            self._update(message_id, lambda row: setattr(row, "next_attempt_at", quiet))
            return
        recipients = notify.recipients(message.topic, message.alert, message.destination)
        pending = [d for d in recipients if d.name not in message.delivered]
        failures: list[tuple[Destination, str]] = []
        for dest in pending:
            try:
                self.channel.send(dest, subject, body)
            except SendError as exc:
                failures.append((dest, str(exc)))
            else:
                self._sent(message_id, dest)
        self._settle(message_id, failures, nowhere=not recipients)

    def _sent(self, message_id: int, dest: Destination) -> None:
        now = self.now()
        with self.db.write() as session:
            row = session.get(NotifyMessage, message_id)
            row.delivered = [*row.delivered, dest.name]
            append(session, LogEntry(ev.NOTIFY_SENT, ACTOR, details=_about(row, dest)), now)
            session.commit()

    def _settle(
        self, message_id: int, failures: list[tuple[Destination, str]], *, nowhere: bool
    ) -> None:
        now = self.now()
        with self.db.write() as session:
            row = session.get(NotifyMessage, message_id)
            if not failures:
                row.finished_at, row.outcome = now, "nowhere" if nowhere else "sent"
                session.commit()
                return
            row.attempts += 1
            row.last_error = "; ".join(f"{d.name}: {why}" for d, why in failures)
            late = now - row.created_at > timedelta(hours=self.config.notify.retry_for_h)
            if late:
                row.finished_at, row.outcome = now, "gave_up"
            else:
                row.next_attempt_at = now + backoff(row.attempts)
            for dest, why in failures:
                details = {
                    **_about(row, dest),
                    "error": why,
                    "attempt": row.attempts,
                    "retry_at": None if late else row.next_attempt_at.isoformat(),
                }
                append(session, LogEntry(ev.NOTIFY_FAILED, ACTOR, details=details), now)
            session.commit()

    def _update(self, message_id: int, change: Callable[[NotifyMessage], None]) -> None:
        with self.db.write() as session:
            change(session.get(NotifyMessage, message_id))
            session.commit()

    def words(self, session, message: NotifyMessage) -> tuple[str, str]:
        """The subject and body of ``message``: as written, or worded from its alert."""
        site = self.config.site_name
        if message.alert_id is None:
            return f"[{site}] {message.subject}", message.body
        alert = session.get(Alert, message.alert_id)
        what = ALERT_WORDS.get(message.alert or "", (message.alert or "alert").replace("_", " "))
        where = f" (slot {alert.slot})" if alert is not None and alert.slot is not None else ""
        person = session.get(Person, alert.person_id) if alert and alert.person_id else None
        lines = []
        if message.topic == ev.ALERT_RESOLVED:
            subject = f"[{site}] Resolved: {what}{where}"
            why = alert.resolved_why if alert is not None else ""
            lines.append(f"Resolved at {self._local(message.created_at)}: {why}.")
        else:
            subject = f"[{site}] {what}{where}"
            lines.append(f"Raised at {self._local(message.created_at)}.")
        if alert is not None:
            lines.append(str(alert.details.get("message", "")))
        if person is not None:
            lines.append(f"Person: {person.name}")
        if self.config.notify.panel_url:
            lines.append(f"Panel: {self.config.notify.panel_url.rstrip('/')}/")
        return subject, "\n".join(line for line in lines if line)

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.config.tz).strftime("%H:%M on %a %d %b")


def _about(row: NotifyMessage, dest: Destination) -> dict:
    """What a ``notify.*`` entry says about the message (the destination by name only)."""
    return {
        "destination": dest.name,
        "message_id": row.id,
        "topic": row.topic,
        "alert": row.alert,
        "alert_id": row.alert_id,
    }
