"""Benchmark: what the daemon costs while nobody badges.

The daemon waits with 24 staff slots and its reader polling the emulated
MFRC522 at the configured interval, with no card in the field:

1. ``locker daemon`` as its own process (``LOCKER_CONFIG``, simulated
   hardware): CPU seconds per wall second of the whole process, from
   ``/proc/<pid>/stat``, after it has reported ``READY=1``.
2. The baseline, in this process for the same wall time: the calls
   ``SimpleMFRC522.read()`` makes while it waits for a card (it loops on
   ``read_no_block()``, whose first call is ``MFRC522_Request``), on an
   emulated MFRC522 with no card.
3. In this process, to see where the cost is: the daemon (loop and reader
   threads), the loop alone (no reader thread), the reader alone, each with
   the emulator's SPI transfer counter; then one empty poll two ways: the
   driver's ``MFRC522_Request`` (its ``MFRC522_ToCard`` spins 2,000 reads of
   CommIrqReg on an empty field), and the reader's own REQA
   (:class:`hardware.reader_field.FieldProbe`), which waits once for the air
   time and reads CommIrqReg once. ``bench/reader_cost.py`` has the reader's
   figures in full.

    .venv/bin/python bench/idle_cost.py [--seconds S] [--part-seconds S] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kit import (
    CLK_TCK,
    MONDAY,
    Service,
    cpu_seconds,
    local,
    machine,
    seed_bank,
    services,
    write_bank_config,
    write_json,
)

from hardware.backend import Backend
from hardware.mfrc522_emulator import MFRC522Emulator
from hardware.pins import SimulatedPinFactory
from hardware.reader import BadgeReader
from hardware.reader_field import FieldProbe
from hardware.sim_reader import emulated_driver_factory
from locker.clock import DemoClock, SystemClock
from locker.controller import Controller
from locker.daemon import Daemon

SLOTS = 24


def fraction(cpu_s: float, wall_s: float) -> float:
    """CPU seconds per wall second."""
    return cpu_s / wall_s if wall_s > 0 else float("nan")


# ----------------------------------------------------------- the daemon


def daemon_process(tmp: Path, seconds: float, warmup: float) -> dict:
    """``locker daemon`` in its own process: CPU fraction over ``seconds`` after READY=1."""
    start = local(MONDAY, "07:00")
    config_file = write_bank_config(tmp, staff_slots=SLOTS, start=start)
    seed_bank(config_file, people=SLOTS, at=start).db.dispose()
    daemon = Service("daemon", config_file, tmp, notify=True)
    with services(daemon):
        ready = daemon.wait_ready()
        time.sleep(warmup)
        cpu0, wall0 = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, wall1 = cpu_seconds(daemon.pid), time.monotonic()
    return {
        "ready_s": ready - daemon.spawned_at,
        "cpu_s": cpu1 - cpu0,
        "wall_s": wall1 - wall0,
        "fraction": fraction(cpu1 - cpu0, wall1 - wall0),
    }


def measured(run: Callable[[threading.Event], None], chip: MFRC522Emulator, seconds: float):
    """Run ``run(stop)`` in a thread for ``seconds``; CPU fraction of this process, transfers/s."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(min(1.0, seconds / 4))  # past start-up
    cpu0, wall0, t0 = time.process_time(), time.monotonic(), chip.transfers
    time.sleep(seconds)
    cpu1, wall1, t1 = time.process_time(), time.monotonic(), chip.transfers
    stop.set()
    thread.join(timeout=10)
    wall = wall1 - wall0
    return {"fraction": fraction(cpu1 - cpu0, wall), "transfers_per_s": (t1 - t0) / wall}


def daemon_in_process(tmp: Path, seconds: float, *, reader: bool) -> dict:
    """The daemon's loop in a thread of this process, with or without its reader thread."""
    start = local(MONDAY, "07:00")
    config_file = write_bank_config(tmp, staff_slots=SLOTS, start=start)
    seeded = seed_bank(config_file, people=SLOTS, at=start)
    clock = DemoClock(start)
    backend = Backend.from_config(
        seeded.config, clock, data_dir=tmp, pin_factory=SimulatedPinFactory()
    )
    daemon = Daemon(Controller(seeded.config, seeded.db, clock), backend)

    def run(stop: threading.Event) -> None:
        daemon.begin(reader_thread=reader)
        try:
            while not stop.is_set():
                daemon.step(daemon.wait_s)
        finally:
            daemon.finish()

    try:
        return measured(run, backend.reader.chip, seconds)
    finally:
        seeded.db.dispose()


def reader_alone(seconds: float, interval: float) -> dict:
    """The product's BadgeReader polling an empty field every ``interval``, nothing else."""
    chip = MFRC522Emulator()
    reader = BadgeReader(emulated_driver_factory(chip), SystemClock(), poll_interval_s=interval)
    try:
        return measured(lambda stop: reader.run(lambda event: None, stop), chip, seconds)
    finally:
        reader.close()


# ------------------------------------------------------------ the baseline


def simple_read_spin(seconds: float) -> dict:
    """What ``SimpleMFRC522.read()`` does with no card, for ``seconds``: CPU and transfers/s."""
    chip = MFRC522Emulator()
    driver = emulated_driver_factory(chip)()
    polls = 0
    cpu0, wall0, t0 = time.process_time(), time.monotonic(), chip.transfers
    deadline = wall0 + seconds
    while time.monotonic() < deadline:
        # SimpleMFRC522.read_no_block(): a request, and back with (None, None) if it failed.
        status, _bits = driver.MFRC522_Request(driver.PICC_REQIDL)
        polls += 1
        if status == driver.MI_OK:
            break
    cpu1, wall1, t1 = time.process_time(), time.monotonic(), chip.transfers
    wall = wall1 - wall0
    driver.spi.close()
    return {
        "fraction": fraction(cpu1 - cpu0, wall),
        "transfers_per_s": (t1 - t0) / wall,
        "polls_per_s": polls / wall,
        "wall_s": wall,
    }


