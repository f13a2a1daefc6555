"""Tamper evidence: every attack on the event log is caught by ``locker log verify``,
or, for a chain rewritten with its checkpoints, by the printed daily checkpoint.

The log is two real days through the controller (see
:mod:`tests.support.tamper_kit`); hypothesis chooses where and how each
attack strikes. ``scripts/long_tamper.py`` runs thousands of them.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locker.db import Database
from tests.support.tamper_kit import (
    KINDS,
    attack,
    build_log,
    fresh_copy,
    matches_paper,
    verify_cli,
    write_config,
)

EXAMPLES_PER_KIND = 30
CAUGHT: Counter[str] = Counter()


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The built log, and a case file with a CLI config pointing at it."""
    folder = tmp_path_factory.mktemp("tamper")
    template = folder / "template.db"
    layout = build_log(template)
    case = folder / "case.db"
    return template, layout, case, write_config(folder, case)


def on_paper(case, layout) -> bool:
    """Whether the tampered log still reaches the printed checkpoint."""
    db = Database(f"sqlite:///{case}")
    try:
        with db.read() as session:
            return matches_paper(session, *layout.paper)
    finally:
        db.dispose()


def test_the_untouched_log_verifies_and_matches_its_paper(bench):
    template, layout, case, config = bench
    fresh_copy(template, case)
    verdict = verify_cli(config)
    assert verdict.exit_code == 0, verdict.output
    assert f"head {layout.last_id} " in verdict.output
    assert on_paper(case, layout)


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=EXAMPLES_PER_KIND,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rng=st.randoms(use_true_random=False))
def test_every_attack_is_caught(bench, kind, rng):
    template, layout, case, config = bench
    fresh_copy(template, case)
    conn = sqlite3.connect(case)
    try:
        tamper = attack(conn, layout, kind, rng)
    finally:
        conn.close()
    verdict = verify_cli(config)
    assert "Traceback" not in verdict.output
    if tamper.paper_only:
        # The database agrees with itself: only the printed checkpoint shows it.
        assert not on_paper(case, layout), f"not caught: {tamper.what}"
    else:
        assert verdict.broken, f"not caught: {tamper.what}: {verdict.output}"
        if tamper.lo is not None:
            assert verdict.named is not None and tamper.lo <= verdict.named <= tamper.hi, (
                f"{tamper.what}: named {verdict.named}, expected {tamper.lo}..{tamper.hi}: "
                f"{verdict.output}"
            )
        assert not on_paper(case, layout)
    CAUGHT[kind] += 1


def test_a_rewrite_with_its_checkpoints_agrees_with_itself_but_not_with_paper(bench):
    template, layout, case, config = bench
    fresh_copy(template, case)
    conn = sqlite3.connect(case)
    try:
        tamper = attack(conn, layout, "rewrite", random.Random(5))
    finally:
        conn.close()
    # Without the paper nothing in the database contradicts the rewrite: this is
    # why the daily report prints the checkpoint, and why `locker log verify`
    # would do well to take it (`--checkpoint ID:HASH`).
    assert verify_cli(config).exit_code == 0, tamper.what
    assert not on_paper(case, layout)


def test_every_kind_of_attack_was_tried_and_caught():
    # Runs after the hypothesis tests above (pytest keeps the file's order).
    if not CAUGHT:
        pytest.skip("counts the attacks of test_every_attack_is_caught: run it first")
    print("tamper cases caught:", dict(CAUGHT), "total", sum(CAUGHT.values()))
    assert set(CAUGHT) == set(KINDS)
    assert sum(CAUGHT.values()) >= len(KINDS) * 10
