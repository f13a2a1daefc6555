"""A schedule release its slot's silent expander held back, on the simulated day.

While an expander does not answer, its slots' doors are unknown and nothing opens
them: a shift end or closing time passes them by. When it answers again the
release is decided afresh, as the rules stand *now*: a shift that has ended is
still released (logged first, marked ``late``), closing the same day too, but a
break that ended meanwhile or a closing of yesterday opens nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.models import Event
from tests.support.bench import ALICE, Bench
from tests.support.expander_bank import expander_bench


@pytest.fixture
def bank(tmp_path):
    bench = expander_bench(tmp_path)
    bench.go_to("07:55")
    bench.deposit(ALICE, 1)  # slot 1 is on mcp0
    yield bench
    bench.close()


def expander(bench: Bench, answering: bool) -> None:
    """mcp0 stops answering or answers again, and the next consistency read sees it."""
    chip = bench.backend.sim_expanders.chips["mcp0"]
    chip.reconnect() if answering else chip.disconnect()
    bench.settle(bench.backend.expanders.check_s)
    bench.settle(0)


def releases(bench: Bench) -> list[tuple[str, dict]]:
    """Every release and unlock logged, in order, with its details."""
    kinds = (*ev.RELEASE_KINDS, ev.SLOT_UNLOCKED)
    with bench.db.read() as session:
        rows = session.scalars(select(Event).where(Event.kind.in_(kinds)).order_by(Event.id))
        return [(row.kind, json.loads(row.details)) for row in rows]


def test_a_shift_end_held_back_is_released_once_the_expander_answers(bank):
    unlocks = bank.unlocks(1)
    bank.go_to("15:50")
    expander(bank, answering=False)
    bank.go_to("16:20")
    assert bank.state(1) == "held" and bank.unlocks(1) == unlocks
    assert not bank.count(ev.RELEASE_SHIFT_END)
    expander(bank, answering=True)
    assert bank.state(1) == "open_for_release"
    (release, details), (unlocked, _) = releases(bank)[-2:]
    assert (release, unlocked) == (ev.RELEASE_SHIFT_END, ev.SLOT_UNLOCKED)  # logged first
    assert details["late"] is True
    assert bank.unlocks(1) == unlocks + 1
    bank.settle(60)
    assert bank.count(ev.RELEASE_SHIFT_END) == 1  # decided once


def test_one_release_when_both_the_shift_end_and_closing_were_held_back(bank):
    unlocks = bank.unlocks(1)
    bank.go_to("15:50")
    expander(bank, answering=False)
    bank.go_to("18:40")  # past the shift's end (16:00) and closing (18:30)
    assert not bank.count(ev.RELEASE_SHIFT_END) and not bank.count(ev.RELEASE_CLOSING)
    expander(bank, answering=True)
    bank.settle(1)
    assert bank.count(ev.RELEASE_SHIFT_END) + bank.count(ev.RELEASE_CLOSING) == 1
    assert bank.unlocks(1) == unlocks + 1


def test_closing_held_back_is_done_once_the_expander_answers_the_same_day(bank):
    bank.go_to("16:00")  # her shift ends: slot 1 opens for her, its sprung door pops
    bank.settle(1)
    bank.door(1, False)  # a colleague pushes the door shut: the phone stays, held
    assert bank.state(1) == "held"
    unlocks = bank.unlocks(1)
    bank.go_to("18:20")
    expander(bank, answering=False)
    bank.go_to("18:45")
    assert bank.state(1) == "held" and not bank.count(ev.RELEASE_CLOSING)
    expander(bank, answering=True)
    assert bank.state(1) == "open_for_release"
    (release, details), (unlocked, _) = releases(bank)[-2:]
    assert (release, unlocked) == (ev.RELEASE_CLOSING, ev.SLOT_UNLOCKED)
    assert details["late"] is True
    assert bank.unlocks(1) == unlocks + 1


def test_nothing_opens_when_the_expander_answers_the_next_morning(bank):
    unlocks = bank.unlocks(1)
    bank.go_to("15:50")
    expander(bank, answering=False)
    now = bank.clock.now()
    morning = (now + timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
    bank.settle((morning - now).total_seconds())
    expander(bank, answering=True)
    bank.settle(60)
    assert bank.state(1) == "held" and bank.unlocks(1) == unlocks
    assert not bank.count(ev.RELEASE_SHIFT_END) and not bank.count(ev.RELEASE_CLOSING)


def test_a_break_that_ended_meanwhile_opens_nothing(bank):
    unlocks = bank.unlocks(1)
    bank.go_to("11:55")
    expander(bank, answering=False)
    bank.go_to("12:05")
    bank.badge(ALICE)  # on her break, but her slot cannot be checked
    assert bank.state(1) == "held"
    bank.go_to("12:40")  # the break is over
    expander(bank, answering=True)
    bank.settle(60)
    assert bank.state(1) == "held" and bank.unlocks(1) == unlocks
    assert not bank.count(ev.RELEASE_BREAK)