# ------------------------------------------------- one empty poll, two ways


def per_poll(poll: Callable[[], object], chip: MFRC522Emulator, count: int) -> dict:
    """CPU microseconds and SPI transfers per call of ``poll``, over ``count`` calls."""
    t0, cpu0 = chip.transfers, time.process_time()
    for _ in range(count):
        poll()
    cpu1, t1 = time.process_time(), chip.transfers
    return {"cpu_us": (cpu1 - cpu0) / count * 1e6, "transfers": (t1 - t0) / count}


def empty_polls(interval: float) -> dict:
    """One empty poll: the driver's ``MFRC522_Request``, and the reader's own REQA."""
    chip = MFRC522Emulator()
    driver = emulated_driver_factory(chip)()
    probe = FieldProbe(driver, sleep=chip.elapse)
    results = {
        "driver": per_poll(lambda: driver.MFRC522_Request(driver.PICC_REQIDL), chip, 100),
        "bounded": per_poll(probe.request, chip, 3000),
    }
    driver.spi.close()
    for part in results.values():
        part["fraction_at_interval"] = part["cpu_us"] / 1e6 / interval
        part["transfers_per_s"] = part["transfers"] / interval
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure the daemon, the baseline and the parts; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="daemon and baseline window")
    parser.add_argument(
        "--part-seconds", type=float, default=8.0, help="window of each in-process part"
    )
    parser.add_argument(
        "--pi-transfer-us",
        type=float,
        default=25.0,
        help="CPU microseconds one SPI transfer costs on a Pi, for the projection",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")
    print(f"{SLOTS} staff slots, simulated hardware, no card in the field")

    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        proc = daemon_process(Path(tmp) / "proc", args.seconds, warmup=2.0)
        interval = 0.1
        print(
            f"\nlocker daemon (own process): {proc['fraction'] * 100:6.2f} % of one core"
            f" ({proc['cpu_s']:.2f} CPU s in {proc['wall_s']:.1f} s; /proc/<pid>/stat,"
            f" 1/{CLK_TCK} s ticks)"
        )
        base = simple_read_spin(args.seconds)
        print(
            f"baseline SimpleMFRC522.read() waiting: {base['fraction'] * 100:6.2f} % of one core,"
            f" {base['transfers_per_s']:,.0f} SPI transfers/s"
            f" ({base['polls_per_s']:,.0f} requests/s)"
        )
        inproc = daemon_in_process(Path(tmp) / "in", args.part_seconds, reader=True)
        loop = daemon_in_process(Path(tmp) / "loop", args.part_seconds, reader=False)
    reader = reader_alone(args.part_seconds, interval)
    polls = empty_polls(interval)

    print(
        f"\nin this process ({args.part_seconds:.0f} s each; time.process_time, emulator counter):"
    )
    rows = [
        ("daemon: loop + reader threads", inproc),
        ("daemon: loop only (no reader thread)", loop),
        ("reader alone (BadgeReader.run)", reader),
    ]
    for label, part in rows:
        print(
            f"  {label:<40} {part['fraction'] * 100:6.2f} % of one core"
            f"   {part['transfers_per_s']:9,.0f} SPI transfers/s"
        )
    ratio_cpu = base["fraction"] / proc["fraction"] if proc["fraction"] else float("inf")
    ratio_transfers = base["transfers_per_s"] / max(inproc["transfers_per_s"], 1e-9)
    print(
        f"\nbaseline / daemon: {ratio_cpu:.1f}x less CPU (target >= 50x),"
        f" {ratio_transfers:.1f}x fewer SPI transfers"
    )
    print(f"\none empty poll (at one poll per {interval * 1000:.0f} ms):")
    labels = {
        "driver": "driver MFRC522_Request (ToCard spins)",
        "bounded": "reader's REQA (one wait, one read)",
    }
    for key, label in labels.items():
        part = polls[key]
        print(
            f"  {label:<40} {part['transfers']:7.0f} transfers {part['cpu_us']:9.1f} us CPU"
            f"  -> {part['transfers_per_s']:7,.0f} transfers/s,"
            f" {part['fraction_at_interval'] * 100:.3f} % of a core"
        )
    cost = args.pi_transfer_us / 1e6
    print(
        f"\non a Pi, at {args.pi_transfer_us:.0f} us of CPU per SPI transfer (a spidev ioctl;"
        f" the emulator takes {polls['driver']['cpu_us'] / polls['driver']['transfers']:.1f} us):"
    )
    for label, rate in (
        ("daemon's reader now", inproc["transfers_per_s"]),
        ("SimpleMFRC522.read() (saturates)", 1 / cost),
    ):
        share = min(rate * cost, 1) * 100
        print(f"  {label:<34} {rate:9,.0f} transfers/s -> {share:5.1f} % of a core")
    write_json(
        args.json,
        {
            "daemon_process": proc,
            "baseline": base,
            "daemon_in_process": inproc,
            "loop_only": loop,
            "reader_alone": reader,
            "empty_polls": polls,
            "ratio_cpu": ratio_cpu,
            "ratio_transfers": ratio_transfers,
            "machine": info,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
