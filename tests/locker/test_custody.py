"""The custody rules of SPEC.md, one rule at a time, on a simulated clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from locker import events as ev
from locker.clock import SimulatedClock
from locker.decisions import (
    Fault,
    GrantCreated,
    GrantInfo,
    GrantUsed,
    Lock,
    RaiseAlert,
    ReleaseAll,
    ReleaseSlot,
    SensorReading,
    Signal,
    SignInVisitor,
    SignOutVisitor,
    SlowReader,
    StockSettingSlot,
    Unlock,
)
from locker.errors import InvalidRequest, NotFound
from locker.states import SlotState
from tests.support.nursery import (
    ALICE,
    BOB,
    CAROL,
    MARY,
    MONDAY,
    Bank,
    at,
    kinds,
    make_config,
    make_roster,
)

S = SlotState


def alerts(outcome) -> list[str]:
    return [e.alert for e in outcome.of(RaiseAlert)]


def refusal_reason(outcome) -> str:
    (entry,) = [e for e in outcome.entries if e.kind == ev.BADGE_REFUSED]
    return entry.details["reason"]


# ----------------------------------------------------------------- deposit


def test_deposit_opens_the_first_free_slot_and_confirms(bank):
    outcome = bank.badge(ALICE)
    assert kinds(outcome) == [ev.BADGE_GRANTED, ev.SLOT_UNLOCKED]
    assert outcome.of(Unlock) == [Unlock(1)]
    assert Signal("granted") in outcome.effects
    assert bank.slot(1).state is S.OPEN_FOR_DEPOSIT
    bank.door(1, True)
    bank.device(1, True)
    done = bank.door(1, False)
    assert kinds(done) == [ev.DOOR_CLOSED, ev.SLOT_LOCKED, ev.DEPOSIT_CONFIRMED]
    assert done.of(Lock) == [Lock(1)]
    assert Signal("deposited") in done.effects
    assert bank.slot(1).state is S.HELD
    assert bank.slot(1).owner == ALICE


def test_dynamic_assignment_skips_taken_slots(bank):
    assert bank.deposit(ALICE) == 1
    assert bank.deposit(BOB) == 2


def test_fixed_assignment_uses_the_persons_own_slot(clock):
    bank = Bank(make_config(assignment="fixed"), make_roster(), clock)
    assert bank.deposit(BOB) == 2
    assert bank.deposit(ALICE) == 1


def test_fixed_slot_not_free_is_refused(clock):
    bank = Bank(make_config(assignment="fixed"), make_roster(), clock)
    bank.device(2, True)  # something is already in Bob's slot (tamper alert aside)
    outcome = bank.badge(BOB)
    assert refusal_reason(outcome) == "slot_not_free"
    assert not outcome.of(Unlock)


def test_no_free_slot_is_refused(clock):
    bank = Bank(make_config(staff=1), make_roster(), clock)
    bank.deposit(ALICE)
    outcome = bank.badge(BOB)
    assert refusal_reason(outcome) == "no_free_slot"
    assert Signal("refused") in outcome.effects


def test_door_closed_without_a_device_frees_the_slot_and_records_it(bank):
    bank.badge(ALICE)
    bank.door(1, True)
    outcome = bank.door(1, False)
    assert ev.DEPOSIT_EMPTY in kinds(outcome)
    assert bank.slot(1).state is S.FREE
    assert bank.slot(1).owner is None
    assert (ALICE, MONDAY) in bank.rules.declared_empty


def test_no_door_activity_relocks_after_the_timeout(bank):
    bank.badge(ALICE)
    assert not bank.advance(29).of(Lock)
    outcome = bank.advance(2)
    assert outcome.of(Lock) == [Lock(1)]
    assert outcome.entries[-1].details["reason"] == "timeout"
    assert bank.slot(1).state is S.FREE


def test_a_door_held_open_does_not_time_out_but_raises_door_left_open(bank):
    bank.badge(ALICE)
    bank.door(1, True)
    assert not bank.advance(60).of(Lock)
    outcome = bank.advance(61)
    assert alerts(outcome) == [ev.ALERT_DOOR_LEFT_OPEN]
    assert alerts(bank.advance(300)) == []  # once per opening


# ----------------------------------------------------------------- release


def test_release_is_refused_on_shift_outside_a_break(bank):
    bank.go_to("07:55")
    bank.deposit(ALICE)
    bank.go_to("10:00")
    outcome = bank.badge(ALICE)
    assert refusal_reason(outcome) == "on_shift"
    assert "Next break at 12:00" in outcome.entries[0].details["explanation"]
    assert not outcome.of(Unlock)
    assert bank.slot(1).state is S.HELD


def test_release_on_break_with_grace_then_return(bank):
    bank.deposit(ALICE)
    bank.go_to("11:54")
    assert refusal_reason(bank.badge(ALICE)) == "on_shift"
    bank.go_to("11:56")  # inside the 5-minute grace
    outcome = bank.badge(ALICE)
    assert ev.RELEASE_BREAK in kinds(outcome)
    assert outcome.of(Unlock) == [Unlock(1)]
    bank.door(1, True)
    bank.device(1, False)
    bank.door(1, False)
    slot = bank.slot(1)
    assert slot.state is S.OUT and slot.owner == ALICE
    assert slot.return_due == at(MONDAY, "12:30")
    # Back from the break: the same slot opens.
    bank.go_to("12:25")
    assert bank.badge(ALICE).of(Unlock) == [Unlock(1)]
    bank.door(1, True)
    bank.device(1, True)
    done = bank.door(1, False)
    assert done.entries[-1].details["returned"] is True
    assert bank.slot(1).state is S.HELD


def test_device_out_after_the_break_raises_overdue_once(bank):
    bank.deposit(ALICE)
    bank.go_to("12:00")
    bank.badge(ALICE)
    bank.door(1, True)
    bank.device(1, False)
    bank.door(1, False)
    assert alerts(bank.go_to("12:34")) == []
    assert alerts(bank.go_to("12:36")) == [ev.ALERT_OVERDUE]
    assert alerts(bank.go_to("12:50")) == []


def test_release_at_shift_end_on_badge_frees_the_slot(bank):
    """With no automatic pulse, the owner's badge after the shift releases it."""
    bank.rules.config = make_config(lock="pulse", open_on_shift_end=False)
    bank.deposit(ALICE)
    bank.go_to("16:01")
    outcome = bank.badge(ALICE)
    assert ev.RELEASE_SHIFT_END in kinds(outcome)
    bank.door(1, True)
    bank.device(1, False)
    bank.door(1, False)
    assert bank.slot(1).state is S.FREE
    assert bank.slot(1).owner is None


def test_person_with_no_shift_today_may_take_their_device(clock):
    bank = Bank(make_config(), make_roster(shifts=False), clock)
    bank.deposit(ALICE)
    outcome = bank.badge(ALICE)
    (entry,) = [e for e in outcome.entries if e.kind == ev.RELEASE_SHIFT_END]
    assert entry.details["no_shift_today"] is True


def test_shift_end_releases_automatically(bank):
    bank.deposit(ALICE)
    assert not bank.go_to("15:59").of(Unlock)
    outcome = bank.go_to("16:00")
    assert outcome.of(Unlock) == [Unlock(1)]
    (entry,) = [e for e in outcome.entries if e.kind == ev.RELEASE_SHIFT_END]
    assert entry.details["automatic"] is True
    # Nobody came: it relocks, and is not released again and again.
    assert bank.advance(31).of(Lock) == [Lock(1)]
    assert not bank.advance(600).of(Unlock)
    assert bank.slot(1).state is S.HELD


def test_pulse_lock_without_open_on_shift_end_waits_for_the_badge(clock):
    bank = Bank(make_config(lock="pulse", open_on_shift_end=False), make_roster(), clock)
    bank.deposit(ALICE)
    assert not bank.go_to("16:05").of(Unlock)


def test_closing_releases_every_device_and_flags_forgotten_ones(bank):
    bank.deposit(ALICE)
    bank.deposit(BOB)
    bank.rules.set_roster(make_roster(shifts=False))  # nobody's shift ends first
    outcome = bank.go_to("18:30")
    assert sorted(u.slot for u in outcome.of(Unlock)) == [1, 2]
    assert kinds(outcome).count(ev.RELEASE_CLOSING) == 2
    # Bob takes his; Alice forgets hers.
    bank.door(2, True)
    bank.device(2, False)
    bank.door(2, False)
    later = bank.go_to("18:41")
    assert alerts(later) == [ev.ALERT_FORGOTTEN_DEVICE]
    assert later.of(RaiseAlert)[0].slot == 1


