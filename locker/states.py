"""Slot states and the table of transitions the custody rules may make."""

from __future__ import annotations

import enum

from locker.errors import IllegalTransition


class SlotState(enum.Enum):
    """Where a slot stands. The values are the names of SPEC.md's contract."""

    FREE = "free"  #: empty and locked
    OPEN_FOR_DEPOSIT = "open_for_deposit"  #: unlocked, waiting for a device to go in
    HELD = "held"  #: device in, locked
    OPEN_FOR_RELEASE = "open_for_release"  #: unlocked, waiting for the device to be taken
    OUT = "out"  #: device taken on a break or approved release; slot kept for its owner


#: States in which the lock has been told to open.
UNLOCKED_STATES = frozenset({SlotState.OPEN_FOR_DEPOSIT, SlotState.OPEN_FOR_RELEASE})
#: States in which the slot belongs to somebody.
OWNED_STATES = frozenset(
    {SlotState.OPEN_FOR_DEPOSIT, SlotState.HELD, SlotState.OPEN_FOR_RELEASE, SlotState.OUT}
)

TRANSITIONS: dict[SlotState, frozenset[SlotState]] = {
    SlotState.FREE: frozenset({SlotState.OPEN_FOR_DEPOSIT, SlotState.HELD}),
    SlotState.OPEN_FOR_DEPOSIT: frozenset({SlotState.HELD, SlotState.FREE, SlotState.OUT}),
    SlotState.HELD: frozenset({SlotState.OPEN_FOR_RELEASE, SlotState.FREE, SlotState.OUT}),
    SlotState.OPEN_FOR_RELEASE: frozenset({SlotState.OUT, SlotState.FREE, SlotState.HELD}),
    SlotState.OUT: frozenset({SlotState.OPEN_FOR_DEPOSIT, SlotState.FREE, SlotState.HELD}),
}
"""Allowed moves. ``free → held`` and ``out → held`` are reconciliations: a device
found in a locked slot at start-up, or put back through a door that was forced.
``held → out`` and ``held → free`` are a device that vanished from a locked slot
(tamper): reserved for its owner, or freed when it had none."""


def check_transition(old: SlotState, new: SlotState) -> None:
    """Raise :class:`IllegalTransition` unless ``old → new`` is in the table."""
    if old is not new and new not in TRANSITIONS[old]:
        raise IllegalTransition(f"slot cannot go from {old.value} to {new.value}")
