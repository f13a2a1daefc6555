"""What the custody rules know about people: who they are, their badges and shifts.

A :class:`Roster` is an immutable snapshot; the daemon loads a fresh one from
the database when people, badges or the rota change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from locker.errors import InvalidRequest

_UID_SEPARATORS = re.compile(r"[\s:\-]")
_HEX = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")


def normalise_uid(text: str) -> str:
    """A badge UID as stored: the card's bytes in upper-case hex, no separators.

    Accepts ``de:ad:be:ef``, ``DE AD BE EF`` and ``deadbeef``; 4-, 7- and
    10-byte UIDs are valid.
    """
    uid = _UID_SEPARATORS.sub("", text).upper()
    if not _HEX.match(uid):
        raise InvalidRequest(f"badge UID {text!r} is not 4, 7 or 10 bytes of hex (e.g. DEADBEEF)")
    return uid


@dataclass(frozen=True)
class PersonInfo:
    """A person as the rules see them."""

    id: int
    name: str
    #: ``staff``, ``manager`` or ``visitor``.
    role: str = "staff"
    #: Their own slot when assignment is ``fixed``.
    slot_number: int | None = None
    setting_authorised: bool = False
    active: bool = True

    @property
    def is_manager(self) -> bool:
        """Managers (and deputies) can approve a release on the spot."""
        return self.role == "manager"


@dataclass(frozen=True)
class ShiftInfo:
    """One shift, times in UTC."""

    person_id: int
    day: date
    start: datetime
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class Roster:
    """People, their badges and their shifts around today."""

    people: dict[int, PersonInfo] = field(default_factory=dict)
    #: Active badge UID → person id.
    badges: dict[str, int] = field(default_factory=dict)
    #: Revoked badge UID → person id (so a refusal can name who it was).
    revoked: dict[str, int] = field(default_factory=dict)
    #: (person id, local day) → shift.
    shifts: dict[tuple[int, date], ShiftInfo] = field(default_factory=dict)

    def shift(self, person_id: int, day: date) -> ShiftInfo | None:
        """The person's shift on local ``day``, if any."""
        return self.shifts.get((person_id, day))

    def shifts_on(self, day: date) -> list[ShiftInfo]:
        """Every shift on local ``day``."""
        return [s for (_, d), s in self.shifts.items() if d == day]