def test_setting_devices_stay_at_closing(bank):
    bank.rules.set_roster(make_roster(shifts=False))
    bank.send(StockSettingSlot(6, "mary"))
    bank.door(6, True)
    bank.device(6, True)
    bank.door(6, False)
    assert bank.slot(6).state is S.HELD
    outcome = bank.go_to("18:30")
    assert not outcome.of(Unlock)


# ------------------------------------------------------- grants, approvals


def grant(gid=1, person=ALICE, open_now=False, minutes=30, valid=60, clock=None):
    return GrantInfo(
        gid,
        person,
        "emergency",
        "call from school",
        open_now,
        minutes,
        "mary",
        clock.now() + timedelta(minutes=valid),
    )


def test_grant_on_next_badge_releases_with_return_time(bank, clock):
    bank.deposit(ALICE)
    bank.go_to("10:00")
    created = bank.send(GrantCreated(grant(clock=clock)))
    assert kinds(created) == [ev.GRANT_CREATED]
    assert created.result["waiting_for_badge"] is True
    outcome = bank.badge(ALICE)
    assert kinds(outcome) == [ev.BADGE_GRANTED, ev.RELEASE_GRANT, ev.GRANT_USED, ev.SLOT_UNLOCKED]
    used = outcome.of(GrantUsed)[0]
    assert used.return_due == at(MONDAY, "10:30")
    bank.door(1, True)
    bank.device(1, False)
    bank.door(1, False)
    assert bank.slot(1).state is S.OUT
    assert alerts(bank.go_to("10:36")) == [ev.ALERT_OVERDUE]
    # Used once only.
    assert bank.rules.grants == {}


def test_grant_checked_before_schedule(bank, clock):
    bank.deposit(ALICE)
    bank.go_to("12:05")  # on a break, but the grant is checked first
    bank.send(GrantCreated(grant(clock=clock)))
    assert ev.RELEASE_GRANT in kinds(bank.badge(ALICE))


def test_grant_open_now_releases_at_once(bank, clock):
    bank.deposit(ALICE)
    outcome = bank.send(GrantCreated(grant(open_now=True, clock=clock)))
    assert outcome.of(Unlock) == [Unlock(1)]
    assert outcome.result["slot"] == 1


def test_unused_grant_expires(bank, clock):
    bank.deposit(ALICE)
    bank.send(GrantCreated(grant(valid=10, clock=clock)))
    outcome = bank.advance(11 * 60)
    assert kinds(outcome) == [ev.GRANT_EXPIRED]
    assert refusal_reason(bank.badge(ALICE)) == "on_shift"


def test_grant_for_unknown_person_is_refused(bank, clock):
    with pytest.raises(NotFound):
        bank.send(GrantCreated(grant(person=99, clock=clock)))


def test_manager_badge_after_a_refusal_approves_on_the_spot(bank):
    bank.deposit(ALICE)
    bank.go_to("10:00")
    bank.badge(ALICE)
    bank.advance(10)
    outcome = bank.badge(MARY)
    assert kinds(outcome)[0] == ev.APPROVAL_ON_THE_SPOT
    entry = outcome.entries[0]
    assert entry.actor == "Mary" and entry.person_id == ALICE
    assert entry.details["manager_id"] == MARY and entry.details["person"] == "Alice"
    assert outcome.of(Unlock) == [Unlock(1)]


def test_manager_badge_after_the_window_is_an_ordinary_badge(bank):
    bank.deposit(ALICE)
    bank.go_to("10:00")
    bank.badge(ALICE)
    bank.advance(31)
    outcome = bank.badge(MARY)
    assert ev.APPROVAL_ON_THE_SPOT not in kinds(outcome)
    assert outcome.result["slot"] == 2  # Mary's own deposit


def test_staff_cannot_approve_and_manager_cannot_approve_themselves(bank):
    bank.deposit(ALICE)
    bank.deposit(MARY)
    bank.go_to("10:00")
    bank.badge(ALICE)
    assert ev.APPROVAL_ON_THE_SPOT not in kinds(bank.badge(BOB))
    bank.badge(MARY)  # refused: on shift
    assert refusal_reason(bank.badge(MARY)) == "on_shift"


