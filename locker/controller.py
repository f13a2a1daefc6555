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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from locker import commands as cmd
from locker import events as ev
from locker.alert_lifecycle import (
    ALL_KINDS,
    TIMED_CHECK_S,
    TIMED_KINDS,
    resolve_ended,
    resolve_storage,
)
from locker.clock import Clock, Instant
from locker.commands import CommandStatus
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
from locker.log import append, format_ts
from locker.models import Command, Grant, Person
from locker.people import load_roster
from locker.rules_store import (
    Output,
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
            outputs = persist(session, self.rules, outcome, now, late=self.late, recheck=ALL_KINDS)
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
        if not outcome.effects and not self.rules.dirty:
            self._resolve_timed(now)
            return []
        return self._decide(lambda session, rules, now: outcome, now=now)

    def _resolve_timed(self, now: Instant) -> None:
        """On a quiet tick, every ``TIMED_CHECK_S``: resolve the alerts whose condition
        ended with time (a read; the write only happens when one did)."""
        if now.mono - self.timed_check_at < TIMED_CHECK_S:
            return
        self.timed_check_at = now.mono
        world = self.rules.alert_world(now)
        with self.db.read() as session:
            if not resolve_ended(session, world, kinds=TIMED_KINDS, apply=False):
                return
        with self.db.write() as session:
            resolve_ended(session, world, kinds=TIMED_KINDS)
            session.commit()

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

    def run_command(self, command: int | cmd.Queued) -> tuple[list[Output], dict[str, Any]]:
        """Carry out a pending command; mark it done or failed with the reason.

        ``command`` is as :meth:`waiting_commands` read it (the daemon's way:
        the row is read once), or a row's id (read here).
        """
        queued = self._queued(command)
        if queued is None:
            return [], {"error": f"no pending command {command}"}
        result: dict[str, Any] = {}

        def decide(session: Session, rules: CustodyRules, now: Instant) -> Outcome:
            outcome = self._command(session, rules, queued, now)
            # Marked done in the decision's own transaction: run once, or not at all.
            if not _finish(session, queued.id, CommandStatus.DONE, outcome.result, now.wall):
                raise NotFound(f"no pending command {queued.id}")
            result.update(outcome.result)
            return outcome

        try:
            outputs = self._decide(decide)
        except (InvalidRequest, NotFound, LockerError) as exc:
            self.finish_command(queued.id, CommandStatus.FAILED, {"error": str(exc)})
            return [], {"error": str(exc)}
        return outputs, result

    def finish_command(self, command_id: int, status: CommandStatus, result: dict) -> bool:
        """Record how a pending command ended (the simulator's too); False if it was not
        pending. Commits."""
        with self.db.write() as session:
            finished = _finish(session, command_id, status, result, self.clock.now())
            session.commit()
        return finished

    def expire_if_stale(self, command: int | cmd.Queued, real_now: datetime) -> bool:
        """Expire the pending command if it would open a slot and is too old; True if it did.

        ``real_now`` is real (wall) time, as the command's ``requested_at`` is.
        An expired command is marked ``expired`` with the reason and logged as
        ``command.expired``; nothing is driven. See :mod:`locker.commands`.
        """
        max_age = self.config.commands.max_age_s
        queued = self._queued(command)
        if queued is None or not queued.expired(real_now, max_age):
            return False
        age = queued.age_s(real_now)
        shown = "unknown" if age is None else f"{age:.0f} s"
        age_kept = None if age is None else round(age, 1)
        result = {
            "error": f"the request was {shown} old when the controller reached it "
            f"(the limit is {max_age:.0f} s); nothing was opened",
            "age_s": age_kept,
        }
        details = {
            "command": queued.kind,
            "command_id": queued.id,
            "age_s": age_kept,
            "max_age_s": max_age,
            "client": queued.client,
        }
        now = self.clock.now()
        with self.db.write() as session:
            if not _finish(session, queued.id, CommandStatus.EXPIRED, result, now):
                return False
            append(session, LogEntry(ev.COMMAND_EXPIRED, queued.account, details=details), now)
            session.commit()
        return True

    def waiting_commands(self) -> list[cmd.Queued]:
        """Commands waiting for the daemon, oldest first, each read once."""
        with self.db.read() as session:
            rows = session.scalars(
                select(Command).where(Command.status == CommandStatus.PENDING).order_by(Command.id)
            )
            return [_queued(row) for row in rows]

    def pending_commands(self) -> list[int]:
        """Ids of commands waiting for the daemon, oldest first."""
        return [queued.id for queued in self.waiting_commands()]

    def _queued(self, command: int | cmd.Queued) -> cmd.Queued | None:
        if isinstance(command, cmd.Queued):
            return command
        with self.db.read() as session:
            row = session.get(Command, command)
            if row is None or row.status != CommandStatus.PENDING:
                return None
            return _queued(row)

    def _command(
        self, session: Session, rules: CustodyRules, command: cmd.Queued, now: Instant
    ) -> Outcome:
        asked = cmd.parse_command(command.kind, command.payload or {}, self.bank)
        who = {"account": command.account, "client": command.client}
        match asked:
            case cmd.Reload():
                rules.set_roster(load_roster(session, self.config.tz, now.wall))
                return Outcome(result={"reloaded": True})
            case cmd.Grant():
                same = self._same_open_now_grant(session, asked, now.wall)
                if same is not None:
                    return same
                grant = self._new_grant(session, asked, command, now.wall)
                if grant.person_id not in rules.roster.people:
                    rules.set_roster(load_roster(session, self.config.tz, now.wall))
                return rules.handle(GrantCreated(grant), now)
            case cmd.ReleaseSlot(slot, reason):
                return rules.handle(ReleaseSlot(slot, reason, **who), now)
            case cmd.ReleaseAll(reason):
                return rules.handle(ReleaseAll(reason, **who), now)
            case cmd.VisitorIn(name, slot):
                return rules.handle(SignInVisitor(name, slot=slot, **who), now)
            case cmd.VisitorOut(slot):
                return rules.handle(SignOutVisitor(slot, **who), now)
            case cmd.Stock(slot):
                return rules.handle(StockSettingSlot(slot, **who), now)
        raise InvalidRequest(f"the controller does not carry out {command.kind!r} commands")

    @property
    def bank(self) -> cmd.Bank:
        """Each configured slot's number and kind, for :func:`locker.commands.parse_command`."""
        return cmd.bank_of(self.config)

    def _same_open_now_grant(
        self, session: Session, asked: cmd.Grant, at: datetime
    ) -> Outcome | None:
        """The answer of an open-now grant that already opened this person's slot lately.

        A double click, two managers at once, or a retry after the panel timed
        out must not make a second grant: it would wait for the person's next
        badge and release the device again after it went back in.
        """
        if not asked.open_now:
            return None
        since = at - timedelta(seconds=self.config.commands.same_grant_s)
        grant = session.scalar(
            select(Grant)
            .where(
                Grant.person_id == asked.person_id,
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
        self, session: Session, asked: cmd.Grant, command: cmd.Queued, at: datetime
    ) -> GrantInfo:
        person = session.get(Person, asked.person_id)
        if person is None or not person.active:
            raise NotFound(f"no active person with id {asked.person_id}")
        valid_until = at + timedelta(minutes=self.config.rules.grant_valid_min)
        row = Grant(
            person_id=asked.person_id,
            reason=asked.reason,
            note=asked.note,
            open_now=asked.open_now,
            return_minutes=asked.return_minutes,
            created_by=command.account,
            client=command.client,
            created_at=at,
            valid_until=valid_until,
        )
        session.add(row)
        session.flush()
        return GrantInfo(
            row.id,
            asked.person_id,
            asked.reason,
            asked.note,
            asked.open_now,
            asked.return_minutes,
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
            # Hardware known to be silent stays so, even if its alert was not committed.
            rules.unchecked.update(self.rules.unchecked)
        self.rules = rules

    def _load_rules(self, session: Session, now: Instant) -> CustodyRules:
        """The rules as stored, and the local day their roster is for."""
        rules = load_rules(session, self.config, now)
        self.roster_day = now.wall.astimezone(self.config.tz).date()
        return rules


def _queued(row: Command) -> cmd.Queued:
    """What the daemon needs of a command's row, read once."""
    return cmd.Queued(
        row.id, row.kind, dict(row.payload or {}), row.account, row.client, row.requested_at
    )


def _finish(
    session: Session, command_id: int, status: CommandStatus, result: dict, at: datetime
) -> bool:
    """Mark a pending command finished; False if it was not pending (never twice).

    The one bookkeeping path of every command: done, failed, expired, and the
    simulator's.
    """
    finished = session.execute(
        update(Command)
        .where(Command.id == command_id, Command.status == CommandStatus.PENDING)
        .values(status=status, result=result, done_at=at)
    )
    return finished.rowcount == 1
