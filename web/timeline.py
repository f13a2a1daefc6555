"""Each person's day from the log: when their device was in the locker, out, late, overdue.

:func:`timeline` reads logged events alone (no database, no Flask), so the
report's pictures and a test can both build it from a list of events.

How a device that is late back shows: a break or a grant has a time it is due
back. From that time until ``rules.overdue_grace_min`` later the device is
*late* (the grace the rules allow, no alert yet); after that it is *overdue*,
which is when the controller raises its ``overdue`` alert. Both end when the
device is deposited again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from locker import events as ev
from locker.custody import FINAL_REASONS, TEMPORARY_REASONS
from locker.log import parse_ts
from web.log_query import logged_moment, parse_details

HELD = "held"
BREAK = "break"
RELEASE = "release"
LATE = "late"
OVERDUE = "overdue"
TAMPER = "tamper"

#: The kinds :func:`timeline` reads.
TIMELINE_KINDS = frozenset(
    {
        ev.DEPOSIT_CONFIRMED,
        ev.RELEASE_BREAK,
        ev.RELEASE_GRANT,
        ev.SLOT_UNLOCKED,
        ev.SLOT_LOCKED,
        ev.RELEASE_TIMEOUT,
        ev.DEVICE_REMOVED,
        ev.RELEASE_CLOSING,
    }
)


class LoggedEvent(Protocol):
    """What :func:`timeline` needs of an event (a stored :class:`Event` will do)."""

    ts: str
    kind: str
    slot: int | None
    details: str


@dataclass(frozen=True)
class Segment:
    """A stretch of one person's day during which their device was in one condition."""

    kind: str
    start: datetime
    end: datetime
    #: Why a device was out: ``break``, ``grant``, ``on_the_spot``, ``manager``, ``all``
    #: or ``tamper``; ``None`` while it is in the locker.
    reason: str | None = None
    #: When a device that was out was due back, if it had a time.
    due: datetime | None = None


def timeline(
    events: Iterable[LoggedEvent],
    day_start: datetime,
    day_end: datetime,
    *,
    grace: timedelta = timedelta(0),
) -> list[Segment]:
    """One person's device through ``day_start``..``day_end``, from their logged events.

    ``events`` are that person's events in log order; ones before
    ``day_start`` only set where the device stands when the day begins. A
    ``deposit.confirmed`` puts the device in the locker. A ``device.removed``
    after the slot was unlocked for a release takes it out for that reason
    (``slot.unlocked`` carries it; ``release.break`` and ``release.grant``
    carry when it is due back); after a shift-end or closing release it has
    gone home and the picture is blank. A removal nobody unlocked for is
    ``tamper``. A release that was never collected (``slot.locked`` or
    ``release.timeout``) changes nothing. A device out past its due time is
    ``late`` for ``grace``, then ``overdue``. Blank time (no segment) means
    the device was not in the bank's keeping: not yet deposited, or gone home.
    """
    changes: list[tuple[datetime, str | None, str | None, datetime | None]] = []
    due_for: dict[int | None, datetime | None] = {}
    opened_for: dict[int | None, tuple[str, datetime | None]] = {}
    state: str | None = None
    for event in events:
        try:
            at = parse_ts(event.ts)
        except (TypeError, ValueError):
            continue  # altered out of shape: `locker log verify` names it
        details = _details(event.details)
        slot, kind = event.slot, event.kind
        change: tuple[str | None, str | None, datetime | None]
        if kind == ev.DEPOSIT_CONFIRMED:
            change = (HELD, None, None)
        elif kind == ev.RELEASE_BREAK:
            due_for[slot] = logged_moment(details.get("break_end"))
            continue
        elif kind == ev.RELEASE_GRANT:
            due_for[slot] = logged_moment(details.get("return_due"))
            continue
        elif kind == ev.SLOT_UNLOCKED:
            reason = details.get("reason")
            if reason in TEMPORARY_REASONS or reason in FINAL_REASONS:
                opened_for[slot] = (reason, due_for.pop(slot, None))
            else:
                opened_for.pop(slot, None)
            continue
        elif kind in (ev.SLOT_LOCKED, ev.RELEASE_TIMEOUT):
            opened_for.pop(slot, None)
            continue
        elif kind == ev.DEVICE_REMOVED:
            opened = opened_for.pop(slot, None)
            if opened is None:
                if state != HELD:
                    continue  # not the device this person left with the bank
                change = ("out", TAMPER, None)
            elif opened[0] == "checkout":
                continue  # one of the setting's devices, not the person's own
            elif opened[0] in FINAL_REASONS:
                change = (None, None, None)
            else:
                change = ("out", opened[0], opened[1])
        elif kind == ev.RELEASE_CLOSING and details.get("device_out"):
            change = (None, None, None)
        else:
            continue
        changes.append((at, *change))
        state = change[0]
    segments: list[Segment] = []
    for index, (start, what, reason, due) in enumerate(changes):
        end = changes[index + 1][0] if index + 1 < len(changes) else day_end
        if what == HELD:
            parts = [Segment(HELD, start, end)]
        elif what == "out":
            parts = _out(start, end, reason or RELEASE, due, grace)
        else:
            parts = []
        for part in parts:
            _add(segments, part, day_start, day_end)
    return segments


def _out(
    start: datetime, end: datetime, reason: str, due: datetime | None, grace: timedelta
) -> list[Segment]:
    """A device out from ``start`` to ``end``: its reason, then late, then overdue."""
    kind = BREAK if reason == "break" else TAMPER if reason == TAMPER else RELEASE
    if due is None:
        return [Segment(kind, start, end, reason)]
    overdue_from = due + grace
    return [
        Segment(kind, start, min(end, due), reason, due),
        Segment(LATE, max(start, due), min(end, overdue_from), reason, due),
        Segment(OVERDUE, max(start, overdue_from), end, reason, due),
    ]


def _add(segments: list[Segment], part: Segment, day_start: datetime, day_end: datetime) -> None:
    """Append ``part`` cut to the day, joining it to the last one if it continues it."""
    start, end = max(part.start, day_start), min(part.end, day_end)
    if end <= start:
        return
    last = segments[-1] if segments else None
    if (
        last is not None
        and last.end == start
        and (last.kind, last.reason, last.due) == (part.kind, part.reason, part.due)
    ):
        segments[-1] = Segment(last.kind, last.start, end, last.reason, last.due)
    else:
        segments.append(Segment(part.kind, start, end, part.reason, part.due))


def _details(stored: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(stored, dict):
        return stored
    return parse_details(stored) or {}
