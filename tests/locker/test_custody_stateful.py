"""Random days at the locker, through the real controller on a real database.

A hypothesis state machine badges cards (staff, a manager, an unknown and a
revoked card), moves doors and devices (as people do, and as they should
not: forced doors, tampering), moves the clock (forwards, jumps either way,
loss and regain of synchronisation), runs the manager's commands and restarts
the daemon. After every call into the :class:`Controller` it reads back what
was committed and checks that:

1. every ``Unlock`` driven was logged first as ``slot.unlocked`` with a reason
   the rules allow, justified by the other events of the same step and by the
   test's own model of the rota, the grants, the refusals and the clock's trust;
2. a person holds at most one staff slot (and one setting slot);
3. the log's hash chain verifies;
4. the ``slots`` table is consistent, matches the sensors, and matches the
   rules' memory;
5. only ``InvalidRequest`` and ``NotFound`` come out, and exactly for the
   commands that should fail;

and, on the way: a restart drives no lock open, the clock's jumps and
(un)synchronisations are logged when the spec's model of trust says so, a door
is logged as forced exactly when its lock was last told to lock, grants are
used once and only while valid and expire on time, and badge refusals give
the reason the rota and the clock call for.

The physical world (doors, devices, what the locks were last told) is the
test's own, and a restart hands the new controller its sensors.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select

from locker import events as ev
from locker.clock import Instant, SimulatedClock
from locker.controller import Controller, Output
from locker.db import Database, migrate
from locker.decisions import (
    BadgeRead,
    DeviceChanged,
    DoorChanged,
    Lock,
    ReleaseAll,
    ReleaseSlot,
    SensorReading,
    SignInVisitor,
    SignOutVisitor,
    StockSettingSlot,
    Unlock,
)
from locker.errors import InvalidRequest, NotFound
from locker.log import GENESIS_HASH, hash_of, verify
from locker.models import Command, Event, Grant, Person, Slot
from locker.people import add_badge, add_person, revoke_badge
from locker.rota import set_shift
from locker.states import OWNED_STATES, SlotState
from tests.support.nursery import LONDON, at, make_config

TZ = ZoneInfo(LONDON)
UNKNOWN_UID = "01020304"
REVOKED_UID = "DEADDEAD"
#: Slot numbers the rules take; with three staff slots number 6 is not configured.
SLOT_NUMBERS = st.integers(1, 6)
#: A slot for a manager's command: by kind, or any number (7 is never configured).
ANY_SLOT = st.one_of(st.sampled_from(["visitor", "setting"]), st.integers(1, 7))
OWNED = frozenset(s.value for s in OWNED_STATES)
#: Events after which a slot may be holding a device again within the same step.
HELD_AGAIN = frozenset(
    {ev.RELEASE_TIMEOUT, ev.DEPOSIT_CONFIRMED, ev.SETTING_RETURNED, ev.DEVICE_DETECTED}
)
UNLOCKED_STATES = frozenset({SlotState.OPEN_FOR_DEPOSIT.value, SlotState.OPEN_FOR_RELEASE.value})

# name, role, badge, fixed slot (with four staff slots), setting-authorised
PEOPLE = (
    ("Alice", "staff", "A1A1A1A1", 1, False),
    ("Bob", "staff", "B0B0B0B0", 2, False),
    ("Carol", "staff", "C0C0C0C0", 3, True),
    ("Mary", "manager", "4D4D4D4D", 4, False),
)
STAFF = st.sampled_from(["Alice", "Bob", "Carol", "Mary"])
#: Seconds either side of a moment; a break's grace is 300 s.
OFFSET = st.one_of(st.sampled_from([-301, -300, 0, 300, 301]), st.integers(-400, 400))
WHO = st.sampled_from(["Alice", "Bob", "Carol", "Mary", "unknown", "revoked"])
#: Shifts per person as (start, end, breaks) local times, by day index from the first day.
ROTA: dict[str, dict[int, tuple[str, str, tuple[tuple[str, str], ...]]]] = {
    "Alice": {d: ("08:00", "16:00", (("12:00", "12:30"),)) for d in range(4)},
    "Bob": {
        d: ("09:00", "17:30", (("11:00", "11:15"), ("13:00", "13:45"))) for d in (0, 2, 3)
    },  # no shift on day 1
    "Carol": {
        0: ("07:45", "12:00", (("10:00", "10:15"),)),
        1: ("07:45", "12:00", (("10:00", "10:15"),)),
        2: ("13:00", "18:00", (("15:00", "15:20"),)),
    },
    "Mary": {d: ("08:00", "18:00", (("12:30", "13:00"),)) for d in range(4)},
}
#: First days: an ordinary Monday, and the Saturdays before the clocks change.
FIRST_DAYS = (date(2026, 1, 5), date(2026, 3, 28), date(2026, 10, 24))
MOMENTS = ("shift start", "break start", "break end", "shift end", "closing", "midnight")


@dataclass(frozen=True)
class Logged:
    """One committed event, details parsed."""

    id: int
    kind: str
    actor: str
    slot: int | None
    person_id: int | None
    details: dict[str, Any]


@dataclass(frozen=True)
class SlotRow:
    """One row of the ``slots`` table."""

    number: int
    kind: str
    state: str
    occupant_id: int | None
    visitor_name: str | None
    locked: bool
    door_open: bool
    device_present: bool
    reason: str | None
    return_due: datetime | None


@dataclass
class Step:
    """What the test asked the controller to do in one call."""

    kind: str  # badge, door, device, tick, command, start
    uid: str | None = None
    #: The person whose active badge was read.
    person_id: int | None = None
    command: str | None = None
    slot: int | None = None
    expect_error: bool = False


@dataclass
class GrantModel:
    """A grant the test created."""

    person_id: int
    valid_until: datetime
    used: bool = False
    expired: bool = False

    def valid(self, now: datetime) -> bool:
        return not self.used and not self.expired and now < self.valid_until


@dataclass
class Refusal:
    """A refusal that names a slot: what an on-the-spot approval or a checkout follows."""

    person_id: int
    slot: int
    mono: float
    used: bool = False


@dataclass
class ClockModel:
    """The spec's idea of whether the clock can be trusted for schedule releases.

    Trusted once synchronised since boot, until a jump against the monotonic
    clock is seen; then only a synchronisation after the jump trusts it again.
    A restart of the daemon is not a reboot: it forgets nothing of this.
    """

    tolerance: float
    last: Instant | None = None
    jumped_at: float | None = None
    trusted: bool = False
    events: list[str] = field(default_factory=list)

    def synced(self, now: Instant) -> bool:
        return now.synced_at is not None and (
            self.jumped_at is None or now.synced_at >= self.jumped_at
        )

    def start(self, now: Instant) -> None:
        self.last = now
        self.trusted = self.synced(now)
        self.events = [] if self.trusted else [ev.CLOCK_UNSYNCHRONISED]

    def handle(self, now: Instant) -> None:
        assert self.last is not None
        drift = (now.wall - self.last.wall).total_seconds() - (now.mono - self.last.mono)
        self.last = now
        if abs(drift) > self.tolerance:
            self.jumped_at = now.mono
            self.trusted = False
            self.events = [ev.CLOCK_JUMP]
            return
        synced = self.synced(now)
        self.events = []
        if synced and not self.trusted:
            self.events = [ev.CLOCK_SYNCHRONISED]
        elif not synced and self.trusted:
            self.events = [ev.CLOCK_UNSYNCHRONISED]
        self.trusted = synced


_STOCKED: dict[tuple[date, int], Path] = {}


def _stocked_database(first_day: date, staff: int) -> Path:
    """A migrated database with the people, badges and rota, built once per variant.

    Each state machine copies it rather than migrating and enrolling everybody again.
    """
    key = (first_day, staff)
    if key not in _STOCKED:
        folder = Path(tempfile.mkdtemp(prefix="locker-stocked-"))
        atexit.register(shutil.rmtree, folder, True)
        db = Database(f"sqlite:///{folder / 'locker.db'}")
        migrate(db.engine)
        now = at(first_day, "07:30")
        people: dict[str, int] = {}
        with db.write() as session:
            for name, role, uid, slot, authorised in PEOPLE:
                person = add_person(
                    session,
                    name,
                    role=role,
                    badge=uid,
                    slot=slot if slot <= staff else None,
                    setting_authorised=authorised,
                    at=now,
                    actor="test",
                )
                people[name] = person.id
            add_badge(session, people["Bob"], REVOKED_UID, at=now, actor="test")
            revoke_badge(session, REVOKED_UID, at=now, actor="test")
            for name, days in ROTA.items():
                for index, (start, end, breaks) in days.items():
                    day = first_day + timedelta(days=index)
                    windows = [(at(day, s), at(day, e)) for s, e in breaks]
                    set_shift(
                        session,
                        people[name],
                        day,
                        at(day, start),
                        at(day, end),
                        windows,
                        at=now,
                        actor="test",
                    )
            session.commit()
        # Closing the last connection folds the write-ahead log into the file.
        db.dispose()
        _STOCKED[key] = folder / "locker.db"
    return _STOCKED[key]


class CustodyMachine(RuleBasedStateMachine):
    """One locker bank, its database and the physical world around it."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="locker-stateful-"))
        self.url = f"sqlite:///{self.tmp / 'locker.db'}"
        self.db: Database | None = None
        self.controller: Controller | None = None
        self.clock: SimulatedClock | None = None
        self.config = None
        self.numbers: tuple[int, ...] = ()
        self.kinds: dict[int, str] = {}
        self.people: dict[str, int] = {}
        self.person_info: dict[int, tuple[str, str, int | None, bool]] = {}
        self.uids: dict[str, int] = {}
        self.shifts: dict[tuple[int, date], tuple[datetime, datetime, tuple]] = {}
        self.grants: dict[int, GrantModel] = {}
        #: When each person's last open-now grant opened their slot.
        self.opened_now: dict[int, datetime] = {}
        self.refusals: list[Refusal] = []
        self.clock_model: ClockModel | None = None
        # The physical world: doors, devices, and what each lock was last told.
        self.door = dict.fromkeys(range(1, 7), False)
        self.device = dict.fromkeys(range(1, 7), False)
        self.lock_open = dict.fromkeys(range(1, 7), False)
        self.rows: dict[int, SlotRow] = {}
        self.last_id = 0
        self.last_hash = GENESIS_HASH

    # ------------------------------------------------------------ set-up

    @initialize(
        assignment=st.sampled_from(["dynamic", "fixed"]),
        lock=st.sampled_from(["pulse", "hold"]),
        open_on_shift_end=st.booleans(),
        staff=st.sampled_from([3, 4]),
        first_day=st.sampled_from(FIRST_DAYS),
        # Mostly a clock synchronised at boot; sometimes not yet.
        synchronised=st.sampled_from([True, True, True, False]),
    )
    def set_up(self, assignment, lock, open_on_shift_end, staff, first_day, synchronised):
        self.config = make_config(
            assignment=assignment, lock=lock, staff=staff, open_on_shift_end=open_on_shift_end
        )
        self.numbers = tuple(s.number for s in self.config.slots)
        self.kinds = {s.number: s.kind for s in self.config.slots}
        self.clock = SimulatedClock(at(first_day, "07:30"), synchronised=synchronised)
        self.clock_model = ClockModel(self.config.rules.clock_jump_tolerance_s)
        shutil.copyfile(_stocked_database(first_day, staff), self.tmp / "locker.db")
        self.db = Database(self.url)
        with self.db.read() as session:
            for person in session.scalars(select(Person)):
                fixed, authorised = person.slot_number, person.setting_authorised
                self.people[person.name] = person.id
                self.person_info[person.id] = (person.name, person.role, fixed, authorised)
                for badge in person.badges:
                    if badge.revoked_at is None:
                        self.uids[badge.uid] = person.id
        for name, days in ROTA.items():
            for index, (start, end, breaks) in days.items():
                day = first_day + timedelta(days=index)
                windows = tuple((at(day, s), at(day, e)) for s, e in breaks)
                self.shifts[(self.people[name], day)] = (at(day, start), at(day, end), windows)
        self._start()

    def teardown(self) -> None:
        if self.db is not None:
            self.db.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _sensors(self) -> dict[int, SensorReading]:
        return {n: SensorReading(self.door[n], self.device[n]) for n in self.numbers}

    def _start(self) -> None:
        self.controller = Controller(self.config, self.db, self.clock)
        # A lock starts in its safe state whatever it was told before.
        self.lock_open = dict.fromkeys(self.lock_open, False)
        outputs = self.controller.start(self._sensors())
        self._check(Step("start"), outputs, None)

    # ------------------------------------------------------------ calling

    def _call(self, step: Step, action) -> list[Output]:
        try:
            outputs = action()
        except (InvalidRequest, NotFound) as exc:
            self._check(step, [], exc)
            return []
        self._check(step, outputs, None)
        return outputs

    def _handle(self, step: Step, event: object) -> list[Output]:
        return self._call(step, lambda: self.controller.handle(event))

    def _tick(self) -> list[Output]:
        return self._call(Step("tick"), self.controller.tick)

    def _badge(self, who: str) -> list[Output]:
        uid = {"unknown": UNKNOWN_UID, "revoked": REVOKED_UID}.get(who)
        if uid is None:
            uid = PEOPLE[[p[0] for p in PEOPLE].index(who)][2]
        step = Step("badge", uid=uid, person_id=self.uids.get(uid))
        return self._handle(step, BadgeRead(uid))

    def _door(self, number: int, open_: bool) -> None:
        self.door[number] = open_
        self._handle(Step("door", slot=number), DoorChanged(number, open_))

    def _device(self, number: int, present: bool) -> None:
        self.device[number] = present
        self._handle(Step("device", slot=number), DeviceChanged(number, present))

    def _command(self, kind: str, payload: dict[str, Any], step: Step) -> list[Output]:
        with self.db.write() as session:
            command = Command(
                kind=kind,
                payload=payload,
                account="mary",
                client="10.0.0.5",
                created_at=self.clock.now(),
            )
            session.add(command)
            session.commit()
            command_id = command.id

        def run() -> list[Output]:
            outputs, answer = self.controller.run_command(command_id)
            if "error" in answer:
                # The controller reports a refused command instead of raising it.
                raise InvalidRequest(answer["error"])
            return outputs

        return self._call(step, run)

    # ------------------------------------------------------------ badges

    @rule(who=WHO)
    def badge(self, who):
        """A card at the reader, and nothing else."""
        self._badge(who)

    @rule(who=WHO)
    def badge_and_use_the_slot(self, who):
        """Badge, and do what the open slot is for: put a device in or take it out."""
        self._use(self._badge(who))

    def _use(self, outputs: list[Output]) -> None:
        """At every slot that opened: open the door, put in or take out a device, close it."""
        for output in outputs:
            if isinstance(output, Unlock):
                number = output.slot
                if not self.door[number]:
                    self._door(number, True)
                self._device(number, not self.device[number])
                self._door(number, False)

    @rule(first=WHO, second=WHO, gap=st.sampled_from([0, 5, 10, 11, 29, 30, 31]), use=st.booleans())
    def two_badges(self, first, second, gap, use):
        """A badge, then another ``gap`` seconds later: an approval, a checkout, or neither."""
        self._badge(first)
        self.clock.advance(gap)
        outputs = self._badge(second)
        if use:
            self._use(outputs)

    # ------------------------------------------------------ physical world

    def _slot_number(self, number: int | str | None) -> int | None:
        """The number of the visitor or setting slot when named by kind."""
        if isinstance(number, str):
            return next(n for n, kind in self.kinds.items() if kind == number)
        return number

    def _next(self, number: int, wanted) -> int:
        """Slot ``number`` if ``wanted``, else the next configured slot that is."""
        ring = sorted(self.numbers, key=lambda n: (n < number, n))
        return next(n for n in ring if wanted(n))

    @rule(number=SLOT_NUMBERS)
    def open_door(self, number):
        """Open a door, unlocked or not (a locked one is forced)."""
        if not self.door[number]:
            self._door(number, True)

    @precondition(lambda self: any(self.lock_open[n] and not self.door[n] for n in self.numbers))
    @rule(number=SLOT_NUMBERS)
    def open_an_unlocked_door(self, number):
        """Open the unlocked door of slot ``number``, or of the next slot that has one."""
        self._door(self._next(number, lambda n: self.lock_open[n] and not self.door[n]), True)

    @precondition(lambda self: any(self.door[n] for n in self.numbers))
    @rule(number=SLOT_NUMBERS)
    def close_door(self, number):
        """Close the open door of slot ``number``, or of the next slot that has one."""
        self._door(self._next(number, lambda n: self.door[n]), False)

    @precondition(lambda self: any(self.door[n] for n in self.numbers))
    @rule(number=SLOT_NUMBERS)
    def swap_device_through_an_open_door(self, number):
        """Put a device in or take it out through an open door (at ``number`` or the next)."""
        number = self._next(number, lambda n: self.door[n])
        self._device(number, not self.device[number])

    @rule(number=SLOT_NUMBERS, present=st.booleans())
    def device_sensor(self, number, present):
        """A device goes in or out, through an open door or not (tampering)."""
        if self.device[number] != present:
            self._device(number, present)

    # --------------------------------------------------------------- clock

    @rule(seconds=st.one_of(st.integers(1, 59), st.integers(60, 3600), st.integers(3600, 8 * 3600)))
    def advance(self, seconds):
        """Time passes (seconds to hours) and the daemon ticks."""
        self.clock.advance(seconds)
        self._tick()

    @rule(who=STAFF, moment=st.sampled_from(MOMENTS), offset=OFFSET)
    def advance_to(self, who, moment, offset):
        """Move on to the next time ``who``'s shift or break starts or ends, or the bank
        closes, give or take ``offset`` seconds (the break grace is 300 s)."""
        now = self.clock.now()
        pid = self.people[who]
        today = now.astimezone(TZ).date()
        moments = []
        for day in (today + timedelta(days=d) for d in range(3)):
            start, end, breaks = self.shifts.get((pid, day), (None, None, ()))
            candidates = {
                "shift start": [start],
                "shift end": [end],
                "break start": [b[0] for b in breaks],
                "break end": [b[1] for b in breaks],
                "closing": [at(day, self.config.rules.closing_time)],
                "midnight": [at(day + timedelta(days=1), "00:00")],
            }[moment]
            moments += [m + timedelta(seconds=offset) for m in candidates if m is not None]
        target = min((m for m in moments if m > now), default=now + timedelta(hours=1))
        self.clock.advance(int((target - now).total_seconds()))
        self._tick()

    @rule(who=STAFF, moment=st.sampled_from(MOMENTS), offset=OFFSET)
    def advance_to_and_badge(self, who, moment, offset):
        """Move on to a moment of ``who``'s day, then ``who`` badges and uses the slot."""
        self.advance_to(who, moment, offset)
        self.badge_and_use_the_slot(who)

    @rule(
        seconds=st.one_of(
            st.sampled_from([-86400, -3600, -30, -3, 0, 3, 30, 3600, 86400]),
            st.integers(-6 * 3600, 6 * 3600),
        )
    )
    def clock_trouble(self, seconds):
        """The wall clock jumps by ``seconds``, or (for 0) loses its synchronisation."""
        if seconds:
            self.clock.jump(seconds)
        else:
            self.clock.lose_sync()
        self._tick()

    @rule()
    def synchronise(self):
        """Network time synchronises the clock."""
        self.clock.synchronise()
        self._tick()

    # ------------------------------------------------------------ manager

    @rule(
        who=st.sampled_from(["Alice", "Bob", "Carol", "Mary", "nobody"]),
        reason=st.sampled_from([*ev.GRANT_REASONS, "bogus"]),
        note=st.sampled_from(["", "call from school"]),
        open_now=st.booleans(),
        return_minutes=st.one_of(st.none(), st.sampled_from([0, 1, 5, 30, 120, 1440, 1441])),
        use=st.booleans(),
    )
    def grant(self, who, reason, note, open_now, return_minutes, use):
        """A manager grants a release in the panel (some requests are invalid)."""
        person_id = self.people.get(who, 999)
        bad = (
            who == "nobody"
            or reason not in ev.GRANT_REASONS
            or (reason == "other" and not note)
            or (return_minutes is not None and not 1 <= return_minutes <= 1440)
        )
        payload = {"person_id": person_id, "reason": reason, "note": note, "open_now": open_now}
        if return_minutes is not None:
            payload["return_minutes"] = return_minutes
        now = self.clock.now()
        same = open_now and not bad and self._opened_lately(person_id, now)
        # "Open now" means now: with the device not locked in, it is refused, never
        # left waiting for a badge; a repeat of one that just opened is the same grant.
        if open_now and not bad and not same and not self._held_by(person_id):
            bad = True
        outputs = self._command(
            "grant", payload, Step("command", command="grant", expect_error=bad)
        )
        if same:
            assert not outputs, f"a repeated open-now grant drove outputs: {outputs}"
        elif open_now and not bad:
            self.opened_now[person_id] = now
        if use:
            self._use(outputs)

    def _held_by(self, person_id: int) -> bool:
        return any(
            r.kind == "staff" and r.state == "held" and r.occupant_id == person_id
            for r in self.rows.values()
        )

    def _opened_lately(self, person_id: int, now: datetime) -> bool:
        opened = self.opened_now.get(person_id)
        window = timedelta(seconds=self.config.commands.same_grant_s)
        return opened is not None and now - opened <= window

    @rule(
        number=ANY_SLOT,
        reason=st.sampled_from(["family emergency", " "]),
        via=st.sampled_from(["command", "direct"]),
        use=st.booleans(),
    )
    def release_slot(self, number, reason, via, use):
        """A manager releases one slot, through a stored command or straight to the rules."""
        number = self._slot_number(number)
        row = self.rows.get(number)
        bad = row is None or row.state != "held" or not reason.strip()
        step = Step("command", command="release_slot", slot=number, expect_error=bad)
        if via == "command":
            outputs = self._command("release_slot", {"slot": number, "reason": reason}, step)
        else:
            outputs = self._handle(step, ReleaseSlot(number, reason, "mary", "10.0.0.5"))
        if use:
            self._use(outputs)

    @rule(
        reason=st.sampled_from(["fire alarm", ""]),
        confirm=st.booleans(),
        via=st.sampled_from(["command", "direct"]),
        use=st.booleans(),
    )
    def release_all(self, reason, confirm, via, use):
        """Evacuation: release every held slot (needs a reason, and confirm for a command)."""
        bad = not reason.strip() or (via == "command" and not confirm)
        step = Step("command", command="release_all", expect_error=bad)
        if via == "command":
            outputs = self._command("release_all", {"reason": reason, "confirm": confirm}, step)
        else:
            outputs = self._handle(step, ReleaseAll(reason, "mary", "10.0.0.5"))
        if use:
            self._use(outputs)

    @rule(
        name=st.sampled_from(["Ofsted inspector", " "]),
        number=st.one_of(st.none(), ANY_SLOT),
        via=st.sampled_from(["command", "direct"]),
        use=st.booleans(),
    )
    def sign_in_visitor(self, name, number, via, use):
        """A manager opens a visitor slot, a given one or the first free."""
        number = self._slot_number(number)
        if number is None:
            free = any(r.kind == "visitor" and r.state == "free" for r in self.rows.values())
        else:
            row = self.rows.get(number)
            free = row is not None and row.kind == "visitor" and row.state == "free"
        step = Step(
            "command", command="visitor_in", slot=number, expect_error=not name.strip() or not free
        )
        if via == "command":
            outputs = self._command("visitor_in", {"name": name, "slot": number}, step)
        else:
            outputs = self._handle(step, SignInVisitor(name, "mary", "10.0.0.5", slot=number))
        if use:
            self._use(outputs)

    @rule(number=ANY_SLOT, via=st.sampled_from(["command", "direct"]), use=st.booleans())
    def sign_out_visitor(self, number, via, use):
        """A visitor leaves and their slot is released."""
        number = self._slot_number(number)
        row = self.rows.get(number)
        bad = row is None or row.kind != "visitor" or row.state != "held"
        step = Step("command", command="visitor_out", slot=number, expect_error=bad)
        if via == "command":
            outputs = self._command("visitor_out", {"slot": number}, step)
        else:
            outputs = self._handle(step, SignOutVisitor(number, "mary", "10.0.0.5"))
        if use:
            self._use(outputs)

    @rule(number=ANY_SLOT, via=st.sampled_from(["command", "direct"]), use=st.booleans())
    def stock_setting_slot(self, number, via, use):
        """A manager opens an empty setting slot to put one of the setting's devices in."""
        number = self._slot_number(number)
        row = self.rows.get(number)
        bad = row is None or row.kind != "setting" or row.state != "free"
        step = Step("command", command="stock", slot=number, expect_error=bad)
        if via == "command":
            outputs = self._command("stock", {"slot": number}, step)
        else:
            outputs = self._handle(step, StockSettingSlot(number, "mary", "10.0.0.5"))
        if use:
            self._use(outputs)

    # ------------------------------------------------------------- daemon

    @rule(graceful=st.booleans())
    def restart(self, graceful):
        """The daemon stops (or dies) and starts again on the same database."""
        if graceful:
            self.controller.stop()
        self.db.dispose()
        self.db = Database(self.url)
        self._start()

    # ------------------------------------------------------------- checks

    @invariant()
    def log_chain_verifies(self):
        """``locker.log.verify`` accepts the whole chain."""
        if self.db is None:  # before the set-up has made one
            return
        with self.db.read() as session:
            report = verify(session)
        assert report.ok, f"log verify: event {report.first_bad_id}: {report.reason}"

    def _read(self) -> tuple[list[Logged], dict[int, SlotRow], list[Event]]:
        with self.db.read() as session:
            stored = list(
                session.scalars(select(Event).where(Event.id > self.last_id).order_by(Event.id))
            )
            rows = {
                r.number: SlotRow(
                    r.number,
                    r.kind,
                    r.state,
                    r.occupant_id,
                    r.visitor_name,
                    r.locked,
                    r.door_open,
                    r.device_present,
                    r.reason,
                    r.return_due,
                )
                for r in session.scalars(select(Slot))
            }
            valid_until = dict(session.execute(select(Grant.id, Grant.valid_until)).all())
        for grant_id, until in valid_until.items():
            if grant_id in self.grants:
                assert self.grants[grant_id].valid_until == until, f"grant {grant_id} changed"
        logged = [
            Logged(e.id, e.kind, e.actor, e.slot, e.person_id, json.loads(e.details))
            for e in stored
        ]
        return logged, rows, stored

    def _check(self, step: Step, outputs: list[Output], error: Exception | None) -> None:
        now = self.clock.read()
        logged, rows, stored = self._read()
        summary = [(e.kind, e.slot, e.details) for e in logged]
        trace = f"step {step}, outputs {outputs}, events {summary}"

        # 3. The chain, event by event.
        for event in stored:
            assert event.id == self.last_id + 1, f"event ids not consecutive at {event.id}"
            assert event.prev_hash == self.last_hash, f"event {event.id} not chained"
            assert hash_of(event) == event.hash, f"event {event.id} hash mismatch"
            self.last_id, self.last_hash = event.id, event.hash

        # 5. A refused command leaves nothing behind.
        if error is not None:
            assert step.expect_error, f"unexpected {type(error).__name__}: {error}; {trace}"
            assert logged == [], f"a refused command logged events; {trace}"
            assert rows == self.rows, f"a refused command changed slots; {trace}"
            return
        assert not step.expect_error, f"expected the command to be refused; {trace}"

        # The clock's trust, as the spec defines it.
        if step.kind == "start":
            self.clock_model.start(now)
        else:
            self.clock_model.handle(now)
        clock_kinds = [
            e.kind
            for e in logged
            if e.kind in (ev.CLOCK_JUMP, ev.CLOCK_SYNCHRONISED, ev.CLOCK_UNSYNCHRONISED)
        ]
        assert clock_kinds == self.clock_model.events, (
            f"clock events {clock_kinds}, expected {self.clock_model.events} "
            f"(trusted={self.clock_model.trusted}); {trace}"
        )
        trusted = self.clock_model.trusted

        # 1. Outputs and the log agree, one for one.
        unlocked = [e for e in logged if e.kind == ev.SLOT_UNLOCKED]
        unlocks = Counter(o.slot for o in outputs if isinstance(o, Unlock))
        assert unlocks == Counter(e.slot for e in unlocked), f"unlocks vs log; {trace}"
        locks = Counter(o.slot for o in outputs if isinstance(o, Lock))
        relocked = Counter(e.slot for e in logged if e.kind == ev.SLOT_LOCKED)
        assert locks == relocked, f"locks vs log; {trace}"
        if step.kind == "start":
            assert not unlocks, f"a restart drove a lock open; {trace}"

        for event in logged:
            if event.kind == ev.GRANT_CREATED:
                self.grants[event.details["grant_id"]] = GrantModel(
                    event.person_id, datetime.fromisoformat(event.details["valid_until"])
                )
        for event in unlocked:
            problem = self._unjustified(event, step, logged, now, trusted)
            assert problem is None, (
                f"slot {event.slot} unlocked ({event.details}): {problem}; {trace}"
            )
        self._check_badge_answers(step, logged, now, trusted, trace)
        self._check_grants(step, logged, now, trace)
        for event in logged:
            if event.kind == ev.BADGE_REFUSED and event.slot is not None:
                self.refusals.append(Refusal(event.person_id, event.slot, now.mono))
            if event.kind == ev.DOOR_OPENED and not event.details.get("while_down"):
                forced = not self.lock_open[event.slot]
                assert event.details.get("forced") == forced, (
                    f"door {event.slot} opened with the lock {'shut' if forced else 'open'} "
                    f"but logged forced={event.details.get('forced')}; {trace}"
                )

        # What the locks were told.
        for output in outputs:
            if isinstance(output, Unlock):
                self.lock_open[output.slot] = True
            elif isinstance(output, Lock):
                self.lock_open[output.slot] = False

        self._check_rows(rows, unlocks, trace)
        self.rows = rows

    def _check_rows(self, rows: dict[int, SlotRow], unlocks: Counter, trace: str) -> None:
        assert sorted(rows) == sorted(self.numbers)
        staff_owners = Counter()
        setting_owners = Counter()
        for n, row in rows.items():
            # 4. Consistent rows.
            if row.state == "free":
                assert row.occupant_id is None and row.visitor_name is None, f"free {row}; {trace}"
            if row.state == "held":
                assert row.locked, f"held but unlocked: {row}; {trace}"
            if not row.locked:
                assert row.state in UNLOCKED_STATES or row.door_open, f"unlocked: {row}; {trace}"
            if n in unlocks:
                assert row.state in UNLOCKED_STATES and not row.locked, f"opened: {row}; {trace}"
            assert (row.door_open, row.device_present) == (self.door[n], self.device[n]), (
                f"slot {n} row {row} disagrees with the sensors; {trace}"
            )
            view = self.controller.rules.slots[n]
            memory = (
                view.state.value,
                view.owner,
                view.visitor_name,
                view.locked,
                view.door_open,
                view.device_present,
                view.reason,
                view.return_due,
            )
            stored = (
                row.state,
                row.occupant_id,
                row.visitor_name,
                row.locked,
                row.door_open,
                row.device_present,
                row.reason,
                row.return_due,
            )
            assert memory == stored, f"slot {n}: rules {memory} but stored {stored}; {trace}"
            # 2. One slot per person.
            if row.state in OWNED and row.occupant_id is not None:
                if row.kind == "staff":
                    staff_owners[row.occupant_id] += 1
                elif row.kind == "setting":
                    setting_owners[row.occupant_id] += 1
        assert max(staff_owners.values(), default=0) <= 1, f"two staff slots: {rows}; {trace}"
        assert max(setting_owners.values(), default=0) <= 1, f"two setting slots: {rows}; {trace}"

    # -------------------------------------------------- the rules, modelled

    def _shift(self, person_id: int, now: datetime):
        return self.shifts.get((person_id, now.astimezone(TZ).date()))

    def _in_break(self, shift, now: datetime) -> bool:
        grace = timedelta(minutes=self.config.rules.break_grace_min)
        return any(s - grace <= now <= e + grace for s, e in shift[2])

    def _valid_grant(self, person_id: int, now: datetime) -> bool:
        return any(g.person_id == person_id and g.valid(now) for g in self.grants.values())

    def _latest_refusal(self) -> Refusal | None:
        return self.refusals[-1] if self.refusals else None

    def _unjustified(
        self, event: Logged, step: Step, logged: list[Logged], now: Instant, trusted: bool
    ) -> str | None:
        """Why the unlock ``event`` is not allowed, or ``None`` when it is."""
        n = event.slot
        reason = event.details.get("reason")
        before = self.rows.get(n)
        owner = event.person_id
        wall = now.wall
        same = [e for e in logged if e.slot == n]
        kinds = {e.kind for e in same}
        badge_of_owner = step.kind == "badge" and step.person_id is not None
        granted = [e for e in same if e.kind == ev.BADGE_GRANTED]
        if step.kind == "start":
            return "a restart unlocked"
        if reason in ("deposit", "return", "setting_return", "checkout"):
            if not badge_of_owner or step.person_id != owner:
                return f"{reason} without the owner's badge"
            if [g.details.get("action") for g in granted] != [reason]:
                return f"no badge.granted action={reason}"
            if granted[0].person_id != owner:
                return "badge.granted names somebody else"
            name, role, fixed, authorised = self.person_info[owner]
            if reason == "deposit":
                if before.kind != "staff" or before.state != "free" or role == "visitor":
                    return f"deposit into {before}"
                if self.config.rules.assignment == "fixed" and n != fixed:
                    return f"fixed assignment, but {name}'s slot is {fixed}"
            elif reason == "return":
                if (before.kind, before.state, before.occupant_id) != ("staff", "out", owner):
                    return f"return into {before}"
            elif reason == "setting_return":
                if (before.kind, before.state, before.occupant_id) != ("setting", "out", owner):
                    return f"setting return into {before}"
            else:
                refusal = self._latest_refusal()
                window = self.config.rules.setting_checkout_window_s
                if not authorised or before.kind != "setting" or before.state != "held":
                    return f"checkout by {name} from {before}"
                if (
                    refusal is None
                    or refusal.used
                    or refusal.person_id != owner
                    or now.mono - refusal.mono > window
                ):
                    return f"checkout without a refusal of {name} in the last {window} s"
                refusal.used = True
            return None
        if reason == "visitor":
            if step.command != "visitor_in" or step.slot not in (None, n):
                return "not a visitor sign-in"
            if ev.VISITOR_SIGNED_IN not in kinds or (before.kind, before.state) != (
                "visitor",
                "free",
            ):
                return f"visitor sign-in into {before}"
            return None
        if reason == "stock":
            if step.command != "stock" or step.slot != n:
                return "not a stock command"
            if (before.kind, before.state) != ("setting", "free"):
                return f"stock into {before}"
            return None
        # Everything else releases a held device: held before the step, or made
        # held earlier in it (a release timed out, a deposit was confirmed).
        held_in_step = any(e.id < event.id and e.kind in HELD_AGAIN for e in same)
        if before.state != "held" and not held_in_step:
            return f"release of {before}"
        if reason in ("manager", "visitor_sign_out"):
            if step.command not in ("release_slot", "visitor_out") or step.slot != n:
                return "no manager command for this slot"
            if ev.RELEASE_MANAGER not in kinds:
                return "no release.manager"
            if (reason == "visitor_sign_out") != (before.kind == "visitor"):
                return f"{reason} for a {before.kind} slot"
            return None
        if reason == "all":
            everything = [e for e in logged if e.kind == ev.RELEASE_ALL]
            if step.command != "release_all" or not everything:
                return "no release-all"
            if n not in everything[0].details["slots"]:
                return "release.all does not name this slot"
            return None
        if reason == "grant":
            used = [e for e in same if e.kind == ev.GRANT_USED]
            if ev.RELEASE_GRANT not in kinds or len(used) != 1:
                return "no release.grant and grant.used"
            grant = self.grants.get(used[0].details["grant_id"])
            if grant is None or grant.person_id != owner or not grant.valid(wall):
                return f"grant {used[0].details['grant_id']} is not a valid grant for {owner}"
            if not (badge_of_owner and step.person_id == owner) and step.command != "grant":
                return "a grant used without the owner's badge or the grant command"
            return None
        if reason == "on_the_spot":
            approvals = [e for e in same if e.kind == ev.APPROVAL_ON_THE_SPOT]
            refusal = self._latest_refusal()
            window = self.config.rules.approval_window_s
            if step.kind != "badge" or step.person_id is None or not approvals:
                return "no approval.on_the_spot by a manager's badge"
            manager = step.person_id
            if self.person_info[manager][1] != "manager":
                return f"{self.person_info[manager][0]} is not a manager"
            if approvals[0].details.get("manager_id") != manager or manager == owner:
                return "the approval names the wrong manager"
            if (
                refusal is None
                or refusal.used
                or (refusal.person_id, refusal.slot) != (owner, n)
                or now.mono - refusal.mono > window
            ):
                return f"no refusal of {owner} at slot {n} in the last {window} s"
            refusal.used = True
            return None
        # Schedule releases need a trusted clock.
        if not trusted:
            return f"{reason} release with an untrusted clock"
        if reason == "closing":
            if ev.RELEASE_CLOSING not in kinds or before.kind == "setting":
                return "no release.closing (or a setting slot)"
            if wall.astimezone(TZ).time() < self.config.rules.closing:
                return "before closing time"
            return None
        if reason == "shift_end":
            ends = [e for e in same if e.kind == ev.RELEASE_SHIFT_END]
            if len(ends) != 1 or ends[0].person_id != owner:
                return "no release.shift_end for the owner"
            shift = self._shift(owner, wall)
            if ends[0].details.get("automatic"):
                lock = self.config.lock
                if lock.type == "pulse" and not lock.open_on_shift_end:
                    return "an automatic shift-end pulse the config does not ask for"
                if shift is None or shift[1] > wall:
                    return f"automatic release but the shift {shift} has not ended"
            else:
                if not (badge_of_owner and step.person_id == owner):
                    return "shift-end release without the owner's badge"
                if shift is not None and shift[1] > wall:
                    return f"the shift {shift} has not ended"
                if self._valid_grant(owner, wall):
                    return "a valid grant should have been used first"
            return None
        if reason == "break":
            if ev.RELEASE_BREAK not in kinds or not (badge_of_owner and step.person_id == owner):
                return "no release.break on the owner's badge"
            shift = self._shift(owner, wall)
            if shift is None or not self._in_break(shift, wall):
                return f"not in a break window of {shift}"
            if self._valid_grant(owner, wall):
                return "a valid grant should have been used first"
            return None
        return f"unknown reason {reason!r}"

    def _check_badge_answers(
        self, step: Step, logged: list[Logged], now: Instant, trusted: bool, trace: str
    ) -> None:
        """Badge reads are answered, and refusals are for the reasons the rules give."""
        answers = [
            e for e in logged if e.kind in (ev.BADGE_GRANTED, ev.BADGE_REFUSED, ev.BADGE_UNKNOWN)
        ]
        approvals = [e for e in logged if e.kind == ev.APPROVAL_ON_THE_SPOT]
        if step.kind != "badge":
            assert not answers, f"a badge answer without a badge; {trace}"
            return
        assert len(answers) + len(approvals) == 1, f"one answer per badge; {trace}"
        if step.uid == UNKNOWN_UID:
            assert [e.kind for e in answers] == [ev.BADGE_UNKNOWN], trace
            return
        if step.uid == REVOKED_UID:
            assert [(e.kind, e.details.get("reason")) for e in answers] == [
                (ev.BADGE_REFUSED, "revoked")
            ], trace
            return
        for answer in answers:
            assert answer.person_id == step.person_id, f"answer for somebody else; {trace}"
            if answer.kind != ev.BADGE_REFUSED:
                continue
            why = answer.details["reason"]
            wall = now.wall
            if why in ("clock_unsynchronised", "on_shift"):
                assert not self._valid_grant(step.person_id, wall), f"grant ignored; {trace}"
            if why == "clock_unsynchronised":
                assert not trusted, f"refused as unsynchronised, but the clock is trusted; {trace}"
            if why == "on_shift":
                shift = self._shift(step.person_id, wall)
                assert trusted, f"on_shift refusal with an untrusted clock; {trace}"
                assert shift is not None and wall < shift[1], f"not on shift: {shift}; {trace}"
                assert not self._in_break(shift, wall), f"refused on a break; {trace}"

    def _check_grants(self, step: Step, logged: list[Logged], now: Instant, trace: str) -> None:
        for event in logged:
            if event.kind == ev.GRANT_USED:
                grant = self.grants[event.details["grant_id"]]
                assert grant.valid(now.wall), f"used a spent grant {grant}; {trace}"
                grant.used = True
            elif event.kind == ev.GRANT_EXPIRED:
                grant = self.grants[event.details["grant_id"]]
                assert not grant.used and not grant.expired, f"expired twice {grant}; {trace}"
                assert now.wall >= grant.valid_until, f"expired early {grant}; {trace}"
                grant.expired = True
        if step.kind != "start":
            # Timers ran: no grant outlives its time unused.
            for grant_id, grant in self.grants.items():
                if not grant.used and now.wall >= grant.valid_until:
                    assert grant.expired, f"grant {grant_id} should have expired; {trace}"