# -------------------------------------------------------------- manager


def test_manager_release_of_one_slot(bank):
    bank.deposit(ALICE)
    outcome = bank.send(ReleaseSlot(1, "family emergency", "mary", "10.0.0.5"))
    assert kinds(outcome)[:2] == [ev.RELEASE_MANAGER, ev.SLOT_UNLOCKED]
    entry = outcome.entries[0]
    assert entry.actor == "mary" and entry.details["client"] == "10.0.0.5"


def test_manager_release_of_an_empty_slot_is_refused(bank):
    with pytest.raises(InvalidRequest, match="not holding a device"):
        bank.send(ReleaseSlot(1, "why", "mary"))
    with pytest.raises(NotFound):
        bank.send(ReleaseSlot(42, "why", "mary"))


def test_release_all_opens_every_held_slot(bank):
    bank.deposit(ALICE)
    bank.deposit(BOB)
    with pytest.raises(InvalidRequest):
        bank.send(ReleaseAll("  ", "mary"))
    outcome = bank.send(ReleaseAll("fire alarm", "mary"))
    assert kinds(outcome)[0] == ev.RELEASE_ALL
    assert sorted(u.slot for u in outcome.of(Unlock)) == [1, 2]


# ------------------------------------------------------ visitors, setting


def test_visitor_slot_signed_in_and_out(bank):
    outcome = bank.send(SignInVisitor("Ofsted inspector", "mary"))
    assert outcome.of(Unlock) == [Unlock(5)]
    bank.door(5, True)
    bank.device(5, True)
    bank.door(5, False)
    assert bank.slot(5).state is S.HELD
    assert bank.slot(5).visitor_name == "Ofsted inspector"
    out = bank.send(SignOutVisitor(5, "mary"))
    assert out.of(Unlock) == [Unlock(5)]
    bank.door(5, True)
    gone = bank.device(5, False)
    assert ev.VISITOR_SIGNED_OUT in kinds(gone)
    assert bank.slot(5).state is S.FREE
    with pytest.raises(InvalidRequest):
        bank.send(SignOutVisitor(5, "mary"))


def test_setting_device_checkout_and_return(bank):
    bank.send(StockSettingSlot(6, "mary"))
    bank.door(6, True)
    bank.device(6, True)
    bank.door(6, False)
    bank.deposit(CAROL)
    bank.go_to("10:00")
    assert refusal_reason(bank.badge(CAROL)) == "on_shift"
    outcome = bank.badge(CAROL)
    assert outcome.of(Unlock) == [Unlock(6)]
    bank.door(6, True)
    taken = bank.device(6, False)
    assert ev.SETTING_CHECKED_OUT in kinds(taken)
    bank.door(6, False)
    assert bank.slot(6).state is S.OUT and bank.slot(6).owner == CAROL
    back = bank.badge(CAROL)
    assert back.of(Unlock) == [Unlock(6)]
    bank.door(6, True)
    bank.device(6, True)
    assert ev.SETTING_RETURNED in kinds(bank.door(6, False))
    assert bank.slot(6).owner is None and bank.slot(6).state is S.HELD


def test_setting_devices_only_for_authorised_staff(bank):
    bank.send(StockSettingSlot(6, "mary"))
    bank.door(6, True)
    bank.device(6, True)
    bank.door(6, False)
    bank.deposit(BOB)
    bank.go_to("10:00")
    bank.badge(BOB)
    outcome = bank.badge(BOB)
    assert refusal_reason(outcome) == "on_shift"
    assert not outcome.of(Unlock)


def test_setting_device_due_back_at_closing(bank):
    bank.send(StockSettingSlot(6, "mary"))
    bank.door(6, True)
    bank.device(6, True)
    bank.door(6, False)
    bank.deposit(CAROL)
    bank.go_to("10:00")
    bank.badge(CAROL)
    bank.badge(CAROL)
    bank.door(6, True)
    bank.device(6, False)
    bank.door(6, False)
    bank.rules.set_roster(make_roster(shifts=False))
    outcome = bank.go_to("18:36")
    overdue = [a for a in outcome.of(RaiseAlert) if a.alert == ev.ALERT_OVERDUE]
    assert overdue and overdue[0].details["setting"] is True


