"""Doors and sensors: a door opening or shutting, a device appearing or taken,
a hardware fault, and the reconciliation of stored state with the sensors
after a restart.
"""

from __future__ import annotations

from locker import events as ev
from locker.clock import Instant
from locker.custody.base import RulesBase
from locker.custody.slots import STUCK_LOCK, TEMPORARY_REASONS, S, SlotView
from locker.decisions import (
    CustodyEnded,
    CustodyStarted,
    DeviceChanged,
    DoorChanged,
    Fault,
    FaultCleared,
    HardwareRecovered,
    Outcome,
    SensorReading,
)
from locker.states import UNLOCKED_STATES


class PhysicalRules(RulesBase):
    """What the doors' switches and the devices' sensors report."""

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
        if slot.lock_stuck and not forced:
            # The door moved on an unlock: the lock reported stuck works again.
            slot.lock_stuck = False
            why = f"the lock of slot {slot.label or slot.number} works again: its door opened"
            out.effects.append(FaultCleared(STUCK_LOCK, why, slot=slot.number))
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
        if event.unit is not None and event.unit in self.unchecked:
            return  # the same outage, already alerted (before a restart, say)
        message = f"{event.component}: {event.message}"
        extra = {}
        if event.unit is not None:
            # Its doors and sensors are unknown until it answers: nothing there opens.
            self.unchecked[event.unit] = tuple(event.slots)
            extra["unit"] = event.unit
        if event.slots:
            message += f"; {slot_span(event.slots)} cannot be checked"
            extra["slots"] = list(event.slots)
        out.alert(
            ev.ALERT_HARDWARE_FAULT, message, slot=event.slot, component=event.component, **extra
        )

    def _on_recovered(self, event: HardwareRecovered, now: Instant, out: Outcome) -> None:
        if event.unit is not None and self.unchecked.pop(event.unit, None) is None:
            return  # it was not down
        name = event.component if event.unit is None else f"{event.component} {event.unit}"
        why = event.why or f"the {name} answers again"
        out.effects.append(FaultCleared(event.component, why, event.unit))

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


def slot_span(numbers: tuple[int, ...] | list[int]) -> str:
    """Slots in words: ``"slot 4"``, ``"slots 9–13"`` (a run), ``"slots 2, 5 and 7"``."""
    ordered = sorted(numbers)
    if len(ordered) == 1:
        return f"slot {ordered[0]}"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"slots {ordered[0]}–{ordered[-1]}"
    return f"slots {', '.join(map(str, ordered[:-1]))} and {ordered[-1]}"
