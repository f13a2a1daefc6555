#!/usr/bin/env python3
"""The long crash-consistency run: SIGKILL the daemon of a busy simulated day thousands of times.

The long version of ``tests/reliability/test_crash.py`` (see
``tests/support/crash_site.py`` for what is checked after every restart).
Several sites run side by side; their days move on through breaks, shift
ends, closing time and midnight checkpoints. Prints the figures at the end;
exits 1 at the first failed check, keeping the sites' data directories.

    .venv/bin/python scripts/long_crash.py --kills 1000
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.crash_site import run_sites  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000, help="kills in all (default 1000)")
    parser.add_argument("--sites", type=int, default=5, help="sites side by side (default 5)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed")
    parser.add_argument(
        "--exec-every",
        type=int,
        default=20,
        help="every Nth start runs the real `locker daemon` executable (default 20)",
    )
    parser.add_argument("--keep", type=Path, help="keep the sites here (default: a temp dir)")
    args = parser.parse_args()

    cycles = math.ceil(args.kills / args.sites)
    root = args.keep or Path(tempfile.mkdtemp(prefix="long_crash-"))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"long_crash: {args.sites} sites x {cycles} kills, seed {args.seed}, in {root}",
        flush=True,
    )
    started = time.monotonic()
    done = [0]
    guard = threading.Lock()

    def progress(_run, _cycle: int) -> None:
        with guard:
            done[0] += 1
            if done[0] % 100 == 0:
                rate = done[0] / (time.monotonic() - started)
                print(f"  {done[0]} kills survived ({rate:.1f}/s)", flush=True)

    try:
        figures = run_sites(
            root,
            sites=args.sites,
            cycles=cycles,
            seed=args.seed,
            exec_every=args.exec_every,
            progress=progress,
        )
    except BaseException as exc:
        print(f"FAILED after {done[0]} kills (seed {args.seed}): {exc}", flush=True)
        print(f"the sites are kept in {root}", flush=True)
        return 1
    elapsed = time.monotonic() - started
    print(f"done in {elapsed:.0f} s")
    print(figures.summary())
    print("what the days held:", figures.coverage())
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