# ------------------------------------------------------------- alerts


def test_unknown_and_revoked_badges(bank):
    outcome = bank.badge("01020304")
    assert kinds(outcome) == [ev.BADGE_UNKNOWN]
    assert refusal_reason(bank.badge("DEADDEAD")) == "revoked"


def test_repeated_unknown_badges_raise_an_alert(bank):
    for _ in range(4):
        assert alerts(bank.badge("01020304")) == []
        bank.advance(5)
    assert alerts(bank.badge("01020304")) == [ev.ALERT_UNKNOWN_BADGES]


def test_the_unknown_badges_alert_slows_the_reader(bank):
    for _ in range(4):
        assert bank.badge("01020304").of(SlowReader) == []
    outcome = bank.badge("01020304")
    assert outcome.of(SlowReader) == [SlowReader(gap_s=10.0, for_s=60.0)]
    [alert] = outcome.of(RaiseAlert)
    assert alert.details["cooldown_s"] == 10.0
    assert alert.message.endswith("the reader answers one card every 10 s.")


def test_a_cool_down_of_zero_leaves_the_reader_alone(clock):
    bank = Bank(make_config(unknown_badge_cooldown_s=0), make_roster(), clock)
    outcomes = [bank.badge("01020304") for _ in range(5)]
    assert alerts(outcomes[-1]) == [ev.ALERT_UNKNOWN_BADGES]
    assert not any(o.of(SlowReader) for o in outcomes)


def test_unknown_badges_spread_out_raise_nothing(bank):
    for _ in range(10):
        assert alerts(bank.badge("01020304")) == []
        bank.advance(20)


def test_door_forced_while_locked(bank):
    bank.deposit(ALICE)
    outcome = bank.door(1, True)
    assert alerts(outcome) == [ev.ALERT_DOOR_FORCED]
    assert outcome.entries[0].details["forced"] is True


def test_device_removed_while_locked_is_tamper(bank):
    bank.deposit(ALICE)
    bank.door(1, True)
    outcome = bank.device(1, False)
    assert alerts(outcome) == [ev.ALERT_TAMPER]
    assert bank.slot(1).state is S.OUT


def test_staff_on_shift_with_no_device_raises_no_deposit(bank):
    bank.deposit(ALICE)
    outcome = bank.go_to("08:16")
    flagged = sorted(a.person_id for a in outcome.of(RaiseAlert))
    assert flagged == [BOB, CAROL, MARY]
    assert alerts(bank.go_to("09:00")) == []


def test_hardware_fault_becomes_an_alert(bank):
    outcome = bank.send(Fault("reader", "not answering"))
    assert alerts(outcome) == [ev.ALERT_HARDWARE_FAULT]


# ---------------------------------------------------------------- clock


def test_unsynchronised_clock_suspends_schedule_releases(clock):
    clock.lose_sync()
    bank = Bank(make_config(), make_roster(), clock)
    started = bank.rules.start({}, clock.read())
    assert ev.CLOCK_UNSYNCHRONISED in kinds(started)
    bank.deposit(ALICE)
    bank.go_to("12:05")
    assert refusal_reason(bank.badge(ALICE)) == "clock_unsynchronised"
    assert not bank.go_to("16:30").of(Unlock)  # no shift-end release either
    clock.synchronise()
    assert ev.CLOCK_SYNCHRONISED in kinds(bank.advance(1))
    assert ev.RELEASE_SHIFT_END in kinds(bank.badge(ALICE))


def test_grant_works_while_the_clock_is_not_trusted(clock):
    clock.lose_sync()
    bank = Bank(make_config(), make_roster(), clock)
    bank.deposit(ALICE)
    assert bank.send(GrantCreated(grant(open_now=True, clock=clock))).of(Unlock)


def test_clock_jump_is_logged_and_suspends_until_resync(bank, clock):
    bank.deposit(ALICE)
    bank.go_to("10:00")
    clock.jump(2 * 3600)  # to 12:00, inside the break
    outcome = bank.advance(0)
    assert ev.CLOCK_JUMP in kinds(outcome)
    assert alerts(outcome) == [ev.ALERT_CLOCK]
    assert refusal_reason(bank.badge(ALICE)) == "clock_unsynchronised"
    clock.synchronise()
    bank.advance(1)
    assert ev.RELEASE_BREAK in kinds(bank.badge(ALICE))


