"""The benchmarks still run against the product as it is now.

They build their logs and banks with the product's own code (the chain's
commitments, the daemon, the backend), so a change of an interface they use
breaks them without any other test noticing. Each runs here at its smallest
size, as its own process; nothing about its timings is asserted (those are
figures for ``bench/``, never a test's pass or fail).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: bench script -> (its smallest arguments, a line its output must hold)
SMALLEST = {
    "panel_at_scale": (
        ["--events", "5000", "--repeat", "2", "--report-budget", "2"],
        "ok=True",
    ),
    "badge_to_lock": (["--cycles", "5", "--card-cycles", "2"], "missed 0"),
    "alerts_hot_path": (["--cycles", "5"], "SQL statements"),
}


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_the_bench_runs_on_the_product_as_it_is(name, tmp_path):
    args, expected = SMALLEST[name]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout
