"""The daemon takes a retention backlog in bounded steps spaced out, never in one long pass."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from locker import events as ev
from locker import retention
from locker.config_retention import RetentionConfig
from locker.log import verify
from locker.models import Event
from tests.support.bench import ALICE, MARY, PEOPLE, Bench
from tests.support.nursery import make_config

DAY = 24 * 3600


@pytest.fixture
def bench(tmp_path, monkeypatch):
    monkeypatch.setattr(retention, "STEP", 5)
    config = dataclasses.replace(
        make_config(),
        retention_days=30,
        retention=RetentionConfig(custody_days=30, login_days=30),
    )
    bench = Bench(tmp_path, config=config, people=[p for p in PEOPLE if p[1] in (ALICE, MARY)])
    yield bench
    bench.close()
    bench.db.dispose()


def purges(bench) -> list[dict]:
    """The details of every ``log.purged`` event: one a step."""
    with bench.db.read() as session:
        rows = session.scalars(select(Event.details).where(Event.kind == ev.LOG_PURGED))
        return [json.loads(details) for details in rows]


def test_a_backlog_is_purged_a_step_a_tick(bench):
    for _ in range(3):  # three days of a bank: deposits, refusals, checkpoints
        bench.badge(ALICE)
        bench.settle(DAY)
    bench.settle(40 * DAY)  # all of it past its period: the first step, at the checkpoint
    assert bench.daemon.retention.more
    for _ in range(200):
        if not bench.daemon.retention.more:
            break
        bench.settle(retention.GAP_S)
    assert not bench.daemon.retention.more
    steps = purges(bench)
    assert len(steps) >= 3
    assert all(step["count"] <= 5 for step in steps)
    with bench.db.read() as session:
        assert verify(session).ok


def test_the_steps_of_a_backlog_are_spaced_out(bench):
    for _ in range(3):
        bench.badge(ALICE)
        bench.settle(DAY)
    bench.settle(40 * DAY)
    assert bench.daemon.retention.more
    taken = len(purges(bench))
    for _ in range(int(retention.GAP_S) - 1):  # passes within the gap: no step
        bench.settle(1)
    assert len(purges(bench)) == taken
    bench.settle(1)
    assert len(purges(bench)) == taken + 1
