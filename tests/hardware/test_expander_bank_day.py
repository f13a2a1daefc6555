"""A 32-slot bank on seven simulated MCP23017s over two I2C buses, through the daemon."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from locker import events as ev
from locker.models import Command, Event
from tests.support.bench import ALICE, PEOPLE, Bench
from tests.support.expander_bank import PER_EXPANDER, SLOTS, expander_bank_config, expander_bench


@pytest.fixture
def bank(tmp_path):
    bench = expander_bench(tmp_path)
    yield bench
    bench.close()
    bench.db.dispose()


def test_a_deposit_and_a_break_on_expander_lines(bank):
    bank.go_to("07:55")
    bank.badge(ALICE)
    slot = next(n for n in range(1, SLOTS + 1) if bank.state(n) == "open_for_deposit")
    assert bank.world.outputs()["slots"][slot]["lock_energised"]
    bank.settle(0.6)
    assert not bank.world.outputs()["slots"][slot]["lock_energised"]
    bank.device(slot, True)
    bank.door(slot, False)
    assert bank.state(slot) == "held"
    bank.go_to("12:05")
    bank.badge(ALICE)
    bank.settle(0.6)
    bank.device(slot, False)
    bank.door(slot, False)
    assert bank.state(slot) == "out"
    assert bank.unlocks(slot) == 2
    assert bank.chain_ok()


def test_an_idle_second_costs_no_bus_transaction(bank):
    bank.go_to("09:00")
    bank.settle(1)  # past any consistency read now due
    before = bank.backend.sim_expanders.transactions
    for _ in range(10):
        bank.settle(0.1)
    assert bank.backend.sim_expanders.transactions == before


def test_a_silent_expander_raises_a_fault_and_unlocks_nothing(bank):
    bank.go_to("07:55")
    chip = bank.backend.sim_expanders.chips["mcp0"]
    chip.disconnect()
    bank.settle(bank.backend.expanders.check_s)  # the consistency read finds it silent
    bank.settle(0)  # the fault it queued reaches the rules
    faults = bank.alerts("hardware_fault")
    assert len(faults) == 1
    assert "mcp0" in str(faults[0].details)
    before = [bank.unlocks(n) for n in range(1, PER_EXPANDER + 1)]
    bank.door(1, True)  # a door on the silent expander moves: nobody hears it
    assert bank.count(ev.DOOR_OPENED) == 0
    assert [bank.unlocks(n) for n in range(1, PER_EXPANDER + 1)] == before
    bank.door(1, False)
    chip.reconnect()
    bank.settle(bank.backend.expanders.check_s)
    assert bank.backend.expanders.answering("mcp0")


RELEASED = 24


@pytest.fixture
def full_bank(tmp_path):
    """24 staff members with their phones locked in slots 1 to 24, and Mary."""
    people = [(f"Staff {n}", f"{0xC0000000 + n:08X}", "staff") for n in range(1, RELEASED + 1)]
    bench = Bench(tmp_path, config=expander_bank_config(), people=[*people, PEOPLE[2]])
    bench.go_to("07:40")
    for number, (_, uid, _) in enumerate(people, start=1):
        bench.deposit(uid, number)
        bench.settle(2)
    yield bench
    bench.close()
    bench.db.dispose()


def test_release_all_on_24_slots_stays_in_the_power_budget_each_pulse_after_its_log(
    full_bank, monkeypatch
):
    bank = full_bank
    budget = bank.config.lock.max_simultaneous
    pulsed_before_logged = []

    for number, devices in bank.backend.bank.slots.items():
        lock, unlock = devices.lock, devices.lock.unlock

        def checked(number=number, unlock=unlock):
            with bank.db.read() as session:
                logged = session.scalar(
                    select(func.count())
                    .select_from(Event)
                    .where(Event.kind == ev.SLOT_UNLOCKED, Event.slot == number)
                )
            if logged < 2:  # the deposit's, then the release's
                pulsed_before_logged.append(number)
            return unlock()

        monkeypatch.setattr(lock, "unlock", checked)

    bank.settle(60)
    start = bank.world.outputs()["max_energised_at_once"]
    with bank.db.write() as session:
        now = bank.clock.now()
        session.add(
            Command(
                kind="release_all",
                payload={"reason": "fire alarm", "confirm": True},
                account="mary",
                created_at=now,
                requested_at=now,
            )
        )
        session.commit()
    bank.daemon.run_commands()
    for _ in range(200):
        bank.settle(0.05)
    outputs = bank.world.outputs()
    assert start <= budget
    assert outputs["max_energised_at_once"] == budget
    assert all(outputs["slots"][n]["unlock_count"] == 2 for n in range(1, RELEASED + 1))
    assert pulsed_before_logged == []
