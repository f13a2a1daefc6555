"""What became of a move in the simulator, in words, from what the daemon logged.

A simulator command is done as soon as the simulated world has moved: the card
lies on the reader, the door stands open. The daemon decides a moment later,
when its reader thread polls the card or the door's switch has settled, and
logs the decision. So after the command the panel watches the event log, for
a short and bounded while, for the events that answer the move, and says them
("Alice's badge opened slot 1 for her device to go in", "Refused: …", "Card
… is not known"). What the daemon has not logged by then shows under the
simulator's latest events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locker import events as ev
from locker.log.personal import ShownEvent, shown_events
from locker.models import Badge, Event, Person, Slot
from web.words import (
    SIM_LOCKED_BECAUSE,
    SIM_OPENED_FOR,
    alert_words,
    reason_words,
    state_words,
)

#: Seconds the panel watches the log for the daemon's answer (app config
#: ``LOCKER_SIM_WATCH_S``): the reader polls every 0.1 s, a door settles in less.
WATCH_S = 2.0
POLL_S = 0.05
#: The most events one move can cause (a deposit: door, device, lock, deposit).
WATCH_LIMIT = 50

#: The events that are the daemon's answer to a card at the reader.
BADGE_DECISIONS = (ev.BADGE_GRANTED, ev.BADGE_REFUSED, ev.BADGE_UNKNOWN, ev.APPROVAL_ON_THE_SPOT)

NOT_DECIDED = "the controller has not decided yet: its answer will show under Latest events."


def log_mark(session: Session) -> int:
    """The newest event's id: the simulator's move is answered by events after it."""
    return session.scalar(select(func.max(Event.id))) or 0


@dataclass(frozen=True)
class Watch:
    """A bounded watch of the log; ``clock`` and ``sleep`` are injected (tests jump time)."""

    wait_s: float = WATCH_S
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def until(
        self,
        read: Callable[[], list[ShownEvent]],
        answered: Callable[[list[ShownEvent]], bool],
    ) -> list[ShownEvent]:
        """``read()`` until ``answered`` by what it read, or until the wait is over."""
        deadline = self.clock() + self.wait_s
        while True:
            seen = read()
            if answered(seen) or self.clock() >= deadline:
                return seen
            self.sleep(POLL_S)


def events_after(session: Session, mark: int) -> list[ShownEvent]:
    """Events logged after ``mark``, oldest first, with names in place of references."""
    rows = session.scalars(
        select(Event).where(Event.id > mark).order_by(Event.id).limit(WATCH_LIMIT)
    ).all()
    return shown_events(session, rows)


def details_of(event: ShownEvent) -> dict[str, Any]:
    """An event's details as a dict (a non-object shows as none)."""
    try:
        details = json.loads(event.details or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


# ------------------------------------------------------------------- a card


@dataclass(frozen=True)
class Card:
    """The card held to the reader and whose it is, looked up before the tap."""

    uid: str
    person_id: int | None = None
    name: str | None = None

    @classmethod
    def look_up(cls, session: Session, uid: str) -> Card:
        """The card's holder, if a badge in use has this number."""
        row = session.execute(
            select(Person.id, Person.name)
            .join(Badge, Badge.person_id == Person.id)
            .where(Badge.uid == uid, Badge.revoked_at.is_(None))
        ).first()
        return cls(uid, row[0], row[1]) if row else cls(uid)

    def decision(self, seen: Sequence[ShownEvent]) -> ShownEvent | None:
        """The daemon's decision on this card among ``seen``, if it is there."""
        for event in seen:
            details = details_of(event)
            if event.kind == ev.APPROVAL_ON_THE_SPOT:
                mine = self.person_id is not None and details.get("manager_id") == self.person_id
            else:
                mine = str(details.get("uid", "")).upper() == self.uid.upper()
            if mine and event.kind in BADGE_DECISIONS:
                return event
        return None

    def outcome(self, seen: Sequence[ShownEvent]) -> str:
        """The decision on this card in words, or that there is none yet."""
        decision = self.decision(seen)
        if decision is None:
            return f"Card {self.uid} held to the reader; {NOT_DECIDED}"
        details = details_of(decision)
        who = self.name or decision.actor
        badge = f"{who}'s badge" if who else f"Card {self.uid}"
        if decision.kind == ev.BADGE_UNKNOWN:
            if details.get("reason") == "storage":
                return f"Card {self.uid}: the locker could not write its log, so nothing opened."
            return (
                f"Card {self.uid} is not known: nothing opened. "
                "To give it to somebody, enrol it on their People page."
            )
        if decision.kind == ev.BADGE_REFUSED:
            why = details.get("explanation") or reason_words(str(details.get("reason", "")))
            refused = f"{who}'s badge" if who else f"card {self.uid}"
            return f"Refused: {refused} opened nothing. {sentence(why)}"
        if decision.kind == ev.APPROVAL_ON_THE_SPOT:
            person = details.get("person") or "the refused person"
            return (
                f"{who or 'A manager'} approved on the spot: slot {decision.slot} is open "
                f"for {person}'s device to be taken."
            )
        action = str(details.get("action", ""))
        opened = SIM_OPENED_FOR.get(action, "")
        if action == "release" and details.get("reason"):
            opened += f" ({reason_words(str(details['reason']))})"
        return f"{badge} opened slot {decision.slot} {opened}".rstrip() + "."


def sentence(text: str) -> str:
    """``text`` as a sentence: a capital first and a full stop last."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ------------------------------------------------------------------- a slot


#: The log's answer to each move of a door or a device.
MOVED = {
    ("door", True): ev.DOOR_OPENED,
    ("door", False): ev.DOOR_CLOSED,
    ("device", True): ev.DEVICE_DETECTED,
    ("device", False): ev.DEVICE_REMOVED,
}


@dataclass(frozen=True)
class SlotMove:
    """A door or a device moved in one slot, and what the daemon should log for it."""

    number: int
    expected: frozenset[str]

    @classmethod
    def look_up(cls, session: Session, number: int, door: str | None, device: bool | None):
        """The events to wait for: only a real change is logged (a shut door shut again is not)."""
        slot = session.get(Slot, number)
        expected = set()
        if door is not None and (slot is None or slot.door_open != (door == "open")):
            expected.add(MOVED[("door", door == "open")])
        if device is not None and (slot is None or slot.device_present != device):
            expected.add(MOVED[("device", device)])
        return cls(number, frozenset(expected))

    def mine(self, seen: Sequence[ShownEvent]) -> list[ShownEvent]:
        """The events of this slot among ``seen``."""
        return [e for e in seen if e.slot == self.number]

    def answered(self, seen: Sequence[ShownEvent]) -> bool:
        """True once every expected change of this slot is in the log."""
        return self.expected <= {e.kind for e in self.mine(seen)}

    def outcome(self, seen: Sequence[ShownEvent], state: str | None) -> str:
        """What the move led to, in words: a deposit, a locked slot, an alert…"""
        if not self.expected:
            return "Nothing changed."
        if not self.answered(seen):
            return sentence(NOT_DECIDED)
        said = [consequence(e) for e in self.mine(seen)]
        said = [s for s in said if s]
        if not said and state is not None:
            said.append(f"The slot is now: {state_words(state).lower()}.")
        return " ".join(said)


def consequence(event: ShownEvent) -> str:
    """One event a move caused, as a sentence; "" for the move itself."""
    details = details_of(event)
    name = event.actor
    if event.kind == ev.DEPOSIT_CONFIRMED:
        whose = f"{name}'s" if name else "The"
        back = "back in" if details.get("returned") else "in"
        return f"{whose} device is {back} slot {event.slot}: the slot locked."
    if event.kind == ev.DEPOSIT_EMPTY:
        return "No device was put in: the slot locked again."
    if event.kind == ev.SETTING_RETURNED:
        return "The setting's device is back: the slot locked."
    if event.kind == ev.SETTING_CHECKED_OUT:
        return f"{name or 'Somebody'} has the setting's device."
    if event.kind == ev.VISITOR_SIGNED_OUT:
        return f"{details.get('visitor') or 'The visitor'} has their phone back."
    if event.kind == ev.ALERT_RAISED:
        alert = str(details.get("alert", ""))
        if alert == ev.ALERT_DOOR_FORCED:
            return "It was locked: that is a forced door (an alert is raised)."
        return f"Alert raised: {alert_words(alert).lower()}."
    if event.kind == ev.SLOT_LOCKED:
        return SIM_LOCKED_BECAUSE.get(str(details.get("reason", "")), "")
    return ""
