"""The plain values of the custody rules: one slot as the rules track it, a
refusal they remember, and why a slot is open or its device out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from locker.states import SlotState, check_transition

S = SlotState

# Why a slot is open or its device out. A device taken for a *temporary*
# reason leaves the slot reserved (``out``); after a *final* one it is free.
TEMPORARY_REASONS = frozenset({"break", "grant", "on_the_spot", "manager", "all", "checkout"})
FINAL_REASONS = frozenset({"shift_end", "closing", "visitor_sign_out"})
#: Releases that depend on the wall clock, suspended while it is not trusted.
SCHEDULE_REASONS = frozenset({"break", "shift_end", "closing"})
#: Releases in a row whose door never opened before a stuck lock is reported.
STUCK_LOCK_RELEASES = 3
#: The ``component`` of a stuck lock's ``hardware_fault`` alert.
STUCK_LOCK = "lock"


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
    #: A stuck lock is reported (an open alert) until an unlock moves the door.
    lock_stuck: bool = False

    def move(self, new: SlotState, at: datetime) -> None:
        """Change state through the transition table."""
        check_transition(self.state, new)
        if new is not self.state:
            self.state = new
            self.since = at


@dataclass
class Refusal:
    """A badge refused at a held slot, remembered for an approval or a checkout."""

    person_id: int
    slot: int
    mono: float
    uid: str
