"""Benchmark: from a badge to the lock pin moving.

(a) Processing alone: a :class:`~locker.decisions.BadgeRead` handed to the
daemon (``Daemon.emit`` then ``Daemon.step``) until the slot's lock pin goes
high on the :class:`~hardware.pins.SimulatedPinFactory`, on a SQLite file
database (the commit before the pin is part of the path). People without a
shift badge in turn, so each badge is a deposit or a release; between badges
the simulated world puts a device in or takes it out, shuts the door and the
simulated clock moves on. The baseline is one log-sized commit on the same
database file (``synchronous=FULL``), the floor under any decision.

(b) Card to lock: a card put in the emulated reader's field
(``SimulatedWorld.present_card``) until the lock pin goes high, with the
reader thread polling at its configured interval through the real ``mfrc522``
driver on the emulated MFRC522, and the daemon loop (``Daemon.run``) in its
own thread on real time. Cards come at random moments against the polling
grid, so a card waits on average half an interval for the next poll.

The moment the pin changed is the one gpiozero's mock pin records in its
``states`` history, so how the benchmark notices it does not count.

With ``--history DB`` each part's bank starts from a copy of that database,
whose log already holds many events (``bench/pi_class.py`` makes one with a
million), so the appends continue a long chain.

    .venv/bin/python bench/badge_to_lock.py [--cycles N] [--card-cycles N] [--history DB]
                                            [--json PATH]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from kit import (
    MONDAY,
    filesystem_of,
    line_ms,
    local,
    machine,
    seed_bank,
    stats_ms,
    world_moves_on,
    write_bank_config,
    write_json,
)
from sqlalchemy import event

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker.clock import DemoClock, SimulatedClock
from locker.config import load_config
from locker.controller import Controller
from locker.daemon import Daemon
from locker.decisions import BadgeRead
from locker_app.log_check import ProcessLogCheck

PEOPLE = 8


class LockWatch:
    """The lock pins of a bank, and when one of them last went high.

    ``arm()`` clears each pin's history (gpiozero's ``clear_states``) and
    notes the monotonic time just before, so a later rise can be placed on
    ``time.monotonic()`` from the durations the pin keeps.
    """

    def __init__(self, pins: SimulatedPinFactory, config):
        self.pins = {s.number: pins.pin(s.lock_pin) for s in config.slots}
        self.cleared: dict[int, float] = {}

    def arm(self) -> None:
        """Forget every pin's history; a rise from now on is the one to time."""
        for number, pin in self.pins.items():
            self.cleared[number] = time.monotonic()
            pin.clear_states()

    def rise(self) -> tuple[int, float] | None:
        """``(slot, monotonic time)`` of the first rise since :meth:`arm`, if any."""
        for number, pin in self.pins.items():
            elapsed = 0.0
            for state in list(pin.states)[1:]:
                elapsed += state.timestamp
                if state.state:
                    return number, self.cleared[number] + elapsed
        return None


def commit_baseline(path: Path, count: int) -> list[float]:
    """Seconds per commit of one event-sized row on ``path`` (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id INTEGER PRIMARY KEY, body TEXT)")
    body = "x" * 400
    times = []
    for _ in range(count):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO bench_commit (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
    conn.execute("DROP TABLE bench_commit")
    conn.close()
    return times


def bank(tmp: Path, history: Path | None):
    """A 24-slot simulated bank in ``tmp``, its log continuing ``history``'s when given."""
    start = local(MONDAY, "07:00")
    # A long history is kept whole (a site that keeps ten years): with the default
    # year, the first daily pass would purge nine years of it on the daemon's loop,
    # a one-off minute of CPU that the cards were timed against.
    keep = 3700 if history is not None else 365
    config_file = write_bank_config(tmp, staff_slots=24, start=start, retention_days=keep)
    if history is not None:
        db_path = Path(load_config(config_file).db_url.removeprefix("sqlite:///"))
        shutil.copyfile(history, db_path)
    return start, seed_bank(config_file, people=PEOPLE, at=start)


def production_daemon(config, db, clock, backend) -> Daemon:
    """A daemon whose nightly whole-log check runs in a child process, as the service's does.

    (A bare ``Daemon`` checks on a thread, which at a million events holds the
    interpreter lock for seconds and would be timed as the badge's.)
    """
    return Daemon(
        Controller(config, db, clock),
        backend,
        log_check=lambda started: ProcessLogCheck(config, started),
    )


