#!/usr/bin/env python3
"""The long tamper-evidence run: thousands of random attacks on a real log, each checked.

The long version of ``tests/reliability/test_tamper.py`` (see
``tests/support/tamper_kit.py`` for the attacks). Each case is a fresh
copy of a log the controller wrote over two days, one attack with the plain
``sqlite3`` module, then ``locker log verify`` (the CLI, in process) and the
printed checkpoint. Prints the figures at the end; exits 1 if any attack went
unnoticed or was blamed on the wrong event.

    .venv/bin/python scripts/long_tamper.py --cases 5000
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from locker.db import Database  # noqa: E402
from tests.support.tamper_kit import (  # noqa: E402
    KINDS,
    TAIL_NOTE,
    attack,
    build_log,
    fresh_copy,
    matches_paper,
    verify_cli,
    write_config,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000, help="attacks in all (default 5000)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="long_tamper-"))
    template = folder / "template.db"
    layout = build_log(template)
    case = folder / "case.db"
    config = write_config(folder, case)
    rng = random.Random(args.seed)
    print(
        f"long_tamper: {args.cases} attacks on a log of {layout.last_id} events "
        f"(daily checkpoints of events {', '.join(map(str, layout.checkpointed))}), "
        f"seed {args.seed}",
        flush=True,
    )
    tried: Counter[str] = Counter()
    by_cli: Counter[str] = Counter()
    by_paper: Counter[str] = Counter()
    missed: list[str] = []
    misnamed: list[str] = []
    started = time.monotonic()
    for n in range(args.cases):
        kind = KINDS[n % len(KINDS)]
        fresh_copy(template, case)
        conn = sqlite3.connect(case)
        try:
            tamper = attack(conn, layout, kind, rng)
        finally:
            conn.close()
        verdict = verify_cli(config)
        db = Database(f"sqlite:///{case}")
        try:
            with db.read() as session:
                on_paper = matches_paper(session, *layout.paper)
        finally:
            db.dispose()
        tried[kind] += 1
        by_cli[kind] += verdict.broken
        by_paper[kind] += not on_paper
        if not verdict.broken and on_paper:
            missed.append(tamper.what)
        elif not tamper.paper_only and not verdict.broken:
            missed.append(f"{tamper.what} (only the paper caught it)")
        elif tamper.lo is not None and not (
            verdict.named is not None and tamper.lo <= verdict.named <= tamper.hi
        ):
            misnamed.append(f"{tamper.what}: named {verdict.named}")
        if (n + 1) % 1000 == 0:
            print(f"  {n + 1} attacks ({(n + 1) / (time.monotonic() - started):.0f}/s)", flush=True)
    shutil.rmtree(folder, ignore_errors=True)

    caught = sum(tried.values()) - len(missed)
    print(f"done in {time.monotonic() - started:.0f} s")
    print(f"tamper cases caught: {caught} of {sum(tried.values())}")
    for kind in KINDS:
        print(
            f"  {kind:<10} {tried[kind]:>6} tried, {by_cli[kind]:>6} caught by `locker log verify`,"
            f" {by_paper[kind]:>6} by the printed checkpoint"
        )
    print(f"misnamed (caught, but the first bad event named elsewhere): {len(misnamed)}")
    for line in (missed + misnamed)[:20]:
        print("  ", line)
    print(f"not attempted, by design: {TAIL_NOTE}")
    return 1 if missed or misnamed else 0


if __name__ == "__main__":
    sys.exit(main())