# About 15 s for 60 examples on a 2-core machine when nothing fails; shrinking a
# failure can take hypothesis up to five minutes more.
CustodyMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCustodyStateful = CustodyMachine.TestCase


# The state machine's findings, replayed step by step so every run checks them.


def _machine(**options) -> CustodyMachine:
    machine = CustodyMachine()
    setup = {
        "assignment": "dynamic",
        "lock": "pulse",
        "open_on_shift_end": False,
        "staff": 4,
        "first_day": FIRST_DAYS[0],
        "synchronised": True,
    }
    machine.set_up(**{**setup, **options})
    return machine


def test_a_restart_does_not_forget_a_clock_jump():
    """A jump suspends schedule releases until the next synchronisation, restart or not.

    Before the fix a restarted daemon trusted the clock again (``clock_synchronised:
    true`` in ``system.started``) though it was never synchronised after the jump,
    so a badge inside a break window on the jumped clock released the device.
    """
    machine = _machine()
    try:
        machine.advance(seconds=1)
        machine.clock_trouble(seconds=-86400)
        machine.restart(graceful=False)
    finally:
        machine.teardown()


def test_a_device_gone_from_a_released_slot_behind_a_shut_door_leaves_it_locked():
    """A released slot whose sensor loses the device while the door never opened.

    The slot goes ``out`` with ``locked`` still false and no relock deadline: a
    hold lock stays de-energised for good, and the next opening of the door is
    not taken for a forced one.
    """
    machine = _machine(lock="hold")
    try:
        machine.badge_and_use_the_slot(who="Alice")
        machine.release_slot(number=1, reason="family emergency", via="command", use=False)
        machine.device_sensor(number=1, present=False)
    finally:
        machine.teardown()