def readiness(daemon: Daemon) -> threading.Event:
    """An event set when ``daemon`` says it is ready (after its start-up, before its loop).

    The loop thread's ``begin`` reconciles the bank and plans the start-up log
    check; until it has, the reader already polls but no badge is handled, and
    no log check is running yet for :func:`settle_log_check` to wait for.
    """
    ready = threading.Event()
    notify = daemon.notify

    def noting(message: str) -> None:
        if message == "READY=1":
            ready.set()
        notify(message)

    daemon.notify = noting
    return ready


def wait_until_up(backend: Backend, ready: threading.Event, interval: float) -> None:
    """Until the reader answers and is past its settling polls, and the daemon is ready.

    Not only the reader: cards were once timed from its first polls, while a long
    log's start-up still ran and before the start-up log check had begun.
    """
    deadline = time.monotonic() + 30
    while not backend.reader_healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(4 * interval)
    ready.wait(600)


def settle_log_check(daemon: Daemon, timeout: float = 600.0) -> float:
    """Wait until the whole-log check the daemon started on start-up has ended; seconds waited.

    It runs once a day, in its own process; the figures are for the rest of the day.
    """
    began = time.monotonic()
    check = daemon.log_check
    while check is not None and not check.done() and time.monotonic() - began < timeout:
        time.sleep(0.05)
    return time.monotonic() - began


