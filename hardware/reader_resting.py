"""A card left on the reader: halted after its read, then only checked for now and then.

A card answers REQA only from its IDLE state. After the reader halts it
(HLTA), it answers only WUPA until it leaves the field: so the reader's
ordinary polls (REQA) cost what an empty field costs, and a card that answers a
REQA again was powered afresh, i.e. it left and came back. To notice that a
halted card left, the reader sends WUPA instead of REQA once every
``check_s``; :class:`RestingCard` keeps that schedule and what the checks
showed.
"""

from __future__ import annotations

#: Silent REQA polls after an answered WUPA that prove the halted card answered it.
CONFIRMING_POLLS = 2


class RestingCard:
    """The card halted on the reader (``uid``), and when it was last known to be there.

    WUPA wakes a card that has just come back (IDLE) as well as the halted one,
    so an answered check is confirmed only by the REQA polls after it: the
    first sends either card back quietly (READY to IDLE, READY* to HALT; ISO
    14443-3), and the second is answered only by a card that came back.
    :meth:`quiet_poll` gives the check's time once ``CONFIRMING_POLLS`` of
    them stayed silent.
    """

    def __init__(self, check_s: float):
        if check_s <= 0:
            raise ValueError("check_s must be positive")
        self.check_s = check_s
        self.uid: str | None = None
        self._next_check = float("inf")
        self._answered_at: float | None = None
        self._silent_polls = 0

    def halted(self, uid: str, now: float) -> None:
        """The card ``uid`` was read and halted at ``now``."""
        self.uid = uid
        self._next_check = now + self.check_s
        self._answered_at = None

    def due(self, now: float) -> bool:
        """True when this poll should be a WUPA for the halted card."""
        return self.uid is not None and now >= self._next_check

    def checked(self, answered: bool, now: float) -> None:
        """The WUPA at ``now`` was answered, or not: then the card has gone."""
        if not answered:
            self.forget()
            return
        self._answered_at = now
        self._silent_polls = 0
        self._next_check = now + self.check_s

    def quiet_poll(self) -> float | None:
        """A REQA nobody answered; the time of the check it confirms, if it is the last needed."""
        if self._answered_at is None:
            return None
        self._silent_polls += 1
        if self._silent_polls < CONFIRMING_POLLS:
            return None
        seen, self._answered_at = self._answered_at, None
        return seen

    def forget(self) -> None:
        """No card is halted here (it left, came back awake, or the chip was reset)."""
        self.uid = None
        self._next_check = float("inf")
        self._answered_at = None
