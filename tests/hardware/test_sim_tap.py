"""A simulated badge tap stays on the reader until the reader has looked at it.

A person holds a card until the reader beeps. The simulator's tap lasts
``TAP_S`` on the reader's clock *and* ``TAP_POLLS`` polls: on a machine so
loaded that the reader's thread missed the 0.35 s, a tap that went by time alone
was gone before it was read, and the badge was never answered.
"""

from __future__ import annotations

import pytest

from hardware.backend import TAP_POLLS, TAP_S
from hardware.reader import SETTLING_POLLS
from locker import events as ev
from locker.commands import SimBadge
from tests.support.bench import ALICE, Bench


@pytest.fixture
def bench(tmp_path):
    made = Bench(tmp_path)
    made.go_to("07:55")
    for _ in range(SETTLING_POLLS + 1):  # the reader started, with no card resting on it
        made.poll()
    yield made
    made.close()


def test_a_tap_the_reader_has_not_polled_stays_however_long_it_waits(bench):
    bench.backend.simulate(SimBadge(ALICE))
    bench.settle(10 * TAP_S)  # the reader's thread starved: no poll at all
    assert bench.world.card == ALICE.lower()
    for _ in range(TAP_POLLS):
        bench.poll()
    bench.settle(0)
    assert bench.world.card is None
    assert bench.count(ev.BADGE_GRANTED) == 1


def test_a_tap_polled_at_once_still_lasts_its_time(bench):
    bench.backend.simulate(SimBadge(ALICE))
    for _ in range(TAP_POLLS):
        bench.poll()
    bench.settle(TAP_S / 2)
    assert bench.world.card == ALICE.lower()
    bench.settle(TAP_S)
    assert bench.world.card is None
    assert bench.count(ev.BADGE_GRANTED) == 1
