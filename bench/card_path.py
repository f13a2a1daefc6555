"""Benchmark: where the card -> lock path spends its CPU, free and under a Pi-class quota.

``bench/pi_class.py`` found that at 15 % of a core most cards were not seen
within 2 s, and that even free the card -> lock p99 grew with the log. This
script runs the card part of ``bench/badge_to_lock.py`` (a card put in the
emulated reader's field until the lock pin rises, the reader thread polling
through the real ``mfrc522`` driver, the daemon loop on real time) on a copy
of a long log, in a child process, and splits the CPU that child spent while
the cards came (each thread's CPU clock, ``pthread_getcpuclockid``):

- the reader thread, and within it the emulated MFRC522's own work (its SPI
  and timer model; on a Pi that is silicon, not the Pi's CPU), timed with the
  thread's CPU clock around every call into the emulator;
- the daemon loop thread;
- the rest of the process.

The start-up whole-log check runs in its own process (as the service runs it)
before the cards; its wall time is printed. With ``--verified`` each quota run
is repeated on a copy of the history whose last nightly check is recorded, so
the start-up check resumes from that checkpoint, as on a site where the nightly
check has run.

The emulated chip runs in the same process as the reader, so a quota charges
its work to the product. The quota runs account for it: a run at ``P`` % is
given ``P`` % plus the chip's share measured in the free run before it, so the
product's own code (driver, reader, loop, SQLite) gets ``P`` % of a core, as on
a Pi. Each run prints its load average; runs alternate free / quota / free.

``--profile`` adds a free pass with each thread under ``cProfile`` and prints
the functions with the most own time per thread (the profiler's cost would
distort a quota run, so it is free only).

    sudo .venv/bin/python bench/card_path.py [--events N] [--cards N] [--quota PCT ...]
                                             [--history DB] [--profile] [--json PATH]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from badge_to_lock import (
    LockWatch,
    bank,
    present_cards,
    production_daemon,
    readiness,
    settle_log_check,
    wait_until_up,
)
from kit import line_ms, loadavg, machine, stats_ms, write_json
from pi_class import CpuQuota, make_history
from sqlalchemy import select

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker.clock import DemoClock
from locker.db import Database
from locker.log import VerifyReport, append, head, parse_ts, verified_entry
from locker.models import Event

HERE = Path(__file__).resolve().parent
#: The emulator's entry points the reader's driver calls (spidev's and the reset line's).
CHIP_CALLS = ("xfer", "xfer2", "writebytes", "readbytes", "elapse", "set_reset_line")


def thread_cpu_s(thread: threading.Thread) -> float:
    """CPU seconds ``thread`` has used so far (its own CPU clock)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class ChipMeter:
    """Charges every call into the emulated chip to the chip: CPU seconds and calls."""

    def __init__(self, chip: Any):
        self.cpu_s = 0.0
        self.calls = 0
        for name in CHIP_CALLS:
            setattr(chip, name, self._metered(getattr(chip, name)))

    def _metered(self, call):
        def metered(*args, **kwargs):
            began = time.thread_time()
            try:
                return call(*args, **kwargs)
            finally:
                self.cpu_s += time.thread_time() - began
                self.calls += 1

        return metered


def profiled(target, profiles: dict[str, cProfile.Profile], name: str):
    """``target`` run under a ``cProfile.Profile`` kept in ``profiles[name]``."""

    def run(*args, **kwargs):
        profile = profiles[name] = cProfile.Profile()
        profile.enable()
        try:
            return target(*args, **kwargs)
        finally:
            profile.disable()

    return run


