"""``locker log verify --checkpoint ID:HASH``: the log held against its printed daily report.

A chain rewritten together with its checkpoints agrees with itself, so the
plain walk passes; only the checkpoint printed on paper before the rewrite
shows it (see :mod:`tests.support.tamper_kit`).
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from tests.support.tamper_kit import attack, build_log, fresh_copy, verify_cli, write_config


@pytest.mark.parametrize("seed", [1, 5, 9])
def test_a_rewrite_with_its_checkpoints_fails_against_the_printed_checkpoint(tmp_path, seed):
    template = tmp_path / "template.db"
    layout = build_log(template)
    case = tmp_path / "case.db"
    config = write_config(tmp_path, case)
    fresh_copy(template, case)
    paper_id, paper_hash = layout.paper
    printed = f"{paper_id}:{paper_hash}"
    untouched = verify_cli(config, "--checkpoint", printed)
    assert untouched.exit_code == 0, untouched.output
    assert f"ok: event {paper_id} carries the hash printed on paper" in untouched.output

    conn = sqlite3.connect(case)
    try:
        tamper = attack(conn, layout, "rewrite", random.Random(seed))
    finally:
        conn.close()
    assert verify_cli(config).exit_code == 0, tamper.what  # it agrees with itself
    verdict = verify_cli(config, "--checkpoint", printed)
    assert verdict.broken, f"not caught: {tamper.what}: {verdict.output}"
    assert f"event {paper_id} carries hash " in verdict.output
    assert f"but the paper says {paper_hash}" in verdict.output
    assert "Traceback" not in verdict.output
