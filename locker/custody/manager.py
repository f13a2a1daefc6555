"""A manager's commands from the panel: grants, releases of one slot or all,
visitors signing in and out, stocking a setting slot. A command the rules
refuse raises :class:`~locker.errors.InvalidRequest` or
:class:`~locker.errors.NotFound` and changes nothing.
"""

from __future__ import annotations

from locker import events as ev
from locker.clock import Instant
from locker.custody.base import RulesBase
from locker.custody.slots import S
from locker.decisions import (
    GrantCreated,
    Outcome,
    ReleaseAll,
    ReleaseSlot,
    SignInVisitor,
    SignOutVisitor,
    StockSettingSlot,
)
from locker.errors import InvalidRequest


class ManagerRules(RulesBase):
    """What a manager's command does."""

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