def cards(count: int, tmp: Path, history: Path, seed: int, profile: bool) -> dict[str, Any]:
    """The child's work: ``count`` cards on a bank continuing ``history``; times and CPU."""
    rng = random.Random(seed)
    start, seeded = bank(tmp, history)
    config, db = seeded.config, seeded.db
    clock = DemoClock(start)
    pins = SimulatedPinFactory()
    backend = Backend.from_config(config, clock, data_dir=tmp, pin_factory=pins)
    world = backend.world
    meter = ChipMeter(backend.reader.chip)
    daemon = production_daemon(config, db, clock, backend)
    profiles: dict[str, cProfile.Profile] = {}
    if profile:
        backend.reader.run = profiled(backend.reader.run, profiles, "reader")
    watch = LockWatch(pins, config)
    interval = config.reader.poll_interval_s
    ready = readiness(daemon)
    began_s = time.monotonic()
    run = profiled(daemon.run, profiles, "loop") if profile else daemon.run
    loop = threading.Thread(target=run, name="daemon loop", daemon=True)
    loop.start()
    try:
        wait_until_up(backend, ready, interval)
        startup_s = time.monotonic() - began_s
        log_check_s = settle_log_check(daemon)
        reader = backend.reader_thread
        cpu0 = {
            "process": time.process_time(),
            "reader": thread_cpu_s(reader),
            "loop": thread_cpu_s(loop),
            "chip": meter.cpu_s,
        }
        wall0 = time.monotonic()
        latencies, missed = present_cards(world, watch, seeded.uids, count, interval, rng)
        wall = time.monotonic() - wall0
        cpu = {
            "process": time.process_time() - cpu0["process"],
            "reader": thread_cpu_s(reader) - cpu0["reader"],
            "loop": thread_cpu_s(loop) - cpu0["loop"],
            "chip": meter.cpu_s - cpu0["chip"],
        }
    finally:
        daemon.stop()
        loop.join(timeout=10)
    db.dispose()
    share = {key: value / wall for key, value in cpu.items()}
    figures: dict[str, Any] = {
        "latencies": latencies,
        "missed": missed,
        "wall_s": wall,
        "cpu_s": cpu,
        "share": share,
        "log_check_s": log_check_s,
        "startup_s": startup_s,
        "polls_per_s": 1 / interval,
    }
    if profile:
        figures["profiles"] = {name: top(p) for name, p in profiles.items()}
    return figures


def top(profile: cProfile.Profile, lines: int = 18) -> str:
    """The functions with the most own time, as ``pstats`` prints them."""
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def verified_copy(history: Path, folder: Path) -> Path:
    """A copy of ``history`` whose last nightly check is recorded (``log.verified``).

    The daemon's start-up check then resumes from that checkpoint instead of
    walking the whole log, as it does on a site where the nightly check runs.
    The record vouches for the history as built (the bench's own chain).
    """
    copy = folder / "verified.db"
    shutil.copyfile(history, copy)
    db = Database(f"sqlite:///{copy}")
    with db.write() as session:
        head_id, head_hash = head(session)
        last = session.scalar(select(Event.ts).where(Event.id == head_id))
        at = parse_ts(last) + timedelta(minutes=1)
        report = VerifyReport(True, head_id, None, "", head_id, head_hash)
        append(session, verified_entry(report, at), at)
        session.commit()
    db.dispose()
    return copy


def run_child(
    label: str,
    quota: CpuQuota | None,
    percent: float | None,
    args: argparse.Namespace,
    history: Path,
    *,
    profile: bool = False,
) -> dict[str, Any]:
    """This script as a child (``--child``), in the quota's cgroup at ``percent`` of a core."""
    out = Path(tempfile.mkstemp(prefix="bench-card-", suffix=".json")[1])
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(out)]
    command += ["--cards", str(args.cards), "--history", str(history), "--seed", str(args.seed)]
    if profile:
        command.append("--profile")
    if quota is not None:
        quota.set(percent)
    load = loadavg()
    print(f"\n=== {label}: load {load}", flush=True)
    throttled = quota.throttled_s() if quota is not None else 0.0
    done = subprocess.run(command, preexec_fn=quota.join if quota is not None else None)
    if done.returncode != 0:
        raise SystemExit(f"{label}: the child failed (exit {done.returncode})")
    figures = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    figures["throttled_s"] = (quota.throttled_s() - throttled) if quota is not None else 0.0
    figures["load"] = load
    figures["percent"] = percent
    return figures


