"""Benchmark: a 24-slot bank on MCP23017 expanders against the native 4-slot bank.

Both banks run the real daemon in this process on simulated hardware; the
expander bank's slots are lines of five emulated MCP23017s reached through the
real driver and pin factory (``hardware.expander_pins``), its inputs by
interrupt. Measured in the same run, so the ratios hold on any machine:

1. Badge -> lock: a ``BadgeRead`` handed to the daemon (``emit`` then
   ``step``) until its outputs are driven, people without a shift badging in
   turn (deposit, release); between badges the world moves the device and
   shuts the door. On the expander bank the pulse is an I2C write.
2. Idle: the daemon's loop (``step`` with its usual wait, reader thread off:
   the reader costs the same on both banks, see ``bench/idle_cost.py``) on real
   time for ``--seconds``: CPU seconds per wall second, and the expander
   bank's I2C transactions per idle second (the consistency read: one block
   read per expander every 30 s).

    .venv/bin/python bench/expander_bank.py [--cycles N] [--seconds S] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from kit import (
    MONDAY,
    line_ms,
    local,
    machine,
    seed_bank,
    stats_ms,
    world_moves_on,
    write_bank_config,
    write_json,
)

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker.clock import DemoClock, SimulatedClock
from locker.controller import Controller
from locker.daemon import Daemon
from locker.decisions import BadgeRead

#: No more people than the native bank has slots, so every badge opens one.
PEOPLE = 4
BANKS = {"native 4-slot": (4, False), "expander 24-slot": (24, True)}


def build(tmp: Path, slots: int, on_expanders: bool, clock):
    start = local(MONDAY, "07:00")
    config_file = write_bank_config(tmp, staff_slots=slots, start=start, on_expanders=on_expanders)
    seeded = seed_bank(config_file, people=PEOPLE, at=start)
    backend = Backend.from_config(
        seeded.config, clock, data_dir=tmp, pin_factory=SimulatedPinFactory(), reader_clock=clock
    )
    daemon = Daemon(Controller(seeded.config, seeded.db, clock), backend, real_clock=clock)
    daemon.begin(reader_thread=False)
    return seeded, backend, daemon


def badge_to_lock(tmp: Path, slots: int, on_expanders: bool, cycles: int) -> list[float]:
    """Seconds from a badge handed to the daemon to its outputs driven, ``cycles`` times."""
    clock = SimulatedClock(local(MONDAY, "07:00"))
    seeded, backend, daemon = build(tmp, slots, on_expanders, clock)
    world = backend.world
    times = []
    try:
        for i in range(cycles):
            before = {n: s["unlock_count"] for n, s in world.outputs()["slots"].items()}
            began = time.perf_counter()
            daemon.emit(BadgeRead(seeded.uids[i % len(seeded.uids)]))
            daemon.step(0)
            times.append(time.perf_counter() - began)
            after = world.outputs()["slots"]
            opened = [n for n, s in after.items() if s["unlock_count"] > before[n]]
            if len(opened) != 1:
                raise RuntimeError(f"cycle {i}: {len(opened)} slots opened, not 1")
            world_moves_on(world, daemon, clock, opened[0], 20)
    finally:
        daemon.finish()
        seeded.db.dispose()
    return times


def idle(tmp: Path, slots: int, on_expanders: bool, seconds: float) -> dict:
    """CPU per wall second of the idle loop on real time, and I2C transactions per second."""
    clock = DemoClock(local(MONDAY, "07:00"))
    seeded, backend, daemon = build(tmp, slots, on_expanders, clock)
    sim = backend.sim_expanders
    try:
        daemon.step(0)
        transactions = sim.transactions if sim else 0
        cpu, wall = time.process_time(), time.perf_counter()
        while time.perf_counter() - wall < seconds:
            daemon.step(daemon.wait_s)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        transactions = (sim.transactions if sim else 0) - transactions
    finally:
        daemon.finish()
        seeded.db.dispose()
    return {"cpu_fraction": cpu / wall, "i2c_per_s": transactions / wall, "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    figures: dict = {"machine": machine(), "banks": {}}
    with tempfile.TemporaryDirectory(prefix="bench-expander-") as tmp:
        for name, (slots, on_expanders) in BANKS.items():
            root = Path(tmp) / name.replace(" ", "-")
            times = badge_to_lock(root / "badge", slots, on_expanders, args.cycles)
            quiet = idle(root / "idle", slots, on_expanders, args.seconds)
            figures["banks"][name] = {"badge_to_lock": stats_ms(times), "idle": quiet}
            print(line_ms(f"{name}: badge -> lock", times))
            print(
                f"{name}: idle loop {quiet['cpu_fraction'] * 100:.3f} % of a core, "
                f"{quiet['i2c_per_s']:.3f} I2C transactions/s"
            )
    native, expander = figures["banks"]["native 4-slot"], figures["banks"]["expander 24-slot"]
    figures["ratio_badge_median"] = (
        expander["badge_to_lock"]["median"] / native["badge_to_lock"]["median"]
    )
    figures["ratio_idle_cpu"] = expander["idle"]["cpu_fraction"] / max(
        native["idle"]["cpu_fraction"], 1e-9
    )
    print(
        f"expander / native: badge -> lock median {figures['ratio_badge_median']:.2f}x, "
        f"idle CPU {figures['ratio_idle_cpu']:.2f}x; load average {figures['machine']['loadavg']}"
    )
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
