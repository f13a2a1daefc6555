"""The custody rules' facade: :class:`CustodyRules` keeps the state, starts, and
hands each input to its one handler (the table is built once).
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from typing import Any

from locker import events as ev
from locker.alert_conditions import World
from locker.clock import Instant
from locker.config import Config
from locker.custody.badges import BadgeRules
from locker.custody.clock_trust import ClockTrust
from locker.custody.manager import ManagerRules
from locker.custody.physical import PhysicalRules
from locker.custody.schedule import ScheduleRules
from locker.custody.slots import Refusal, SlotView
from locker.decisions import (
    BadgeNotServed,
    BadgeRead,
    DeviceChanged,
    DoorChanged,
    Fault,
    GrantCreated,
    GrantInfo,
    HardwareRecovered,
    Outcome,
    ReleaseAll,
    ReleaseSlot,
    SensorReading,
    SignInVisitor,
    SignOutVisitor,
    StockSettingSlot,
    Tick,
)
from locker.errors import InvalidRequest, NotFound
from locker.roster import Roster


class CustodyRules(BadgeRules, PhysicalRules, ManagerRules, ScheduleRules, ClockTrust):
    """The custody rules for one locker bank.

    ``slots`` is the stored state of every slot (``SlotView``), ``grants`` the
    grants not yet used or expired. The object keeps the rest of what it needs
    (pending refusals, alert memory, the clock's trust) in memory: after a
    restart a missed schedule moment is not acted on, which is why a restart
    can never drive a lock open.
    """

    def __init__(
        self,
        config: Config,
        roster: Roster,
        slots: list[SlotView],
        *,
        grants: list[GrantInfo] = (),
        started: Instant,
        jumped_at: float | None = None,
    ):
        self.config = config
        self.rules = config.rules
        self.tz = config.tz
        self.roster = roster
        self.slots: dict[int, SlotView] = {
            s.number: s for s in sorted(slots, key=lambda s: s.number)
        }
        self.grants: dict[int, GrantInfo] = {g.id: g for g in grants}
        #: Wall time from which schedule moments (shift ends, closing) are acted on.
        self.schedule_from: datetime = started.wall
        self.last_instant: Instant = started
        #: Monotonic time of the last clock jump not yet followed by a synchronisation
        #: (remembered across a restart of the daemon through the log).
        self.jumped_at: float | None = jumped_at
        self.clock_trusted: bool = self._synchronised(started)
        self.refusal: Refusal | None = None
        self.unknown_reads: deque[float] = deque()
        #: (person id, local day) already released at shift end, or alerted for no deposit.
        self.shift_end_done: set[tuple[int, date]] = set()
        self.no_deposit_alerted: set[tuple[int, date]] = set()
        self.declared_empty: set[tuple[int, date]] = set()
        self.closing_done: set[date] = set()
        #: Slots left shut at a day's closing because their door could not be checked.
        self.closing_skipped: dict[date, set[int]] = {}
        self.forgotten_due: dict[date, datetime] = {}
        self.dirty: set[int] = set()
        #: The slots of each unit of hardware that does not answer (an expander, by
        #: name): their doors and sensors are unknown, so nothing there is opened.
        self.unchecked: dict[str, tuple[int, ...]] = {}
        #: One handler for each kind of input, built once.
        self.handlers: dict[type, Any] = self._handlers()

    def start(
        self, sensors: dict[int, SensorReading], now: Instant, *, clean_stop: bool = True
    ) -> Outcome:
        """Reconcile stored slot state with the sensors after a (re)start.

        Nothing here unlocks: a slot that was open when the daemon stopped is
        locked again (its lock starts in the safe state anyway), and a door or
        device that changed while the daemon was down becomes an event or an
        alert.
        """
        out = Outcome()
        out.log(
            ev.SYSTEM_STARTED,
            actor="daemon",
            slots=len(self.slots),
            clock_synchronised=self.clock_trusted,
            clean_stop=clean_stop,
        )
        if not self.clock_trusted:
            out.log(ev.CLOCK_UNSYNCHRONISED, actor="daemon")
            out.alert(
                ev.ALERT_CLOCK,
                "The clock is not synchronised: breaks and shift ends "
                "will not release devices until it is.",
            )
        for number, slot in self.slots.items():
            reading = sensors.get(number)
            if reading is None:
                continue
            self._reconcile(slot, reading, now, out)
        self.last_instant = now
        return out

    def handle(self, event: object, now: Instant) -> Outcome:
        """Apply one input at ``now`` and return what to do about it."""
        out = Outcome()
        saved = (self.clock_trusted, self.jumped_at, self.schedule_from)
        try:
            self._check_clock(now, out)
            self.handlers[type(event)](event, now, out)
        except (InvalidRequest, NotFound):
            # A refused command changes nothing, not even the clock's memory.
            self.clock_trusted, self.jumped_at, self.schedule_from = saved
            raise
        self._check_timers(now, out)
        self.last_instant = now
        return out

    def keep_clock_of(self, previous: CustodyRules) -> None:
        """Carry the clock's memory over from the rules these replace (after a reload).

        The stored state says nothing of the last instant seen, the clock's
        trust or the moment from which schedule moments are acted on; a reload
        must not forget them, or a passed shift end could be acted on again.
        """
        self.last_instant = previous.last_instant
        self.clock_trusted = previous.clock_trusted
        self.schedule_from = previous.schedule_from

    def set_roster(self, roster: Roster) -> None:
        """Use a fresh snapshot of people, badges and shifts."""
        self.roster = roster

    def alert_world(self, now: Instant) -> World:
        """What the alert conditions look at ``now``: these rules' slots, the clock's
        trust, the unknown-badge window and the roster's shifts."""
        return World(
            slots=self.slots,
            now=now.wall,
            clock_trusted=self.clock_trusted,
            unknown_badge_window_s=self.rules.unknown_badge_window_s,
            shift_over=lambda person_id: self.shift_over(person_id, now.wall),
        )

    def shift_over(self, person_id: int, at: datetime) -> bool:
        """Whether ``person_id``'s latest shift that began by ``at`` has ended (a shift
        older than the roster's days has; so has one of a person with none in it)."""
        begun = [s for (p, _), s in self.roster.shifts.items() if p == person_id and s.start <= at]
        return not begun or max(begun, key=lambda s: s.start).end <= at

    def _handlers(self) -> dict[type, Any]:
        return {
            BadgeRead: self._on_badge,
            BadgeNotServed: self._on_badge_not_served,
            DoorChanged: self._on_door,
            DeviceChanged: self._on_device,
            Tick: lambda event, now, out: None,
            Fault: self._on_fault,
            HardwareRecovered: self._on_recovered,
            GrantCreated: self._on_grant,
            ReleaseSlot: self._on_release_slot,
            ReleaseAll: self._on_release_all,
            SignInVisitor: self._on_visitor_in,
            SignOutVisitor: self._on_visitor_out,
            StockSettingSlot: self._on_stock,
        }