def report(label: str, figures: dict[str, Any]) -> None:
    """Print one run's card -> lock figures and its CPU split."""
    share = figures["share"]
    product = share["process"] - share["chip"]
    print(line_ms(f"  {label}: card -> lock", figures["latencies"]))
    print(
        f"    missed (not seen within 2 s): {figures['missed']}; daemon ready after"
        f" {figures['startup_s']:.1f} s, then the start-up whole-log check"
        f" {figures['log_check_s']:.1f} s; throttled {figures['throttled_s']:.1f} s"
    )
    print(
        f"    CPU while the cards came, % of a core: process {100 * share['process']:.2f}"
        f" = reader thread {100 * share['reader']:.2f} (of it the emulated chip"
        f" {100 * share['chip']:.2f}) + loop {100 * share['loop']:.2f} + rest"
        f" {100 * (share['process'] - share['reader'] - share['loop']):.2f};"
        f" without the chip {100 * product:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Build the history, run the children (free, each quota, free again), print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log")
    parser.add_argument("--cards", type=int, default=60, help="cards per run")
    parser.add_argument(
        "--quota", type=float, nargs="*", default=[15.0], help="percent of one core (product)"
    )
    parser.add_argument(
        "--history", type=Path, help="reuse this history database (made there if missing)"
    )
    parser.add_argument("--profile", action="store_true", help="add a free run under cProfile")
    parser.add_argument(
        "--verified",
        action="store_true",
        help="also run each quota on a copy whose last nightly check is recorded",
    )
    parser.add_argument("--seed", type=int, default=5, help="random seed")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory(prefix="bench-card-") as tmp:
            figures = cards(args.cards, Path(tmp), args.history, args.seed, args.profile)
        args.child.write_text(json.dumps(figures), encoding="utf-8")
        return 0
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")
    # A group of its own: another run's quota must not change this one's.
    quota = CpuQuota(f"nursery-locker-card-path-{os.getpid()}") if args.quota else None
    runs: list[tuple[str, dict[str, Any]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-card-history-") as tmp:
            history = args.history
            if history is None or not history.exists():
                built, built_s = make_history(Path(tmp), args.events, args.seed)
                print(f"history: {args.events:,} events, built in {built_s:.0f} s")
                if history is not None:
                    shutil.copyfile(built, history)  # kept for the next run
                history = built
            free = run_child("free", quota, None, args, history)
            runs.append(("free", free))
            report("free", free)
            verified = verified_copy(history, Path(tmp)) if args.verified else None
            for percent in args.quota:
                chip = 100 * free["share"]["chip"]
                label = f"{percent:g} % + the chip's {chip:.1f} %"
                limited = run_child(label, quota, percent + chip, args, history)
                runs.append((label, limited))
                report(label, limited)
                if verified is not None:
                    label += ", last nightly check recorded"
                    resumed = run_child(label, quota, percent + chip, args, verified)
                    runs.append((label, resumed))
                    report(label, resumed)
            again = run_child("free again", quota, None, args, history)
            runs.append(("free again", again))
            report("free again", again)
            if args.profile:
                profiled_run = run_child("free, cProfile", None, None, args, history, profile=True)
                for name, text in profiled_run.pop("profiles").items():
                    print(f"\n--- cProfile, {name} thread (own time) ---\n{text}")
    finally:
        if quota is not None:
            quota.close()
    base = stats_ms(free["latencies"] + again["latencies"])
    print(f"\nagainst the free runs (p99 {base['p99']:.1f} ms, median {base['median']:.1f} ms):")
    for label, figures in runs:
        mine = stats_ms(figures["latencies"]) if figures["latencies"] else None
        if mine is None:
            print(f"  {label}: no card seen")
            continue
        print(
            f"  {label}: median {mine['median'] / base['median']:.2f}x,"
            f" p99 {mine['p99'] / base['p99']:.2f}x, missed {figures['missed']},"
            f" load {figures['load']}"
        )
    write_json(
        args.json,
        {
            "runs": [
                {
                    "label": label,
                    **{k: v for k, v in f.items() if k != "latencies"},
                    "card_to_lock": stats_ms(f["latencies"]) if f["latencies"] else None,
                }
                for label, f in runs
            ],
            "machine": info,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