def test_backward_jump_is_logged_too(bank, clock):
    bank.go_to("10:00")
    clock.jump(-600)
    assert ev.CLOCK_JUMP in kinds(bank.advance(0))


def test_a_shift_end_missed_while_untrusted_is_not_acted_on_later(bank, clock):
    bank.deposit(ALICE)
    bank.go_to("15:00")
    clock.jump(3600 * 2)  # jumps past the shift end
    bank.advance(0)
    clock.synchronise()
    assert not bank.advance(1).of(Unlock)


# --------------------------------------------------------- daylight saving


def test_break_on_the_day_the_clocks_go_forward():
    # Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST.
    from datetime import date

    day = date(2026, 3, 29)
    clock = SimulatedClock(at(day, "07:00"))
    bank = Bank(make_config(), make_roster(day), clock)
    bank.deposit(ALICE)
    assert at(day, "12:00").hour == 11  # 12:00 BST is 11:00 UTC
    bank.go_to("11:54", day)
    assert refusal_reason(bank.badge(ALICE)) == "on_shift"
    bank.go_to("12:01", day)
    assert ev.RELEASE_BREAK in kinds(bank.badge(ALICE))


def test_closing_on_the_day_the_clocks_go_back():
    from datetime import date

    day = date(2026, 10, 25)
    clock = SimulatedClock(at(day, "07:00"))
    bank = Bank(make_config(), make_roster(day, shifts=False), clock)
    bank.deposit(ALICE)
    assert not bank.go_to("18:29", day).of(Unlock)
    outcome = bank.go_to("18:30", day)
    assert outcome.of(Unlock) == [Unlock(1)]
    assert at(day, "18:30").hour == 18  # GMT again


# -------------------------------------------------------------- restart


def test_restart_never_unlocks_and_reconciles_with_the_sensors(bank, clock):
    bank.deposit(ALICE)
    bank.badge(BOB)  # slot 2 open for deposit when the daemon dies
    views = list(bank.rules.slots.values())
    fresh = type(bank.rules)(bank.config, make_roster(), views, started=clock.read())
    sensors = {n: SensorReading(False, False) for n in bank.rules.slots}
    sensors[1] = SensorReading(door_open=False, device_present=False)  # Alice's phone gone!
    sensors[3] = SensorReading(door_open=True, device_present=False)  # forced
    outcome = fresh.start(sensors, clock.read())
    assert not outcome.of(Unlock)
    assert sorted(alerts(outcome)) == [ev.ALERT_DOOR_FORCED, ev.ALERT_TAMPER]
    assert fresh.slots[2].state is S.FREE  # the unfinished deposit became empty
    assert fresh.slots[1].state is S.OUT
    assert all(s.locked for s in fresh.slots.values())


def test_restart_mid_deposit_with_the_device_in_confirms_it(bank, clock):
    bank.badge(ALICE)
    bank.door(1, True)
    views = list(bank.rules.slots.values())
    fresh = type(bank.rules)(bank.config, make_roster(), views, started=clock.read())
    sensors = {n: SensorReading(False, False) for n in bank.rules.slots}
    sensors[1] = SensorReading(door_open=False, device_present=True)
    outcome = fresh.start(sensors, clock.read())
    assert ev.DEPOSIT_CONFIRMED in kinds(outcome)
    assert not outcome.of(Unlock)
    assert fresh.slots[1].state is S.HELD


def test_restart_with_the_door_still_open_finishes_when_it_shuts(bank, clock):
    bank.badge(ALICE)
    bank.door(1, True)
    bank.device(1, True)
    views = list(bank.rules.slots.values())
    fresh = type(bank.rules)(bank.config, make_roster(), views, started=clock.read())
    sensors = {n: SensorReading(False, False) for n in bank.rules.slots}
    sensors[1] = SensorReading(door_open=True, device_present=True)
    outcome = fresh.start(sensors, clock.read())
    assert not alerts(outcome) and not outcome.of(Unlock)
    from locker.custody import DoorChanged

    done = fresh.handle(DoorChanged(1, False), clock.read())
    assert ev.DEPOSIT_CONFIRMED in kinds(done)
