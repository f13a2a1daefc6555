"""What every family of rules shares: the rules' state and the moves that open,
shut and clear a slot.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from locker import events as ev
from locker.clock import Instant
from locker.config import Config, RulesConfig
from locker.custody.slots import Refusal, S, SlotView
from locker.decisions import GrantInfo, Outcome
from locker.errors import InvalidRequest, NotFound
from locker.roster import PersonInfo, Roster
from locker.states import OWNED_STATES


class RulesBase:
    """The state the custody rules keep, and the moves every family of rules makes.

    :class:`~locker.custody.rules.CustodyRules` sets every attribute in its
    ``__init__``; the annotations here let each family of rules (badges,
    doors and sensors, manager commands, schedule timers, the clock's trust)
    name the state it works on.
    """

    config: Config
    rules: RulesConfig
    tz: ZoneInfo
    roster: Roster
    slots: dict[int, SlotView]
    grants: dict[int, GrantInfo]
    schedule_from: datetime
    last_instant: Instant
    jumped_at: float | None
    clock_trusted: bool
    refusal: Refusal | None
    unknown_reads: deque[float]
    shift_end_done: set[tuple[int, date]]
    no_deposit_alerted: set[tuple[int, date]]
    declared_empty: set[tuple[int, date]]
    closing_done: set[date]
    closing_skipped: dict[date, set[int]]
    forgotten_due: dict[date, datetime]
    dirty: set[int]
    unchecked: dict[str, tuple[int, ...]]

    def slot_of(self, person_id: int, kind: str = "staff") -> SlotView | None:
        """The slot of ``kind`` that belongs to ``person_id``, if any."""
        for slot in self.slots.values():
            if slot.kind == kind and slot.owner == person_id and slot.state in OWNED_STATES:
                return slot
        return None

    def checkable(self, slot: SlotView) -> bool:
        """False while the hardware serving ``slot``'s door and sensor does not answer
        (its door is unknown, so nothing opens it)."""
        return not any(slot.number in numbers for numbers in self.unchecked.values())

    def _must_be_checkable(self, slot: SlotView) -> None:
        if not self.checkable(slot):
            raise InvalidRequest(
                f"slot {slot.number} cannot be checked (its expander does not answer): "
                "nothing there opens until it does"
            )

    def local_day(self, moment: datetime) -> date:
        """The site's local date at ``moment``."""
        return moment.astimezone(self.tz).date()

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
            self.refusal = Refusal(person.id, slot.number, now.mono, uid)

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
        self._must_be_checkable(slot)
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
        self._must_be_checkable(slot)
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

    def _clear(self, slot: SlotView) -> None:
        slot.owner = None
        slot.visitor_name = None
        slot.reason = None
        slot.return_due = None
        slot.grant_id = None
        slot.overdue_alerted = False

    def _not_collected(self, slot: SlotView, now: Instant) -> None:
        """A released device nobody took stays held; a checkout's borrower is forgotten."""
        slot.move(S.HELD, now.wall)
        if slot.reason == "checkout":
            slot.owner = None
        slot.reason = None
        slot.return_due = None

    def _closing_at(self, at: datetime) -> datetime:
        day = self.local_day(at)
        return datetime.combine(day, self.rules.closing, tzinfo=self.tz).astimezone(at.tzinfo)
