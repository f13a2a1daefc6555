"""Benchmark: what an idle daemon writes to storage (SD cards die of small writes).

``locker daemon`` runs on a simulated 24-slot bank with its reader polling and
nobody badging, for ``--seconds`` after it reported ``READY=1``. The figure is
``write_bytes`` of ``/proc/<pid>/io`` (bytes the process caused to be sent to
the block layer), as bytes per hour, two ways in the same run:

- ``run_dir`` on a tmpfs (``/dev/shm``), as on an installed Pi
  (``/run/nursery-locker``): the live status file costs the card nothing;
- the baseline: ``run_dir`` on the data disk, as when the status was written
  where the database is.

The simulated backend also saves its clock (``sim_clock.json``) every
heartbeat, beside the live status in ``run_dir``; a Pi's daemon (``gpio``
backend) has no such file.

    .venv/bin/python bench/idle_writes.py [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w
from kit import MONDAY, Service, local, seed_bank, write_bank_config

SLOTS = 24


def write_bytes(pid: int) -> int:
    """``write_bytes`` of ``/proc/<pid>/io``."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError(f"no write_bytes for {pid}")


def idle_writes(tmp: Path, run_dir: Path, seconds: float) -> dict:
    """Bytes an hour the daemon writes while idle, with its live status in ``run_dir``."""
    start = local(MONDAY, "07:00")
    config_file = write_bank_config(tmp, staff_slots=SLOTS, start=start)
    raw = tomllib.loads(config_file.read_text())
    raw["run_dir"] = str(run_dir)
    config_file.write_text(tomli_w.dumps(raw))
    seed_bank(config_file, people=SLOTS, at=start).db.dispose()
    daemon = Service("daemon", config_file, tmp, notify=True).start()
    try:
        daemon.wait_ready()
        time.sleep(5)  # the start's own writes (reconcile, first checkpoint) settle
        before, began = write_bytes(daemon.pid), time.monotonic()
        time.sleep(seconds)
        after, took = write_bytes(daemon.pid), time.monotonic() - began
    finally:
        daemon.stop()
    return {"bytes": after - before, "seconds": took, "per_hour": (after - before) * 3600 / took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(dir="/var/tmp") as disk,
        tempfile.TemporaryDirectory(dir="/dev/shm") as shm,
    ):
        tmpfs = idle_writes(Path(disk) / "a", Path(shm), args.seconds)
        baseline = idle_writes(Path(disk) / "b", Path(disk) / "b", args.seconds)
    print(f"idle daemon, {SLOTS} slots, {args.seconds:.0f} s each, load {load:.2f} at the start")
    print(f"  live status on tmpfs (a Pi):  {tmpfs['per_hour'] / 1024:10.1f} KB/hour")
    print(f"  live status on the data disk: {baseline['per_hour'] / 1024:10.1f} KB/hour")
    if baseline["per_hour"]:
        print(f"  ratio tmpfs / disk: {tmpfs['per_hour'] / baseline['per_hour']:.3f}")


if __name__ == "__main__":
    main()
