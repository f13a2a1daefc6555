"""A seeded nursery for tests: a small bank's config, its people with their badges and
the day's rota (in memory as a :class:`Roster`, or stored with :func:`add_on_shift`), the
rules on a simulated clock (:class:`Bank`), and small builders.

Alice, Bob, Carol (staff) and Mary (the manager) work 08:00-16:00 on :data:`MONDAY`
with a break 12:00-12:30; the badges are in :data:`UIDS`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time

from locker.clock import SimulatedClock
from locker.config import Config, parse_config
from locker.custody import CustodyRules, SlotView
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, Outcome, Tick
from locker.notify_policy import Destination, NotifyConfig
from locker.people import add_person
from locker.roster import PersonInfo, Roster, ShiftInfo
from locker.rota import set_shift

LONDON = "Europe/London"
# A Monday in winter: local time is UTC.
MONDAY = date(2026, 1, 5)


def make_config(
    *,
    assignment: str = "dynamic",
    lock: str = "pulse",
    staff: int = 4,
    open_on_shift_end: bool = True,
    **rules,
) -> Config:
    """A simulated bank: ``staff`` staff slots, one visitor and one setting slot."""
    slots = []
    pin = 30
    kinds = ["staff"] * staff + ["visitor", "setting"]
    for number, kind in enumerate(kinds, start=1):
        slots.append(
            {
                "number": number,
                "kind": kind,
                "lock_pin": pin,
                "door_pin": pin + 1,
                "sensor_pin": pin + 2,
            }
        )
        pin += 3
    raw = {
        "site_name": "Test Nursery",
        "timezone": LONDON,
        "hardware": {"backend": "simulated"},
        "lock": {
            "type": lock,
            "open_on_shift_end": open_on_shift_end,
            **({"fail_state": "open"} if lock == "hold" else {}),
        },
        "rules": {"assignment": assignment, **rules},
        "slots": slots,
    }
    return parse_config(raw)


def notify_config(tmp_path, *destinations: Destination, **notify):
    """The bank of :func:`make_config` with ``[notify]`` set, its data in ``tmp_path``."""
    base = make_config()
    return dataclasses.replace(
        base,
        data_dir=str(tmp_path),
        notify=NotifyConfig(destinations=destinations, **notify),
    )


def at(day: date, hhmm: str) -> datetime:
    """Local ``hh:mm`` on ``day`` in London, as UTC."""
    from zoneinfo import ZoneInfo

    local = datetime.combine(day, time.fromisoformat(hhmm), tzinfo=ZoneInfo(LONDON))
    return local.astimezone(UTC)


ALICE, BOB, CAROL, MARY = 1, 2, 3, 4  # Mary is the manager
UIDS = {ALICE: "A1A1A1A1", BOB: "B0B0B0B0", CAROL: "C0C0C0C0", MARY: "4D4D4D4D"}


def make_roster(day: date = MONDAY, *, shifts: bool = True) -> Roster:
    """Alice, Bob and Carol (staff, Carol may take setting devices) and Mary (manager).

    Shifts on ``day``: 08:00-16:00 with a break 12:00-12:30 for everyone.
    """
    people = {
        ALICE: PersonInfo(ALICE, "Alice", "staff", slot_number=1),
        BOB: PersonInfo(BOB, "Bob", "staff", slot_number=2),
        CAROL: PersonInfo(CAROL, "Carol", "staff", slot_number=3, setting_authorised=True),
        MARY: PersonInfo(MARY, "Mary", "manager", slot_number=4),
    }
    badges = {uid: pid for pid, uid in UIDS.items()}
    table = {}
    if shifts:
        for pid in people:
            table[(pid, day)] = ShiftInfo(
                pid,
                day,
                at(day, "08:00"),
                at(day, "16:00"),
                ((at(day, "12:00"), at(day, "12:30")),),
            )
    return Roster(people, badges, {"DEADDEAD": BOB}, table)


def add_on_shift(
    session, name: str, badge: str, role: str = "staff", *, now: datetime, shift: bool = True
) -> int:
    """Store a person with their badge and, if ``shift``, the nursery's shift on
    :data:`MONDAY` (08:00-16:00, a break 12:00-12:30); their id. The caller commits."""
    person = add_person(session, name, role=role, badge=badge, at=now, actor="test")
    if shift:
        set_shift(
            session,
            person.id,
            MONDAY,
            at(MONDAY, "08:00"),
            at(MONDAY, "16:00"),
            [(at(MONDAY, "12:00"), at(MONDAY, "12:30"))],
            at=now,
            actor="test",
        )
    return person.id


def views(config: Config) -> list[SlotView]:
    """Fresh, empty slot views for every configured slot."""
    return [SlotView(s.number, s.kind, s.label or str(s.number)) for s in config.slots]


class Bank:
    """The rules with a simulated clock and short-hand for the physical world."""

    def __init__(self, config: Config, roster: Roster, clock: SimulatedClock):
        self.config = config
        self.clock = clock
        self.rules = CustodyRules(config, roster, views(config), started=clock.read())
        self.history: list[Outcome] = []

    def send(self, event) -> Outcome:
        outcome = self.rules.handle(event, self.clock.read())
        self.history.append(outcome)
        return outcome

    def badge(self, who: int | str) -> Outcome:
        return self.send(BadgeRead(UIDS[who] if isinstance(who, int) else who))

    def door(self, slot: int, open: bool) -> Outcome:
        return self.send(DoorChanged(slot, open))

    def device(self, slot: int, present: bool) -> Outcome:
        return self.send(DeviceChanged(slot, present))

    def advance(self, seconds: float) -> Outcome:
        self.clock.advance(seconds)
        return self.send(Tick())

    def go_to(self, hhmm: str, day: date = MONDAY) -> Outcome:
        target = at(day, hhmm)
        return self.advance((target - self.clock.now()).total_seconds())

    def deposit(self, who: int) -> int:
        """Badge, open, put the device in, close: returns the slot used."""
        outcome = self.badge(who)
        number = outcome.result["slot"]
        self.door(number, True)
        self.device(number, True)
        self.door(number, False)
        return number

    def slot(self, number: int) -> SlotView:
        return self.rules.slots[number]


def kinds(outcome: Outcome) -> list[str]:
    """The kinds of the log entries of an outcome, in order."""
    return [e.kind for e in outcome.entries]
