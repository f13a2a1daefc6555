"""The controller: the custody rules bound to the database.

Each input is decided by :class:`~locker.custody.CustodyRules`, every log
entry, alert and slot change of the decision is committed in one write
transaction, and only then are the outputs (:class:`Unlock`, :class:`Lock`,
:class:`Signal`, :class:`SlowReader`) handed back for the daemon to drive. If the commit fails,
nothing is driven and the rules are reloaded from what is stored. Loading and
saving the rules' state is :mod:`locker.rules_store`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.alert_lifecycle import TIMED_CHECK_S, resolve_ended, resolve_storage
from locker.clock import Clock, Instant
from locker.commands import CommandKind, CommandStatus, age_s, opens_a_slot, too_old
from locker.config import Config
from locker.custody import CustodyRules
from locker.db import Database
from locker.decisions import (
    GrantCreated,
    GrantInfo,
    LogEntry,
    Outcome,
    RaiseAlert,
    ReleaseAll,
    ReleaseSlot,
    SensorReading,
    SignInVisitor,
    SignOutVisitor,
    StockSettingSlot,
    Tick,
)
from locker.errors import InvalidRequest, LockerError, NotFound
from locker.events import GRANT_REASONS
from locker.log import append, format_ts
from locker.models import Command, Grant, Person
from locker.people import load_roster
from locker.privacy import GRANT_NOTE_MAX
from locker.rules_store import (
    Output,
    alert_world,
    load_rules,
    persist,
    stopped_cleanly,
    store_alert,
    sync_slots,
)


class Controller:
    """Owns the rules for one bank and keeps the database in step with them."""

    def __init__(self, config: Config, db: Database, clock: Clock):
        self.config = config
        self.db = db
        self.clock = clock
        self.rules: CustodyRules | None = None
        self.roster_day: date | None = None
        #: While true, every log entry is marked ``recorded_late`` (a storage fault's catch-up).
        self.late = False
        #: Monotonic time of the last quiet-tick look for alerts that ended with time.
        self.timed_check_at = float("-inf")

    # ------------------------------------------------------------ lifecycle

    def start(self, sensors: dict[int, SensorReading]) -> list[Output]:
        """Load the stored state, reconcile it with ``sensors`` and log the start.

        ``system.started`` says whether the previous run stopped cleanly (its
        last word was ``system.stopped``) or ended in a crash, a kill or a power cut.
        """
        now = self.clock.read()
        with self.db.write() as session:
            sync_slots(session, self.config, now.wall)
            self.rules = self._load_rules(session, now)
            outcome = self.rules.start(sensors, now, clean_stop=stopped_cleanly(session))
            outputs = persist(session, self.rules, outcome, now, late=self.late)
            session.commit()
        return outputs

    def stop(self, reason: str = "stopped") -> None:
        """Log ``system.stopped``."""
        now = self.clock.read()
        with self.db.write() as session:
            append(
                session, LogEntry(ev.SYSTEM_STOPPED, "daemon", details={"reason": reason}), now.wall
            )
            session.commit()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has loaded the rules (it may not have, if storage failed)."""
        return self.rules is not None

    def knows_badge(self, uid: str) -> bool:
        """Whether ``uid`` is an enrolled badge (for the panel's "present a card" enrolment)."""
        return self.rules is not None and uid in self.rules.roster.badges

    @property
    def clock_trusted(self) -> bool:
        """Whether schedule releases may run (the clock is synchronised and did not jump)."""
        return self.rules is not None and self.rules.clock_trusted

    @contextmanager
    def recording_late(self) -> Iterator[None]:
        """Mark every entry logged inside as ``recorded_late`` (after a storage fault)."""
        self.late = True
        try:
            yield
        finally:
            self.late = False

    def record_storage_alert(self, error: str, since: datetime) -> None:
        """Raise the ``storage`` alert for a fault that began at ``since``; commits."""
        message = (
            "The locker could not write to its database "
            f"({error}). Every slot stayed locked and badges were refused meanwhile."
        )
        details = {"error": error, "since": format_ts(since)}
        with self.db.write() as session:
            store_alert(session, RaiseAlert(ev.ALERT_STORAGE, message, details=details), since)
            session.commit()

    def record_storage_recovered(self, summary: dict[str, Any]) -> None:
        """Log ``storage.recovered`` with what the fault held back; commits."""
        now = self.clock.now()
        with self.db.write() as session:
            append(session, LogEntry(ev.STORAGE_RECOVERED, "daemon", details=summary), now)
            resolve_storage(session, now)
            session.commit()

    def handle(self, event: object, *, at: Instant | None = None) -> list[Output]:
        """Decide ``event`` (which happened ``at``, default now), commit, return the outputs.

        A decision with nothing to log or store (most ticks) touches no database.
        """
        now = at or self.clock.read()
        outcome = self.rules.handle(event, now)
        if not outcome.effects and not self.rules.dirty and not self._alerts_ended(now):
            return []
        return self._decide(lambda session, rules, now: outcome, now=now)

    def _alerts_ended(self, now: Instant) -> bool:
        """On a quiet tick, every ``TIMED_CHECK_S``: whether an alert's condition ended
        with time (a read; the write only happens when one did)."""
        if now.mono - self.timed_check_at < TIMED_CHECK_S:
            return False
        self.timed_check_at = now.mono
        with self.db.read() as session:
            world = alert_world(self.rules, now)
            return resolve_ended(session, apply=False, **world) > 0

    def reload_roster(self) -> None:
        """Read people, badges and shifts again (after an edit, or a new day)."""
        now = self.clock.read()
        with self.db.read() as session:
            self.rules.set_roster(load_roster(session, self.config.tz, now.wall))
        self.roster_day = now.wall.astimezone(self.config.tz).date()

    def tick(self) -> list[Output]:
        """A tick of the clock; a new local day brings a fresh roster first."""
        today = self.clock.now().astimezone(self.config.tz).date()
        if today != self.roster_day:
            self.reload_roster()
        return self.handle(Tick())

    # ------------------------------------------------------------- commands

    def run_command(self, command_id: int) -> tuple[list[Output], dict[str, Any]]:
        """Carry out a stored :class:`Command`; mark it done or failed with the reason."""
        result: dict[str, Any] = {}

        def decide(session: Session, rules: CustodyRules, now: Instant) -> Outcome:
            command = session.get(Command, command_id)
            if command is None or command.status != CommandStatus.PENDING:
                raise NotFound(f"no pending command {command_id}")
            outcome = self._command(session, rules, command, now)
            command.status = CommandStatus.DONE
            command.result = outcome.result
            command.done_at = now.wall
            result.update(outcome.result)
            return outcome

        try:
            outputs = self._decide(decide)
        except (InvalidRequest, NotFound, LockerError) as exc:
            now = self.clock.now()
            with self.db.write() as session:
                command = session.get(Command, command_id)
                if command is not None and command.status == CommandStatus.PENDING:
                    command.status = CommandStatus.FAILED
                    command.result = {"error": str(exc)}
                    command.done_at = now
                    session.commit()
            return [], {"error": str(exc)}
        return outputs, result

    def expire_if_stale(self, command_id: int, real_now: datetime) -> bool:
        """Expire the pending command if it would open a slot and is too old; True if it did.

        ``real_now`` is real (wall) time, as the command's ``requested_at`` is.
        An expired command is marked ``expired`` with the reason and logged as
        ``command.expired``; nothing is driven. See :mod:`locker.commands`.
        """
        max_age = self.config.commands.max_age_s
        with self.db.read() as session:
            command = session.get(Command, command_id)
            if command is None or command.status != CommandStatus.PENDING:
                return False
            if not opens_a_slot(command.kind, command.payload or {}):
                return False
            requested = command.requested_at
            age = None if requested is None else age_s(requested, real_now)
            if age is not None and not too_old(command.kind, command.payload or {}, age, max_age):
                return False
        now = self.clock.now()
        with self.db.write() as session:
            command = session.get(Command, command_id)
            if command is None or command.status != CommandStatus.PENDING:
                return False
            shown = "unknown" if age is None else f"{age:.0f} s"
            command.status = CommandStatus.EXPIRED
            command.result = {
                "error": f"the request was {shown} old when the controller reached it "
                f"(the limit is {max_age:.0f} s); nothing was opened",
                "age_s": None if age is None else round(age, 1),
            }
            command.done_at = now
            details = {
                "command": command.kind,
                "command_id": command.id,
                "age_s": None if age is None else round(age, 1),
                "max_age_s": max_age,
                "client": command.client,
            }
            append(session, LogEntry(ev.COMMAND_EXPIRED, command.account, details=details), now)
            session.commit()
        return True

    def pending_commands(self) -> list[int]:
        """Ids of commands waiting for the daemon, oldest first."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(Command.id)
                    .where(Command.status == CommandStatus.PENDING)
                    .order_by(Command.id)
                )
            )

    def _command(
        self, session: Session, rules: CustodyRules, command: Command, now: Instant
    ) -> Outcome:
        payload = command.payload or {}
        who = {"account": command.account, "client": command.client}
        kind = command.kind
        if kind == CommandKind.RELOAD:
            rules.set_roster(load_roster(session, self.config.tz, now.wall))
            return Outcome(result={"reloaded": True})
        if kind == CommandKind.GRANT:
            same = self._same_open_now_grant(session, payload, now.wall)
            if same is not None:
                return same
            grant = self._new_grant(session, payload, command, now.wall)
            if grant.person_id not in rules.roster.people:
                rules.set_roster(load_roster(session, self.config.tz, now.wall))
            return rules.handle(GrantCreated(grant), now)
        if kind == CommandKind.RELEASE_SLOT:
            return rules.handle(
                ReleaseSlot(_int(payload, "slot"), _text(payload, "reason"), **who), now
            )
        if kind == CommandKind.RELEASE_ALL:
            if payload.get("confirm") is not True:
                raise InvalidRequest("release-all needs confirm: true")
            return rules.handle(ReleaseAll(_text(payload, "reason"), **who), now)
        if kind == CommandKind.VISITOR_IN:
            slot = payload.get("slot")
            return rules.handle(
                SignInVisitor(_text(payload, "name"), slot=_opt_int(slot, "slot"), **who), now
            )
        if kind == CommandKind.VISITOR_OUT:
            return rules.handle(SignOutVisitor(_int(payload, "slot"), **who), now)
        if kind == CommandKind.STOCK:
            return rules.handle(StockSettingSlot(_int(payload, "slot"), **who), now)
        raise InvalidRequest(f"unknown command {kind!r}")

    def _same_open_now_grant(self, session: Session, payload: dict, at: datetime) -> Outcome | None:
        """The answer of an open-now grant that already opened this person's slot lately.

        A double click, two managers at once, or a retry after the panel timed
        out must not make a second grant: it would wait for the person's next
        badge and release the device again after it went back in.
        """
        if payload.get("open_now") is not True:
            return None
        person_id = payload.get("person_id")
        since = at - timedelta(seconds=self.config.commands.same_grant_s)
        grant = session.scalar(
            select(Grant)
            .where(
                Grant.person_id == person_id,
                Grant.open_now.is_(True),
                Grant.used_at.is_not(None),
                Grant.used_at >= since,
            )
            .order_by(Grant.id.desc())
            .limit(1)
        )
        if grant is None:
            return None
        return Outcome(result={"grant_id": grant.id, "same_grant": True})

    def _new_grant(
        self, session: Session, payload: dict, command: Command, at: datetime
    ) -> GrantInfo:
        person_id = _int(payload, "person_id")
        person = session.get(Person, person_id)
        if person is None or not person.active:
            raise NotFound(f"no active person with id {person_id}")
        reason = payload.get("reason")
        if reason not in GRANT_REASONS:
            raise InvalidRequest(f"reason must be one of {', '.join(GRANT_REASONS)}")
        note = payload.get("note") or ""
        if not isinstance(note, str) or len(note) > GRANT_NOTE_MAX:
            raise InvalidRequest(
                f"note must be text of at most {GRANT_NOTE_MAX} characters (the reason codes "
                "cover the common cases; keep health details out of it)"
            )
        if reason == "other" and not note.strip():
            raise InvalidRequest("a grant for reason 'other' needs a note")
        open_now = payload.get("open_now", False)
        if not isinstance(open_now, bool):
            raise InvalidRequest("open_now must be true or false")
        minutes = _opt_int(payload.get("return_minutes"), "return_minutes")
        if minutes is not None and not 1 <= minutes <= 24 * 60:
            raise InvalidRequest("return_minutes must be between 1 and 1440")
        valid_until = at + timedelta(minutes=self.config.rules.grant_valid_min)
        row = Grant(
            person_id=person_id,
            reason=reason,
            note=note,
            open_now=open_now,
            return_minutes=minutes,
            created_by=command.account,
            client=command.client,
            created_at=at,
            valid_until=valid_until,
        )
        session.add(row)
        session.flush()
        return GrantInfo(
            row.id,
            person_id,
            reason,
            note,
            open_now,
            minutes,
            command.account,
            valid_until,
            command.client,
        )

    # ------------------------------------------------------------ internals

    def _decide(self, decide, *, now: Instant | None = None) -> list[Output]:
        now = now or self.clock.read()
        try:
            with self.db.write() as session:
                outcome = decide(session, self.rules, now)
                outputs = persist(session, self.rules, outcome, now, late=self.late)
                session.commit()
        except (InvalidRequest, NotFound):
            raise
        except Exception:
            # Nothing was committed, so nothing may be driven: go back to what is stored.
            # If even that cannot be read, the caller (the daemon's storage guard)
            # reloads once the database answers again.
            self.reload()
            raise
        return outputs

    def reload(self) -> None:
        """Rebuild the rules from what is stored (after a write that did not commit)."""
        now = self.clock.read()
        with self.db.read() as session:
            rules = self._load_rules(session, now)
        if self.rules is not None:
            rules.keep_clock_of(self.rules)
        self.rules = rules

    def _load_rules(self, session: Session, now: Instant) -> CustodyRules:
        """The rules as stored, and the local day their roster is for."""
        rules = load_rules(session, self.config, now)
        self.roster_day = now.wall.astimezone(self.config.tz).date()
        return rules


def _int(payload: dict, key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{key} must be a whole number")
    return value


def _opt_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    return _int({key: value}, key)


def _text(payload: dict, key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{key} must be non-empty text")
    if len(value) > 500:
        raise InvalidRequest(f"{key} is too long (at most 500 characters)")
    return value.strip()
