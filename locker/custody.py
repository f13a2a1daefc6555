"""The custody rules of SPEC.md as a pure core.

:class:`CustodyRules` takes inputs (a badge read, a door or sensor change, a
tick of the clock, a manager's command) with the current :class:`Instant` and
returns an :class:`Outcome`: an ordered list of effects: events to log, alerts
to raise, locks to open or shut, lights to show. It never touches a pin or the
database; the daemon commits the log entries *before* it drives any output.

Inputs, effects and :class:`Outcome` live in :mod:`locker.decisions`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from locker import events as ev
from locker.clock import Instant
from locker.config import Config
from locker.decisions import (
    BadgeNotServed,
    BadgeRead,
    CustodyEnded,
    CustodyStarted,
    DeviceChanged,
    DoorChanged,
    Fault,
    GrantCreated,
    GrantExpired,
    GrantInfo,
    GrantUsed,
    Outcome,
    ReleaseAll,
    ReleaseSlot,
    SensorReading,
    SignInVisitor,
    SignOutVisitor,
    SlowReader,
    StockSettingSlot,
    Tick,
)
from locker.errors import InvalidRequest, NotFound
from locker.roster import PersonInfo, Roster
from locker.states import OWNED_STATES, UNLOCKED_STATES, SlotState, check_transition

S = SlotState

# Why a slot is open or its device out. A device taken for a *temporary*
# reason leaves the slot reserved (``out``); after a *final* one it is free.
TEMPORARY_REASONS = frozenset({"break", "grant", "on_the_spot", "manager", "all", "checkout"})
FINAL_REASONS = frozenset({"shift_end", "closing", "visitor_sign_out"})
#: Releases that depend on the wall clock, suspended while it is not trusted.
SCHEDULE_REASONS = frozenset({"break", "shift_end", "closing"})
#: Releases in a row whose door never opened before a stuck lock is reported.
STUCK_LOCK_RELEASES = 3


# ---------------------------------------------------------------------- state


@dataclass
class SlotView:
    """One slot as the rules track it (persisted to the ``slots`` table)."""

    number: int
    kind: str
    label: str
    state: SlotState = S.FREE
    owner: int | None = None
    visitor_name: str | None = None
    since: datetime | None = None
    locked: bool = True
    door_open: bool = False
    device_present: bool = False
    #: Why the slot is open or its device out.
    reason: str | None = None
    #: When a device that is out is due back.
    return_due: datetime | None = None
    #: Monotonic time an unlocked slot relocks if its door has not been opened.
    deadline: float | None = None
    #: Monotonic time the door opened (for ``door_left_open``).
    door_opened_mono: float | None = None
    door_alerted: bool = False
    overdue_alerted: bool = False
    #: The grant that opened this slot, if any.
    grant_id: int | None = None
    #: Releases in a row that timed out with the door never opening (a stuck lock?).
    unopened_releases: int = 0

    def move(self, new: SlotState, at: datetime) -> None:
        """Change state through the transition table."""
        check_transition(self.state, new)
        if new is not self.state:
            self.state = new
            self.since = at


@dataclass
class _Refusal:
    person_id: int
    slot: int
    mono: float
    uid: str


class CustodyRules:
    """The custody rules for one locker bank.

    ``slots`` is the stored state of every slot (``SlotView``), ``grants`` the
    grants not yet used or expired. The object keeps the rest of what it needs
    (pending refusals, alert memory, the clock's trust) in memory: after a
    restart a missed schedule moment is not acted on, which is why a restart
    can never drive a lock open.
    """

    def __init__(
        self,
        config: Config,
        roster: Roster,
        slots: list[SlotView],
        *,
        grants: list[GrantInfo] = (),
        started: Instant,
        jumped_at: float | None = None,
    ):
        self.config = config
        self.rules = config.rules
        self.tz = config.tz
        self.roster = roster
        self.slots: dict[int, SlotView] = {
            s.number: s for s in sorted(slots, key=lambda s: s.number)
        }
        self.grants: dict[int, GrantInfo] = {g.id: g for g in grants}
        #: Wall time from which schedule moments (shift ends, closing) are acted on.
        self.schedule_from: datetime = started.wall
        self.last_instant: Instant = started
        #: Monotonic time of the last clock jump not yet followed by a synchronisation
        #: (remembered across a restart of the daemon through the log).
        self.jumped_at: float | None = jumped_at
        self.clock_trusted: bool = self._synchronised(started)
        self.refusal: _Refusal | None = None
        self.unknown_reads: deque[float] = deque()
        #: (person id, local day) already released at shift end, or alerted for no deposit.
        self.shift_end_done: set[tuple[int, date]] = set()
        self.no_deposit_alerted: set[tuple[int, date]] = set()
        self.declared_empty: set[tuple[int, date]] = set()
        self.closing_done: set[date] = set()
        self.forgotten_due: dict[date, datetime] = {}
        self.dirty: set[int] = set()
        #: One handler for each kind of input, built once.
        self.handlers: dict[type, Any] = self._handlers()

    # ------------------------------------------------------------ public API

    def start(
        self, sensors: dict[int, SensorReading], now: Instant, *, clean_stop: bool = True
    ) -> Outcome:
        """Reconcile stored slot state with the sensors after a (re)start.

        Nothing here unlocks: a slot that was open when the daemon stopped is
        locked again (its lock starts in the safe state anyway), and a door or
        device that changed while the daemon was down becomes an event or an
        alert.
        """
        out = Outcome()
        out.log(
            ev.SYSTEM_STARTED,
            actor="daemon",
            slots=len(self.slots),
            clock_synchronised=self.clock_trusted,
            clean_stop=clean_stop,
        )
        if not self.clock_trusted:
            out.log(ev.CLOCK_UNSYNCHRONISED, actor="daemon")
            out.alert(
                ev.ALERT_CLOCK,
                "The clock is not synchronised: breaks and shift ends "
                "will not release devices until it is.",
            )
        for number, slot in self.slots.items():
            reading = sensors.get(number)
            if reading is None:
                continue
            self._reconcile(slot, reading, now, out)
        self.last_instant = now
        return out

    def handle(self, event: object, now: Instant) -> Outcome:
        """Apply one input at ``now`` and return what to do about it."""
        out = Outcome()
        saved = (self.clock_trusted, self.jumped_at, self.schedule_from)
        try:
            self._check_clock(now, out)
            self.handlers[type(event)](event, now, out)
        except (InvalidRequest, NotFound):
            # A refused command changes nothing, not even the clock's memory.
            self.clock_trusted, self.jumped_at, self.schedule_from = saved
            raise
        self._check_timers(now, out)
        self.last_instant = now
        return out

    def set_roster(self, roster: Roster) -> None:
        """Use a fresh snapshot of people, badges and shifts."""
        self.roster = roster

    def slot_of(self, person_id: int, kind: str = "staff") -> SlotView | None:
        """The slot of ``kind`` that belongs to ``person_id``, if any."""
        for slot in self.slots.values():
            if slot.kind == kind and slot.owner == person_id and slot.state in OWNED_STATES:
                return slot
        return None

    def local_day(self, moment: datetime) -> date:
        """The site's local date at ``moment``."""
        return moment.astimezone(self.tz).date()

    # --------------------------------------------------------------- clock

    def _synchronised(self, now: Instant) -> bool:
        """Synchronised since boot, and since the last jump."""
        return now.synced_at is not None and (
            self.jumped_at is None or now.synced_at >= self.jumped_at
        )

    def _check_clock(self, now: Instant, out: Outcome) -> None:
        last = self.last_instant
        drift = (now.wall - last.wall).total_seconds() - (now.mono - last.mono)
        if abs(drift) > self.rules.clock_jump_tolerance_s:
            self.jumped_at = now.mono
            out.log(
                ev.CLOCK_JUMP,
                actor="daemon",
                seconds=round(drift, 3),
                before=last.wall.isoformat(),
                after=now.wall.isoformat(),
                mono=now.mono,
            )
            if self.clock_trusted:
                self.clock_trusted = False
                out.alert(
                    ev.ALERT_CLOCK,
                    f"The clock jumped by {drift:+.0f} s: schedule "
                    "releases are suspended until it is synchronised again.",
                    seconds=round(drift, 3),
                )
            return
        synced = self._synchronised(now)
        if synced and not self.clock_trusted:
            self.clock_trusted = True
            # Moments that passed while the clock was not trusted are not acted on.
            self.schedule_from = now.wall
            out.log(ev.CLOCK_SYNCHRONISED, actor="daemon")
        elif not synced and self.clock_trusted:
            self.clock_trusted = False
            out.log(ev.CLOCK_UNSYNCHRONISED, actor="daemon")
            out.alert(
                ev.ALERT_CLOCK, "The clock lost synchronisation: schedule releases are suspended."
            )

    # --------------------------------------------------------------- badges

    def _handlers(self) -> dict[type, Any]:
        return {
            BadgeRead: self._on_badge,
            BadgeNotServed: self._on_badge_not_served,
            DoorChanged: self._on_door,
            DeviceChanged: self._on_device,
            Tick: lambda event, now, out: None,
            Fault: self._on_fault,
            GrantCreated: self._on_grant,
            ReleaseSlot: self._on_release_slot,
            ReleaseAll: self._on_release_all,
            SignInVisitor: self._on_visitor_in,
            SignOutVisitor: self._on_visitor_out,
            StockSettingSlot: self._on_stock,
        }

    def _on_badge(self, event: BadgeRead, now: Instant, out: Outcome) -> None:
        uid = event.uid
        person_id = self.roster.badges.get(uid)
        if person_id is None:
            self._unknown_badge(uid, now, out)
            return
        person = self.roster.people.get(person_id)
        if person is None or not person.active:
            self._refuse(
                None,
                uid,
                "inactive",
                "This person is no longer active.",
                now,
                out,
                person_id=person_id,
            )
            return
        if self._approve_on_the_spot(person, now, out):
            return
        if self._setting_checkout(person, uid, now, out):
            return
        borrowed = self.slot_of(person.id, "setting")
        if borrowed is not None and borrowed.state is S.OUT:
            self._open_for_deposit(borrowed, person, uid, "setting_return", now, out)
            return
        slot = self.slot_of(person.id)
        if slot is None:
            self._deposit(person, uid, now, out)
        elif slot.state in UNLOCKED_STATES:
            # A second read while the slot is already open: keep it open a little longer.
            if slot.deadline is not None:
                slot.deadline = now.mono + self.rules.door_timeout_s
            self._granted(out, person, slot, uid, action="already_open")
            out.signal("granted")
        elif slot.state is S.OUT:
            self._open_for_deposit(slot, person, uid, "return", now, out)
        else:
            self._release_on_badge(slot, person, uid, now, out)

    def _on_badge_not_served(self, event: BadgeNotServed, now: Instant, out: Outcome) -> None:
        # Already refused at the reader while nothing could be logged: record it,
        # and change nothing else (no on-the-spot approval can follow it now).
        person_id = self.roster.badges.get(event.uid)
        if person_id is None:
            out.log(ev.BADGE_UNKNOWN, uid=event.uid, reason="storage")
            return
        person = self.roster.people.get(person_id)
        out.log(
            ev.BADGE_REFUSED,
            actor=person.name if person else "",
            person_id=person_id,
            uid=event.uid,
            reason="storage",
            explanation="The locker could not write its log, so no slot opened.",
        )

    def _unknown_badge(self, uid: str, now: Instant, out: Outcome) -> None:
        revoked_of = self.roster.revoked.get(uid)
        if revoked_of is not None:
            self._refuse(
                None, uid, "revoked", "This badge has been revoked.", now, out, person_id=revoked_of
            )
            return
        out.log(ev.BADGE_UNKNOWN, uid=uid)
        out.signal("refused")
        window = self.rules.unknown_badge_window_s
        self.unknown_reads.append(now.mono)
        while self.unknown_reads and self.unknown_reads[0] < now.mono - window:
            self.unknown_reads.popleft()
        if len(self.unknown_reads) >= self.rules.unknown_badge_limit:
            count = len(self.unknown_reads)
            self.unknown_reads.clear()
            cooldown = self.rules.unknown_badge_cooldown_s
            message = f"{count} unknown badges within {window:.0f} s at the locker."
            if cooldown > 0:
                message += (
                    f" For the next {window:.0f} s the reader answers one card"
                    f" every {cooldown:.0f} s."
                )
            out.alert(
                ev.ALERT_UNKNOWN_BADGES,
                message,
                count=count,
                last_uid=uid,
                cooldown_s=cooldown,
            )
            if cooldown > 0:
                # Somebody may be trying UIDs: make each further try cost time.
                out.effects.append(SlowReader(gap_s=cooldown, for_s=window))

    @staticmethod
    def _granted(
        out: Outcome, person: PersonInfo, slot: SlotView, uid: str, **details: Any
    ) -> None:
        """Log ``badge.granted`` for ``person`` at ``slot``."""
        out.log(
            ev.BADGE_GRANTED,
            actor=person.name,
            slot=slot.number,
            person_id=person.id,
            uid=uid,
            **details,
        )

    def _refuse(
        self,
        person: PersonInfo | None,
        uid: str,
        reason: str,
        why: str,
        now: Instant,
        out: Outcome,
        *,
        person_id: int | None = None,
        slot: SlotView | None = None,
    ) -> None:
        pid = person.id if person is not None else person_id
        out.log(
            ev.BADGE_REFUSED,
            actor=person.name if person else "",
            slot=slot.number if slot else None,
            person_id=pid,
            uid=uid,
            reason=reason,
            explanation=why,
        )
        out.signal("refused")
        if person is not None and slot is not None:
            self.refusal = _Refusal(person.id, slot.number, now.mono, uid)

    def _deposit(self, person: PersonInfo, uid: str, now: Instant, out: Outcome) -> None:
        if person.role == "visitor":
            self._refuse(
                person, uid, "visitor", "Visitors' slots are opened by a manager.", now, out
            )
            return
        slot = self._slot_for_deposit(person)
        if slot is None:
            why = (
                f"Slot {person.slot_number} is not free."
                if self._fixed()
                else "No staff slot is free."
            )
            reason = "slot_not_free" if self._fixed() else "no_free_slot"
            self._refuse(person, uid, reason, why, now, out)
            return
        self._open_for_deposit(slot, person, uid, "deposit", now, out)

    def _fixed(self) -> bool:
        return self.rules.assignment == "fixed"

    def _slot_for_deposit(self, person: PersonInfo) -> SlotView | None:
        if self._fixed():
            slot = self.slots.get(person.slot_number) if person.slot_number else None
            if slot is None or slot.kind != "staff" or slot.state is not S.FREE:
                return None
            return slot
        # Dynamic: the first free staff slot no fixed owner is waiting for.
        for slot in self.slots.values():
            if slot.kind == "staff" and slot.state is S.FREE and not slot.device_present:
                return slot
        return None

    def _open_for_deposit(
        self,
        slot: SlotView,
        person: PersonInfo | None,
        uid: str | None,
        reason: str,
        now: Instant,
        out: Outcome,
        *,
        actor: str = "",
    ) -> None:
        slot.move(S.OPEN_FOR_DEPOSIT, now.wall)
        if person is not None:
            slot.owner = person.id
        slot.reason = reason
        slot.locked = False
        slot.deadline = now.mono + self.rules.door_timeout_s
        self.dirty.add(slot.number)
        if uid is not None and person is not None:
            self._granted(out, person, slot, uid, action=reason)
        out.unlock(slot, reason, actor=actor or (person.name if person else ""))
        out.signal("granted")
        out.result["slot"] = slot.number

    def _release_on_badge(
        self, slot: SlotView, person: PersonInfo, uid: str, now: Instant, out: Outcome
    ) -> None:
        grant = self._active_grant(person.id, now)
        if grant is not None:
            self._granted(out, person, slot, uid, action="release", reason="grant")
            self._release_for_grant(slot, person, grant, now, out)
            return
        today = self.local_day(now.wall)
        shift = self.roster.shift(person.id, today)
        if not self.clock_trusted:
            self._refuse(
                person,
                uid,
                "clock_unsynchronised",
                "The clock is not synchronised: only a manager can release devices.",
                now,
                out,
                slot=slot,
            )
            return
        if shift is None or now.wall >= shift.end:
            self._granted(out, person, slot, uid, action="release", reason="shift_end")
            out.log(
                ev.RELEASE_SHIFT_END,
                actor=person.name,
                slot=slot.number,
                person_id=person.id,
                no_shift_today=shift is None,
            )
            self._open_for_release(slot, "shift_end", None, now, out)
            return
        window = self._break_window(shift.breaks, now.wall)
        if window is not None:
            self._granted(out, person, slot, uid, action="release", reason="break")
            out.log(
                ev.RELEASE_BREAK,
                actor=person.name,
                slot=slot.number,
                person_id=person.id,
                break_start=window[0].isoformat(),
                break_end=window[1].isoformat(),
            )
            self._open_for_release(slot, "break", window[1], now, out)
            return
        nxt = [b for b in shift.breaks if b[0] > now.wall]
        why = "On shift and not on a break."
        if nxt:
            why += f" Next break at {nxt[0][0].astimezone(self.tz):%H:%M}."
        self._refuse(person, uid, "on_shift", why, now, out, slot=slot)

    def _break_window(self, breaks, at: datetime) -> tuple[datetime, datetime] | None:
        grace = timedelta(minutes=self.rules.break_grace_min)
        for start, end in breaks:
            if start - grace <= at <= end + grace:
                return start, end
        return None

    def _active_grant(self, person_id: int, now: Instant) -> GrantInfo | None:
        for grant in self.grants.values():
            if grant.person_id == person_id and now.wall < grant.valid_until:
                return grant
        return None

    def _release_for_grant(
        self, slot: SlotView, person: PersonInfo, grant: GrantInfo, now: Instant, out: Outcome
    ) -> None:
        due = now.wall + timedelta(minutes=grant.return_minutes) if grant.return_minutes else None
        out.log(
            ev.RELEASE_GRANT,
            actor=grant.created_by,
            slot=slot.number,
            person_id=person.id,
            grant_id=grant.id,
            reason=grant.reason,
            note=grant.note,
            return_due=due.isoformat() if due else None,
        )
        out.log(
            ev.GRANT_USED,
            actor=grant.created_by,
            slot=slot.number,
            person_id=person.id,
            grant_id=grant.id,
        )
        out.effects.append(GrantUsed(grant.id, due))
        del self.grants[grant.id]
        self._open_for_release(slot, "grant", due, now, out, actor=grant.created_by)
        slot.grant_id = grant.id

    def _open_for_release(
        self,
        slot: SlotView,
        reason: str,
        return_due: datetime | None,
        now: Instant,
        out: Outcome,
        *,
        actor: str = "",
    ) -> None:
        slot.move(S.OPEN_FOR_RELEASE, now.wall)
        slot.reason = reason
        slot.return_due = return_due
        slot.locked = False
        slot.deadline = now.mono + self.rules.door_timeout_s
        slot.overdue_alerted = False
        slot.grant_id = None
        self.dirty.add(slot.number)
        out.unlock(slot, reason, actor=actor)
        out.signal("granted")
        out.result["slot"] = slot.number

    def _approve_on_the_spot(self, manager: PersonInfo, now: Instant, out: Outcome) -> bool:
        refusal = self.refusal
        if (
            refusal is None
            or not manager.is_manager
            or refusal.person_id == manager.id
            or now.mono - refusal.mono > self.rules.approval_window_s
        ):
            return False
        self.refusal = None
        slot = self.slots[refusal.slot]
        if slot.state is not S.HELD or slot.owner != refusal.person_id:
            return False
        person = self.roster.people.get(refusal.person_id)
        name = person.name if person else str(refusal.person_id)
        out.log(
            ev.APPROVAL_ON_THE_SPOT,
            actor=manager.name,
            slot=slot.number,
            person_id=refusal.person_id,
            manager_id=manager.id,
            manager=manager.name,
            person=name,
            reason="emergency",
        )
        self._open_for_release(slot, "on_the_spot", None, now, out, actor=manager.name)
        return True

    def _setting_checkout(self, person: PersonInfo, uid: str, now: Instant, out: Outcome) -> bool:
        refusal = self.refusal
        if (
            refusal is None
            or refusal.person_id != person.id
            or not person.setting_authorised
            or now.mono - refusal.mono > self.rules.setting_checkout_window_s
        ):
            return False
        self.refusal = None
        if self.slot_of(person.id, "setting") is not None:
            self._refuse(
                person,
                uid,
                "setting_already_out",
                "You already have one of the setting's devices.",
                now,
                out,
            )
            return True
        slot = next(
            (s for s in self.slots.values() if s.kind == "setting" and s.state is S.HELD), None
        )
        if slot is None:
            self._refuse(
                person,
                uid,
                "no_setting_device",
                "None of the setting's devices is in the locker.",
                now,
                out,
            )
            return True
        slot.owner = person.id
        self._granted(out, person, slot, uid, action="checkout")
        self._open_for_release(
            slot, "checkout", self._closing_at(now.wall), now, out, actor=person.name
        )
        return True

    # ------------------------------------------------------- doors, sensors

    def _on_door(self, event: DoorChanged, now: Instant, out: Outcome) -> None:
        slot = self.slots.get(event.slot)
        if slot is None or slot.door_open == event.open:
            return
        slot.door_open = event.open
        self.dirty.add(slot.number)
        if event.open:
            self._door_opened(slot, now, out)
        else:
            self._door_closed(slot, now, out)

    def _door_opened(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        slot.door_opened_mono = now.mono
        slot.door_alerted = False
        slot.unopened_releases = 0
        forced = slot.locked
        out.log(ev.DOOR_OPENED, slot=slot.number, person_id=slot.owner, forced=forced)
        if forced:
            out.alert(
                ev.ALERT_DOOR_FORCED,
                f"Slot {slot.label or slot.number}: door opened while locked.",
                slot=slot.number,
                person_id=slot.owner,
            )
            out.signal("alert")
        else:
            slot.deadline = None

    def _door_closed(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        slot.door_opened_mono = None
        out.log(ev.DOOR_CLOSED, slot=slot.number, person_id=slot.owner)
        if slot.state is S.OPEN_FOR_DEPOSIT:
            self._finish_deposit(slot, now, out)
        elif slot.state is S.OPEN_FOR_RELEASE:
            self._not_collected(slot, now)
            slot.locked = True
            slot.deadline = None
            out.lock(slot, "not_collected")
        elif not slot.locked:
            # The door of a collected slot shut: lock it again.
            slot.locked = True
            slot.deadline = None
            out.lock(slot, "door_closed")
            if slot.device_present:
                # The device went back in before the door shut.
                out.log(
                    ev.DEPOSIT_CONFIRMED,
                    slot=slot.number,
                    person_id=slot.owner,
                    returned=slot.state is S.OUT,
                )
                if slot.state is S.FREE:
                    out.effects.append(CustodyStarted(slot.number, None, None))
                slot.move(S.HELD, now.wall)
                slot.reason = None
                slot.return_due = None

    def _finish_deposit(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        reason = slot.reason
        person = self.roster.people.get(slot.owner) if slot.owner is not None else None
        actor = person.name if person else (slot.visitor_name or "")
        slot.locked = True
        slot.deadline = None
        if slot.device_present:
            out.lock(slot, "deposit")
            if reason == "setting_return":
                out.log(ev.SETTING_RETURNED, actor=actor, slot=slot.number, person_id=slot.owner)
                slot.owner = None
            else:
                out.log(
                    ev.DEPOSIT_CONFIRMED,
                    actor=actor,
                    slot=slot.number,
                    person_id=slot.owner,
                    visitor=slot.visitor_name,
                    returned=reason == "return",
                )
                if reason != "return":
                    out.effects.append(CustodyStarted(slot.number, slot.owner, slot.visitor_name))
            slot.move(S.HELD, now.wall)
            slot.reason = None
            slot.return_due = None
            out.signal("deposited")
            return
        out.lock(slot, "empty")
        out.log(
            ev.DEPOSIT_EMPTY,
            actor=actor,
            slot=slot.number,
            person_id=slot.owner,
            visitor=slot.visitor_name,
        )
        if reason in ("return", "setting_return"):
            # Still out: the slot stays reserved, the device is not back.
            slot.move(S.OUT, now.wall)
            slot.reason = "return_empty"
            return
        if slot.owner is not None:
            self.declared_empty.add((slot.owner, self.local_day(now.wall)))
        slot.move(S.FREE, now.wall)
        self._clear(slot)

    def _clear(self, slot: SlotView) -> None:
        slot.owner = None
        slot.visitor_name = None
        slot.reason = None
        slot.return_due = None
        slot.grant_id = None
        slot.overdue_alerted = False

    def _on_device(self, event: DeviceChanged, now: Instant, out: Outcome) -> None:
        slot = self.slots.get(event.slot)
        if slot is None or slot.device_present == event.present:
            return
        slot.device_present = event.present
        self.dirty.add(slot.number)
        kind = ev.DEVICE_DETECTED if event.present else ev.DEVICE_REMOVED
        out.log(kind, slot=slot.number, person_id=slot.owner)
        if event.present:
            self._device_appeared(slot, now, out)
        else:
            self._device_taken(slot, now, out)

    def _device_appeared(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        if slot.state in UNLOCKED_STATES or not slot.locked:
            return
        # A device appeared behind a locked door: it came through a forced door.
        out.alert(
            ev.ALERT_TAMPER,
            f"Slot {slot.label or slot.number}: a device appeared in a locked slot.",
            slot=slot.number,
            person_id=slot.owner,
        )
        if slot.state in (S.FREE, S.OUT):
            slot.move(S.HELD, now.wall)
            if slot.state is S.HELD and slot.owner is None:
                out.effects.append(CustodyStarted(slot.number, None, None))

    def _device_taken(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        if slot.state is S.OPEN_FOR_RELEASE:
            self._collected(slot, now, out)
            return
        if slot.state is S.HELD:
            out.alert(
                ev.ALERT_TAMPER,
                f"Slot {slot.label or slot.number}: device removed while locked.",
                slot=slot.number,
                person_id=slot.owner,
            )
            out.signal("alert")
            if slot.owner is None:
                slot.move(S.FREE, now.wall)
                out.effects.append(CustodyEnded(slot.number, "tamper"))
                self._clear(slot)
            else:
                slot.move(S.OUT, now.wall)
                slot.reason = "tamper"

    def _collected(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        reason = slot.reason or ""
        person = self.roster.people.get(slot.owner) if slot.owner is not None else None
        actor = person.name if person else (slot.visitor_name or "")
        slot.deadline = None
        if reason == "checkout":
            out.log(
                ev.SETTING_CHECKED_OUT,
                actor=actor,
                slot=slot.number,
                person_id=slot.owner,
                due=slot.return_due.isoformat() if slot.return_due else None,
            )
            slot.move(S.OUT, now.wall)
        elif reason in TEMPORARY_REASONS and slot.owner is not None:
            slot.move(S.OUT, now.wall)
        else:
            if reason == "visitor_sign_out":
                out.log(
                    ev.VISITOR_SIGNED_OUT, actor=actor, slot=slot.number, visitor=slot.visitor_name
                )
            slot.move(S.FREE, now.wall)
            out.effects.append(CustodyEnded(slot.number, reason or "collected"))
            self._clear(slot)
        if not slot.door_open:
            # The sensor saw the device go with the door switch shut: lock at once
            # rather than wait for a door event that may never come.
            slot.locked = True
            out.lock(slot, "collected")

    def _on_fault(self, event: Fault, now: Instant, out: Outcome) -> None:
        out.alert(
            ev.ALERT_HARDWARE_FAULT,
            f"{event.component}: {event.message}",
            slot=event.slot,
            component=event.component,
        )

    # ------------------------------------------------------ manager commands

    def _person(self, person_id: int) -> PersonInfo:
        person = self.roster.people.get(person_id)
        if person is None:
            raise NotFound(f"no person with id {person_id}")
        return person

    def _slot(self, number: int) -> SlotView:
        slot = self.slots.get(number)
        if slot is None:
            raise NotFound(f"no slot {number}")
        return slot

    def _on_grant(self, event: GrantCreated, now: Instant, out: Outcome) -> None:
        grant = event.grant
        person = self._person(grant.person_id)
        slot = self.slot_of(person.id)
        if grant.open_now and (slot is None or slot.state is not S.HELD):
            # "Open now" means now: a grant that cannot open at once would wait for
            # the person's next badge and release the device again after it went
            # back in, long after the manager meant it.
            raise InvalidRequest(
                f"{person.name}'s device is not locked in a slot, so there is nothing to "
                "open now; grant it for their next badge instead"
            )
        out.log(
            ev.GRANT_CREATED,
            actor=grant.created_by,
            person_id=person.id,
            grant_id=grant.id,
            reason=grant.reason,
            note=grant.note,
            open_now=grant.open_now,
            return_minutes=grant.return_minutes,
            valid_until=grant.valid_until.isoformat(),
            client=grant.client,
        )
        self.grants[grant.id] = grant
        out.result["grant_id"] = grant.id
        if grant.open_now:
            self._release_for_grant(slot, person, grant, now, out)
        else:
            out.result["waiting_for_badge"] = True

    def _on_release_slot(self, event: ReleaseSlot, now: Instant, out: Outcome) -> None:
        slot = self._slot(event.slot)
        if slot.state is not S.HELD:
            raise InvalidRequest(f"slot {slot.number} is {slot.state.value}, not holding a device")
        if not event.reason.strip():
            raise InvalidRequest("a reason is needed to release a slot")
        out.log(
            ev.RELEASE_MANAGER,
            actor=event.account,
            slot=slot.number,
            person_id=slot.owner,
            reason=event.reason,
            client=event.client,
        )
        kind = "visitor_sign_out" if slot.kind == "visitor" else "manager"
        self._open_for_release(slot, kind, None, now, out, actor=event.account)

    def _on_release_all(self, event: ReleaseAll, now: Instant, out: Outcome) -> None:
        if not event.reason.strip():
            raise InvalidRequest("release-all needs a reason")
        held = [s for s in self.slots.values() if s.state is S.HELD]
        out.log(
            ev.RELEASE_ALL,
            actor=event.account,
            reason=event.reason,
            client=event.client,
            slots=[s.number for s in held],
        )
        for slot in held:
            self._open_for_release(slot, "all", None, now, out, actor=event.account)
        out.result["slots"] = [s.number for s in held]

    def _on_visitor_in(self, event: SignInVisitor, now: Instant, out: Outcome) -> None:
        name = event.name.strip()
        if not name:
            raise InvalidRequest("the visitor's name is needed")
        if event.slot is not None:
            slot = self._slot(event.slot)
            if slot.kind != "visitor" or slot.state is not S.FREE:
                raise InvalidRequest(f"slot {slot.number} is not a free visitor slot")
        else:
            slot = next(
                (s for s in self.slots.values() if s.kind == "visitor" and s.state is S.FREE), None
            )
            if slot is None:
                raise InvalidRequest("no visitor slot is free")
        slot.visitor_name = name
        out.log(
            ev.VISITOR_SIGNED_IN,
            actor=event.account,
            slot=slot.number,
            visitor=name,
            client=event.client,
        )
        self._open_for_deposit(slot, None, None, "visitor", now, out, actor=event.account)

    def _on_visitor_out(self, event: SignOutVisitor, now: Instant, out: Outcome) -> None:
        slot = self._slot(event.slot)
        if slot.kind != "visitor" or slot.state is not S.HELD:
            raise InvalidRequest(f"slot {slot.number} holds no visitor's device")
        out.log(
            ev.RELEASE_MANAGER,
            actor=event.account,
            slot=slot.number,
            reason="visitor signed out",
            visitor=slot.visitor_name,
            client=event.client,
        )
        self._open_for_release(slot, "visitor_sign_out", None, now, out, actor=event.account)

    def _on_stock(self, event: StockSettingSlot, now: Instant, out: Outcome) -> None:
        slot = self._slot(event.slot)
        if slot.kind != "setting" or slot.state is not S.FREE:
            raise InvalidRequest(f"slot {slot.number} is not an empty setting slot")
        self._open_for_deposit(slot, None, None, "stock", now, out, actor=event.account)

    # --------------------------------------------------------------- timers

    def _check_timers(self, now: Instant, out: Outcome) -> None:
        for slot in self.slots.values():
            self._slot_timers(slot, now, out)
        for grant in list(self.grants.values()):
            if now.wall >= grant.valid_until:
                del self.grants[grant.id]
                out.log(
                    ev.GRANT_EXPIRED,
                    actor=grant.created_by,
                    person_id=grant.person_id,
                    grant_id=grant.id,
                )
                out.effects.append(GrantExpired(grant.id))
        if self.refusal is not None:
            window = max(self.rules.approval_window_s, self.rules.setting_checkout_window_s)
            if now.mono - self.refusal.mono > window:
                self.refusal = None
        if self.clock_trusted:
            self._schedule(now, out)

    def _slot_timers(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        if slot.deadline is not None and now.mono >= slot.deadline and not slot.door_open:
            self._relock_unopened(slot, now, out)
        if (
            slot.door_open
            and not slot.door_alerted
            and slot.door_opened_mono is not None
            and now.mono - slot.door_opened_mono >= self.rules.door_left_open_s
        ):
            slot.door_alerted = True
            out.alert(
                ev.ALERT_DOOR_LEFT_OPEN,
                f"Slot {slot.label or slot.number}: door left open.",
                slot=slot.number,
                person_id=slot.owner,
            )
            out.signal("alert")
        grace = timedelta(minutes=self.rules.overdue_grace_min)
        if (
            slot.state is S.OUT
            and slot.return_due is not None
            and not slot.overdue_alerted
            and self.clock_trusted
            and now.wall > slot.return_due + grace
        ):
            slot.overdue_alerted = True
            self.dirty.add(slot.number)
            person = self.roster.people.get(slot.owner) if slot.owner is not None else None
            who = person.name if person else "a device"
            what = "setting device" if slot.kind == "setting" else "device"
            out.alert(
                ev.ALERT_OVERDUE,
                f"{who}: {what} from slot {slot.label or slot.number} "
                f"was due back at {slot.return_due.astimezone(self.tz):%H:%M}.",
                slot=slot.number,
                person_id=slot.owner,
                due=slot.return_due.isoformat(),
                setting=slot.kind == "setting",
            )

    def _not_collected(self, slot: SlotView, now: Instant) -> None:
        """A released device nobody took stays held; a checkout's borrower is forgotten."""
        slot.move(S.HELD, now.wall)
        if slot.reason == "checkout":
            slot.owner = None
        slot.reason = None
        slot.return_due = None

    def _relock_unopened(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        slot.deadline = None
        slot.locked = True
        self.dirty.add(slot.number)
        out.lock(slot, "timeout")
        if slot.state is S.OPEN_FOR_RELEASE:
            out.log(ev.RELEASE_TIMEOUT, slot=slot.number, person_id=slot.owner, reason=slot.reason)
            slot.unopened_releases += 1
            if slot.unopened_releases == STUCK_LOCK_RELEASES:
                out.alert(
                    ev.ALERT_HARDWARE_FAULT,
                    f"Slot {slot.label or slot.number}: opened {STUCK_LOCK_RELEASES} times in a "
                    "row without the door moving: the lock or its driver may be stuck.",
                    slot=slot.number,
                    person_id=slot.owner,
                    component="lock",
                )
            self._not_collected(slot, now)
        elif slot.reason in ("return", "setting_return"):
            slot.move(S.OUT, now.wall)
        else:
            slot.move(S.FREE, now.wall)
            self._clear(slot)

    def _closing_at(self, at: datetime) -> datetime:
        day = self.local_day(at)
        return datetime.combine(day, self.rules.closing, tzinfo=self.tz).astimezone(at.tzinfo)

    def _schedule(self, now: Instant, out: Outcome) -> None:
        today = self.local_day(now.wall)
        for (person_id, day), shift in self.roster.shifts.items():
            if day != today:
                continue
            self._shift_end(person_id, shift, now, out)
            self._no_deposit(person_id, shift, now, out)
        closing = self._closing_at(now.wall)
        if today not in self.closing_done and self.schedule_from <= closing <= now.wall:
            self.closing_done.add(today)
            self._closing(now, out)
            self.forgotten_due[today] = closing + timedelta(minutes=self.rules.forgotten_after_min)
        for day, due in list(self.forgotten_due.items()):
            if now.wall >= due:
                del self.forgotten_due[day]
                self._forgotten(out)

    def _shift_end(self, person_id: int, shift, now: Instant, out: Outcome) -> None:
        key = (person_id, shift.day)
        if key in self.shift_end_done or not self.schedule_from <= shift.end <= now.wall:
            return
        self.shift_end_done.add(key)
        slot = self.slot_of(person_id)
        if slot is None or slot.state is not S.HELD:
            return
        lock = self.config.lock
        if lock.type == "pulse" and not lock.open_on_shift_end:
            return  # the owner's next badge releases it (rule 2)
        person = self.roster.people.get(person_id)
        out.log(
            ev.RELEASE_SHIFT_END,
            actor="daemon",
            slot=slot.number,
            person_id=person_id,
            person=person.name if person else None,
            automatic=True,
        )
        self._open_for_release(slot, "shift_end", None, now, out, actor="daemon")

    def _no_deposit(self, person_id: int, shift, now: Instant, out: Outcome) -> None:
        key = (person_id, shift.day)
        due = shift.start + timedelta(minutes=self.rules.no_deposit_grace_min)
        if key in self.no_deposit_alerted or not due <= now.wall < shift.end:
            return
        person = self.roster.people.get(person_id)
        if person is None or not person.active or person.role == "visitor":
            return
        slot = self.slot_of(person_id)
        if slot is not None and slot.state is not S.FREE:
            return
        self.no_deposit_alerted.add(key)
        declared = key in self.declared_empty
        note = " (said they had no device)" if declared else ""
        out.alert(
            ev.ALERT_NO_DEPOSIT,
            f"{person.name} is on shift with no device deposited{note}.",
            person_id=person_id,
            declared_empty=declared,
        )

    def _closing(self, now: Instant, out: Outcome) -> None:
        for slot in self.slots.values():
            if slot.kind == "setting":
                continue  # the setting's own devices stay on site
            if slot.state is S.HELD:
                out.log(ev.RELEASE_CLOSING, actor="daemon", slot=slot.number, person_id=slot.owner)
                self._open_for_release(slot, "closing", None, now, out, actor="daemon")
            elif slot.state is S.OUT:
                out.log(
                    ev.RELEASE_CLOSING,
                    actor="daemon",
                    slot=slot.number,
                    person_id=slot.owner,
                    device_out=True,
                )
                slot.move(S.FREE, now.wall)
                out.effects.append(CustodyEnded(slot.number, "closing"))
                self._clear(slot)
                self.dirty.add(slot.number)

    def _forgotten(self, out: Outcome) -> None:
        for slot in self.slots.values():
            if slot.kind != "setting" and slot.device_present:
                out.alert(
                    ev.ALERT_FORGOTTEN_DEVICE,
                    f"Slot {slot.label or slot.number}: a device was left after closing.",
                    slot=slot.number,
                    person_id=slot.owner,
                )

    # ----------------------------------------------------------- reconcile

    def _reconcile(
        self, slot: SlotView, reading: SensorReading, now: Instant, out: Outcome
    ) -> None:
        was_open = slot.state in UNLOCKED_STATES
        # The lock starts locked whatever the stored state said; a slot whose
        # door is still open finishes its deposit or release when it shuts.
        slot.locked = True
        slot.deadline = None
        self.dirty.add(slot.number)
        if reading.device_present != slot.device_present:
            self._on_device(DeviceChanged(slot.number, reading.device_present), now, out)
        door_changed = reading.door_open != slot.door_open
        if door_changed:
            slot.door_open = reading.door_open
            kind = ev.DOOR_OPENED if reading.door_open else ev.DOOR_CLOSED
            forced = reading.door_open and not was_open
            out.log(
                kind,
                slot=slot.number,
                person_id=slot.owner,
                while_down=True,
                **({"forced": True} if forced else {}),
            )
            if forced:
                out.alert(
                    ev.ALERT_DOOR_FORCED,
                    f"Slot {slot.label or slot.number}: door opened while the controller was down.",
                    slot=slot.number,
                    person_id=slot.owner,
                )
        if reading.door_open:
            slot.door_opened_mono = now.mono
            if door_changed:
                # A door that stayed open keeps the alert it already had (restored
                # from the stored alerts); a newly opened one may raise its own.
                slot.door_alerted = False
        if not was_open:
            return
        if reading.door_open and slot.state in UNLOCKED_STATES:
            slot.locked = False
            return
        if slot.state is S.OPEN_FOR_DEPOSIT:
            self._finish_deposit(slot, now, out)
        elif slot.state is S.OPEN_FOR_RELEASE:
            self._not_collected(slot, now)
            out.lock(slot, "restart")
        else:
            out.lock(slot, "restart")
