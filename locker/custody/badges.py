"""Badges: a read at the reader deposits, returns or releases a device, or is
refused; a manager's badge approves a refusal on the spot; an authorised
person's second badge checks out a setting device.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from locker import events as ev
from locker.clock import Instant
from locker.custody.base import RulesBase
from locker.custody.slots import S, SlotView
from locker.decisions import BadgeNotServed, BadgeRead, GrantInfo, GrantUsed, Outcome, SlowReader
from locker.roster import PersonInfo
from locker.states import UNLOCKED_STATES


class BadgeRules(RulesBase):
    """What a badge read at the reader does."""

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
        if self._unchecked_refusal(person, uid, now, out):
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

    def _unchecked_refusal(self, person: PersonInfo, uid: str, now: Instant, out: Outcome) -> bool:
        """Refuse a badge whose slot cannot be checked (its expander is silent)."""
        for kind in ("setting", "staff"):
            slot = self.slot_of(person.id, kind)
            if slot is not None and not self.checkable(slot):
                why = f"Slot {slot.label or slot.number} cannot be checked just now."
                self._refuse(person, uid, "cannot_check", why, now, out, slot=slot)
                return True
        return False

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
            if not self.checkable(slot):
                return None
            return slot
        # Dynamic: the first free staff slot no fixed owner is waiting for.
        for slot in self.slots.values():
            if (
                slot.kind == "staff"
                and slot.state is S.FREE
                and not slot.device_present
                and self.checkable(slot)
            ):
                return slot
        return None

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
