"""Timers and the schedule: slots that relock unopened, doors left open,
devices overdue, grants that expire, shift ends, deposits missing at a
shift's start, closing time and devices forgotten after it.
"""

from __future__ import annotations

from datetime import date, timedelta

from locker import events as ev
from locker.clock import Instant
from locker.custody.base import RulesBase
from locker.custody.slots import STUCK_LOCK, STUCK_LOCK_RELEASES, S, SlotView
from locker.decisions import CustodyEnded, GrantExpired, Outcome

#: A shift-end release acted on this long after the shift ended (its slot could not be
#: checked until then) is logged with ``late``.
LATE = timedelta(minutes=1)


class ScheduleRules(RulesBase):
    """What the passing of time does, checked after every input."""

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

    def _relock_unopened(self, slot: SlotView, now: Instant, out: Outcome) -> None:
        slot.deadline = None
        slot.locked = True
        self.dirty.add(slot.number)
        out.lock(slot, "timeout")
        if slot.state is S.OPEN_FOR_RELEASE:
            out.log(ev.RELEASE_TIMEOUT, slot=slot.number, person_id=slot.owner, reason=slot.reason)
            slot.unopened_releases += 1
            if slot.unopened_releases >= STUCK_LOCK_RELEASES and not slot.lock_stuck:
                slot.lock_stuck = True
                out.alert(
                    ev.ALERT_HARDWARE_FAULT,
                    f"Slot {slot.label or slot.number}: opened {STUCK_LOCK_RELEASES} times in a "
                    "row without the door moving: the lock or its driver may be stuck.",
                    slot=slot.number,
                    person_id=slot.owner,
                    component=STUCK_LOCK,
                )
            self._not_collected(slot, now)
        elif slot.reason in ("return", "setting_return"):
            slot.move(S.OUT, now.wall)
        else:
            slot.move(S.FREE, now.wall)
            self._clear(slot)

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
            self.closing_skipped = {today: set()}
            for slot in self.slots.values():
                self._close(slot, today, now, out)
            self.forgotten_due[today] = closing + timedelta(minutes=self.rules.forgotten_after_min)
        elif self.closing_skipped.get(today):
            # Slots whose door was unknown at closing: closed once they can be checked,
            # the same day only (tomorrow's staff are depositing by then).
            for number in sorted(self.closing_skipped[today]):
                self._close(self.slots[number], today, now, out, late=True)
        for day, due in list(self.forgotten_due.items()):
            if now.wall >= due:
                del self.forgotten_due[day]
                self._forgotten(out)

    def _shift_end(self, person_id: int, shift, now: Instant, out: Outcome) -> None:
        key = (person_id, shift.day)
        if key in self.shift_end_done or not self.schedule_from <= shift.end <= now.wall:
            return
        slot = self.slot_of(person_id)
        if slot is not None and slot.state is S.HELD and not self.checkable(slot):
            # Its door is unknown: not now. Looked at again at every tick of the day,
            # so it opens once its hardware answers, if the shift has still ended.
            return
        self.shift_end_done.add(key)
        if slot is None or slot.state is not S.HELD:
            return
        lock = self.config.lock
        if lock.type == "pulse" and not lock.open_on_shift_end:
            return  # the owner's next badge releases it (rule 2)
        person = self.roster.people.get(person_id)
        late = {"late": True} if now.wall - shift.end > LATE else {}
        out.log(
            ev.RELEASE_SHIFT_END,
            actor="daemon",
            slot=slot.number,
            person_id=person_id,
            person=person.name if person else None,
            automatic=True,
            **late,
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

    def _close(
        self, slot: SlotView, today: date, now: Instant, out: Outcome, *, late: bool = False
    ) -> None:
        """Closing time for ``slot``: a held device is released, one out is let go.

        A slot whose door is unknown stays shut and is remembered in
        ``closing_skipped`` for today, to be closed once it can be checked.
        """
        skipped = self.closing_skipped.setdefault(today, set())
        skipped.discard(slot.number)
        if slot.kind == "setting" or slot.state not in (S.HELD, S.OUT):
            return  # the setting's own devices stay on site
        if not self.checkable(slot):
            skipped.add(slot.number)
            return
        extra = {"late": True} if late else {}
        if slot.state is S.HELD:
            out.log(
                ev.RELEASE_CLOSING, actor="daemon", slot=slot.number, person_id=slot.owner, **extra
            )
            self._open_for_release(slot, "closing", None, now, out, actor="daemon")
        elif slot.state is S.OUT:
            out.log(
                ev.RELEASE_CLOSING,
                actor="daemon",
                slot=slot.number,
                person_id=slot.owner,
                device_out=True,
                **extra,
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
