"""The custody rules' state in the database: loaded at a start, saved after each decision.

:func:`load_rules` builds :class:`~locker.custody.CustodyRules` from the stored
slots, the open grants, today's roster and what the log remembers (alerts
already raised, a clock jump not yet followed by a synchronisation), so a
restart repeats no alert and never drives a lock open. :func:`persist` writes
what a decision changed (log entries, alerts, custody stays, grants, slots) in
the caller's transaction; the caller commits before anything is driven.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from locker import events as ev
from locker.alert_lifecycle import resolve_ended, resolve_hardware
from locker.alerts import silent_units, store_alert
from locker.clock import Instant
from locker.config import Config
from locker.custody import STUCK_LOCK, CustodyRules, SlotView
from locker.decisions import (
    CustodyEnded,
    CustodyStarted,
    FaultCleared,
    GrantExpired,
    GrantInfo,
    GrantUsed,
    Lock,
    LogEntry,
    Outcome,
    RaiseAlert,
    Signal,
    SlowReader,
    Unlock,
)
from locker.log import append, format_ts, parse_ts
from locker.models import Alert, Custody, Event, Grant, Slot
from locker.people import load_roster
from locker.states import SlotState

#: What a decision asks the hardware to do, once its records are committed.
Output = Unlock | Lock | Signal | SlowReader


def persist(
    session: Session,
    rules: CustodyRules,
    outcome: Outcome,
    now: Instant,
    *,
    late: bool = False,
    recheck: tuple[str, ...] = (),
) -> list[Output]:
    """Store what ``outcome`` records and the slots it changed; return what to drive.

    With ``late`` (a storage fault's catch-up) every log entry and alert is
    marked ``recorded_late``. The alerts the decision can have ended are
    resolved (those of the slots it changed, a clock alert at a
    synchronisation, and every open alert of the kinds in ``recheck``). The
    caller commits, and drives the outputs only after.
    """
    outputs: list[Output] = []
    for effect in outcome.effects:
        if late and isinstance(effect, LogEntry | RaiseAlert):
            effect = dataclasses.replace(effect, details={**effect.details, "recorded_late": True})
        if isinstance(effect, LogEntry):
            append(session, effect, now.wall)
        elif isinstance(effect, RaiseAlert):
            store_alert(session, effect, now.wall)
        elif isinstance(effect, FaultCleared):
            resolve_hardware(
                session, now.wall, effect.component, effect.why, unit=effect.unit, slot=effect.slot
            )
        elif isinstance(effect, CustodyStarted):
            session.add(
                Custody(
                    slot_number=effect.slot,
                    person_id=effect.person_id,
                    visitor_name=effect.visitor_name,
                    deposited_at=now.wall,
                )
            )
        elif isinstance(effect, CustodyEnded):
            stay = session.scalar(
                select(Custody)
                .where(Custody.slot_number == effect.slot, Custody.ended_at.is_(None))
                .order_by(Custody.id.desc())
                .limit(1)
            )
            if stay is not None:
                stay.ended_at = now.wall
                stay.end_reason = effect.reason
        elif isinstance(effect, GrantUsed):
            grant = session.get(Grant, effect.grant_id)
            grant.used_at = now.wall
            grant.return_due = effect.return_due
        elif isinstance(effect, GrantExpired):
            session.get(Grant, effect.grant_id).expired_at = now.wall
        else:
            outputs.append(effect)
    touched = set(rules.dirty)
    _save_slots(session, rules, now.wall)
    if any(isinstance(e, LogEntry) and e.kind == ev.CLOCK_SYNCHRONISED for e in outcome.effects):
        recheck = (*recheck, ev.ALERT_CLOCK)
    resolve_ended(session, rules.alert_world(now), slots=touched, kinds=recheck)
    return outputs


def _save_slots(session: Session, rules: CustodyRules, at: datetime) -> None:
    """Write back the slots the rules marked dirty."""
    # An UPDATE each, not a row loaded and then changed: the badge's path was
    # paying a SELECT for a row the rules already hold whole. On the table, not
    # the ORM class, so it neither flushes the session first nor searches it for
    # objects to bring up to date (slot rows loaded at a start are not changed after).
    table = Slot.__table__
    for number in sorted(rules.dirty):
        view = rules.slots[number]
        session.execute(
            update(table)
            .where(table.c.number == number)
            .values(
                state=view.state.value,
                occupant_id=view.owner,
                visitor_name=view.visitor_name,
                since=view.since or at,
                locked=view.locked,
                door_open=view.door_open,
                device_present=view.device_present,
                reason=view.reason,
                return_due=view.return_due,
            )
        )
    rules.dirty.clear()


def sync_slots(session: Session, config: Config, at: datetime) -> None:
    """Make the ``slots`` table match the config; log what changed."""
    rows = {s.number: s for s in session.scalars(select(Slot))}
    changes = []
    for slot in config.slots:
        label = slot.label or str(slot.number)
        row = rows.get(slot.number)
        if row is None:
            session.add(
                Slot(number=slot.number, kind=slot.kind, label=label, state="free", since=at)
            )
            changes.append(f"slot {slot.number} added ({slot.kind})")
        elif (row.kind, row.label) != (slot.kind, label):
            changes.append(f"slot {slot.number} is now {slot.kind} {label!r}")
            row.kind, row.label = slot.kind, label
    configured = {s.number for s in config.slots}
    for number in sorted(set(rows) - configured):
        changes.append(f"slot {number} is no longer configured ({rows[number].state})")
    if changes:
        session.flush()
        append(
            session,
            LogEntry(ev.CONFIG_CHANGED, "daemon", details={"what": "slots", "changes": changes}),
            at,
        )


def load_rules(session: Session, config: Config, now: Instant) -> CustodyRules:
    """The rules as stored: the configured slots, the open grants and today's roster."""
    configured = {s.number for s in config.slots}
    views = [
        SlotView(
            number=row.number,
            kind=row.kind,
            label=row.label,
            state=SlotState(row.state),
            owner=row.occupant_id,
            visitor_name=row.visitor_name,
            since=row.since,
            locked=row.locked,
            door_open=row.door_open,
            device_present=row.device_present,
            reason=row.reason,
            return_due=row.return_due,
        )
        for row in session.scalars(select(Slot).order_by(Slot.number))
        if row.number in configured
    ]
    grants = [
        GrantInfo(
            g.id,
            g.person_id,
            g.reason,
            g.note,
            g.open_now,
            g.return_minutes,
            g.created_by,
            g.valid_until,
            g.client,
        )
        for g in session.scalars(
            select(Grant).where(Grant.used_at.is_(None), Grant.expired_at.is_(None))
        )
    ]
    _remember_alerts(session, views)
    rules = CustodyRules(
        config,
        load_roster(session, config.tz, now.wall),
        views,
        grants=grants,
        started=now,
        jumped_at=_unresolved_jump(session, now),
    )
    _remember_today(session, rules, config, now.wall)
    # Hardware that did not answer before a restart stays unknown until it answers.
    rules.unchecked.update(silent_units(session))
    return rules


def _remember_alerts(session: Session, views: list[SlotView]) -> None:
    """Mark the slot alerts already raised for what is still going on, so a restart
    does not raise them again: ``overdue`` since the device went out,
    ``door_left_open`` since the door last opened, and a stuck lock still open
    (an unlock that moves its door resolves it)."""
    stuck = _stuck_locks(session)
    for view in views:
        view.lock_stuck = view.number in stuck
        if view.state is SlotState.OUT and view.since is not None:
            view.overdue_alerted = _alert_since(session, ev.ALERT_OVERDUE, view.number, view.since)
        if view.door_open:
            opened = session.scalar(
                select(Event.ts)
                .where(Event.kind == ev.DOOR_OPENED, Event.slot == view.number)
                .order_by(Event.id.desc())
                .limit(1)
            )
            if opened is not None:
                view.door_alerted = _alert_since(
                    session, ev.ALERT_DOOR_LEFT_OPEN, view.number, parse_ts(opened)
                )


def _stuck_locks(session: Session) -> set[int]:
    """The slots with an open stuck-lock ``hardware_fault`` alert."""
    return {
        alert.slot
        for alert in session.scalars(
            select(Alert).where(
                Alert.alert == ev.ALERT_HARDWARE_FAULT,
                Alert.resolved_at.is_(None),
                Alert.slot.is_not(None),
            )
        )
        if (alert.details or {}).get("component") == STUCK_LOCK
    }


def _unresolved_jump(session: Session, now: Instant) -> float | None:
    """The monotonic time of a logged clock jump no synchronisation has followed.

    Only meaningful within one boot: a jump "later" than now on the monotonic
    clock was before a reboot, and a rebooted Pi waits for a sync anyway.
    """
    last = session.execute(
        select(Event.kind, Event.details)
        .where(Event.kind.in_((ev.CLOCK_JUMP, ev.CLOCK_SYNCHRONISED)))
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    if last is None or last.kind != ev.CLOCK_JUMP:
        return None
    mono = json.loads(last.details).get("mono")
    return mono if isinstance(mono, int | float) and mono <= now.mono else None


def _remember_today(session: Session, rules: CustodyRules, config: Config, at: datetime) -> None:
    """Seed the rules' memory of today from the log, so a restart repeats no alert."""
    day = rules.local_day(at)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=config.tz)
    since = format_ts(midnight)
    for alert in session.scalars(
        select(Alert).where(Alert.alert == ev.ALERT_NO_DEPOSIT, Alert.raised_at >= midnight)
    ):
        if alert.person_id is not None:
            rules.no_deposit_alerted.add((alert.person_id, day))
    for person_id in session.scalars(
        select(Event.person_id).where(Event.kind == ev.DEPOSIT_EMPTY, Event.ts >= since)
    ):
        if person_id is not None:
            rules.declared_empty.add((person_id, day))


def stopped_cleanly(session: Session) -> bool:
    """Whether the log's last start or stop is a stop (no previous run counts as clean)."""
    last = session.scalar(
        select(Event.kind)
        .where(Event.kind.in_((ev.SYSTEM_STARTED, ev.SYSTEM_STOPPED)))
        .order_by(Event.id.desc())
        .limit(1)
    )
    return last != ev.SYSTEM_STARTED


def _alert_since(session: Session, alert: str, slot: int, since: datetime) -> bool:
    """Whether an ``alert`` for ``slot`` was raised at or after ``since``."""
    return (
        session.scalar(
            select(Alert.id)
            .where(Alert.alert == alert, Alert.slot == slot, Alert.raised_at >= since)
            .limit(1)
        )
        is not None
    )