def processing(cycles: int, tmp: Path, rng: random.Random, history: Path | None = None) -> dict:
    """Part (a): emit + step until the pin rises, ``cycles`` times."""
    start, seeded = bank(tmp, history)
    config, db = seeded.config, seeded.db
    clock = SimulatedClock(start)
    pins = SimulatedPinFactory()
    backend = Backend.from_config(config, clock, data_dir=tmp, pin_factory=pins, reader_clock=clock)
    world = backend.world
    daemon = production_daemon(config, db, clock, backend)
    daemon.begin(reader_thread=False)
    settled = settle_log_check(daemon)
    watch = LockWatch(pins, config)
    # Note when the daemon hands its first outputs to the backend: before that
    # is the decision and its commit, after it the driving of the pins.
    # Count the SQL statements (and the commit) of the decision, up to that moment.
    applied: list[float] = []
    statements = {"counting": False, "count": 0}
    drive = backend.apply

    def noting_apply(outputs) -> None:
        applied.append(time.monotonic())
        statements["counting"] = False
        drive(outputs)

    def count_statement(*_args) -> None:
        if statements["counting"]:
            statements["count"] += 1

    backend.apply = noting_apply
    event.listen(db.engine, "before_cursor_execute", count_statement)
    event.listen(db.engine, "commit", count_statement)
    for _ in range(3):  # open the reader and let it settle
        clock.advance(1)
        backend.poll_reader()
        daemon.step(0)
    to_pin, whole_step, decided, driven, counts, missed = [], [], [], [], [], 0
    try:
        for i in range(cycles):
            uid = seeded.uids[i % len(seeded.uids)]
            world.present_card(uid)
            reads = []
            for _ in range(3):  # a card answers every other request
                reads = [r for r in backend.poll_reader() if isinstance(r, BadgeRead)]
                if reads:
                    break
            world.remove_card()
            if not reads:
                missed += 1
                continue
            watch.arm()
            applied.clear()
            statements.update(counting=True, count=0)
            began = time.monotonic()
            daemon.emit(reads[0])
            daemon.step(0)
            ended = time.monotonic()
            rise = watch.rise()
            if rise is None:
                missed += 1
                continue
            slot, at = rise
            to_pin.append(at - began)
            whole_step.append(ended - began)
            decided.append(applied[0] - began)
            counts.append(statements["count"])
            driven.append(at - applied[0])
            world_moves_on(world, daemon, clock, slot, rng.uniform(5, 40))
    finally:
        daemon.finish()
    commits = commit_baseline(Path(config.db_url.removeprefix("sqlite:///")), 200)
    db.dispose()
    return {
        "to_pin": to_pin,
        "whole_step": whole_step,
        "decided": decided,
        "driven": driven,
        "statements": sorted(counts)[len(counts) // 2] if counts else 0,
        "commit": commits,
        "missed": missed,
        "log_check_s": settled,
    }


def present_cards(
    world, watch: LockWatch, uids: list[str], count: int, interval: float, rng: random.Random
) -> tuple[list[float], int]:
    """``count`` cards, each put in the field at a random moment against the poll grid
    until a lock pin rises (or 2 s pass: missed); seconds to each rise, and the misses.

    After each, the device is put in or taken out and the door shut, so the next
    badge is a deposit or a collection again.
    """
    latencies, missed = [], 0
    for i in range(count):
        time.sleep(rng.uniform(0, interval))
        watch.arm()
        began = time.monotonic()
        world.present_card(uids[i % len(uids)])
        rise = None
        give_up = began + 2.0
        while rise is None and time.monotonic() < give_up:
            time.sleep(0.001)
            rise = watch.rise()
        world.remove_card()
        if rise is None:
            missed += 1
            continue
        slot, at = rise
        latencies.append(at - began)
        world.set_device(slot, not world.slot(slot).device_present)
        world.set_door(slot, False)
        lock = watch.pins[slot]
        settle = time.monotonic() + 2.0
        while lock.state and time.monotonic() < settle:
            time.sleep(0.005)
    return latencies, missed


def card_to_lock(cycles: int, tmp: Path, rng: random.Random, history: Path | None = None) -> dict:
    """Part (b): a card into the field until the pin rises, daemon and reader in threads."""
    start, seeded = bank(tmp, history)
    config, db = seeded.config, seeded.db
    clock = DemoClock(start)
    pins = SimulatedPinFactory()
    backend = Backend.from_config(config, clock, data_dir=tmp, pin_factory=pins)
    world = backend.world
    chip = backend.reader.chip
    daemon = production_daemon(config, db, clock, backend)
    watch = LockWatch(pins, config)
    interval = config.reader.poll_interval_s
    ready = readiness(daemon)
    loop = threading.Thread(target=daemon.run, name="daemon loop", daemon=True)
    loop.start()
    try:
        wait_until_up(backend, ready, interval)
        settled = settle_log_check(daemon)
        transfers_before, idle_started = chip.transfers, time.monotonic()
        time.sleep(1.0)
        idle_transfers_per_s = (chip.transfers - transfers_before) / (
            time.monotonic() - idle_started
        )
        latencies, missed = present_cards(world, watch, seeded.uids, cycles, interval, rng)
    finally:
        daemon.stop()
        loop.join(timeout=10)
    db.dispose()
    return {
        "latencies": latencies,
        "interval": interval,
        "missed": missed,
        "idle_transfers_per_s": idle_transfers_per_s,
        "log_check_s": settled,
    }


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=500, help="badges for part (a)")
    parser.add_argument("--card-cycles", type=int, default=200, help="cards for part (b)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--history", type=Path, help="start from a copy of this database")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")

    with tempfile.TemporaryDirectory(prefix="bench-badge-") as tmp:
        print(f"database on {filesystem_of(Path(tmp))} ({tmp})")
        a = processing(args.cycles, Path(tmp) / "a", rng, args.history)
        print("\n(a) badge handed to the daemon -> lock pin high (emit + step, SQLite file)")
        print(line_ms("  badge -> lock pin", a["to_pin"]))
        print(line_ms("    of which: decide + log + commit", a["decided"]))
        print(line_ms("    of which: drive (Backend.apply -> pin)", a["driven"]))
        print(f"    SQL statements + commit before the pin: {a['statements']} (median)")
        print(line_ms("  whole step (incl. heartbeat after the pin)", a["whole_step"]))
        print(line_ms("  baseline: one commit, same file", a["commit"]))
        pa = stats_ms(a["to_pin"])
        pc = stats_ms(a["commit"])
        print(
            f"  badge->pin / commit: median {pa['median'] / pc['median']:.1f}x, "
            f"p99 {pa['p99'] / pc['p99']:.1f}x; missed {a['missed']}"
        )
        print(
            f"  (the start-up whole-log check, in its child process, took {a['log_check_s']:.1f} s)"
        )
        b = card_to_lock(args.card_cycles, Path(tmp) / "b", rng, args.history)
    interval_ms = b["interval"] * 1000
    pb = stats_ms(b["latencies"])
    print("\n(b) card into the reader's field -> lock pin high (reader + daemon threads)")
    print(line_ms("  card -> lock pin", b["latencies"]))
    print(
        f"  poll interval {interval_ms:.0f} ms: p99 - interval = {pb['p99'] - interval_ms:.1f} ms"
        f" (target <= 10 ms); median / interval {pb['median'] / interval_ms:.2f};"
        f" missed {b['missed']}"
    )
    print(f"  idle reader during (b): {b['idle_transfers_per_s']:,.0f} SPI transfers/s")
    write_json(
        args.json,
        {
            "processing": pa,
            "processing_whole_step": stats_ms(a["whole_step"]),
            "processing_decided": stats_ms(a["decided"]),
            "processing_driven": stats_ms(a["driven"]),
            "statements_before_pin": a["statements"],
            "commit_baseline": pc,
            "card_to_lock": pb,
            "poll_interval_ms": interval_ms,
            "missed": a["missed"] + b["missed"],
            "log_check_s": max(a["log_check_s"], b["log_check_s"]),
            "machine": info,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
