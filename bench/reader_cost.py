"""Benchmark: what the badge reader costs on the SPI bus, under a Pi's timing.

Everything runs on the emulated MFRC522, whose time passes with each transfer
as on a Pi (16 us of clock at 1 MHz plus ``SPIDEV_OVERHEAD_S`` of spidev
call), so a timer programmed for 15.5 ms fires after as many reads of
CommIrqReg as it would on a Pi. The reader polls on a simulated clock ten
times a second; the figures are SPI transfers, which the emulator counts
exactly, so they do not depend on this machine's load (the CPU microseconds
per poll, given for scale, do).

Each figure is measured against baselines taken in the same run:

1. An empty poll: transfers, reads of CommIrqReg and the chip's bus time, for
   the driver's ``MFRC522_Request`` (what ``SimpleMFRC522`` spins on), the
   product's REQA before issue 20 (bounded at 32 reads, against the driver's
   15.5 ms timer: it always spends them all), and the reader now, polled and
   in IRQ mode.
2. A card resting on the reader (4-, 7- and 10-byte UIDs): transfers a
   second, for the reader before issue 20 (it read the card in full every
   other poll) and now (halted, a WUPA a second), against an empty field.
3. One tap: the transfers that read, select and halt a card.

``--repeats`` runs shift the window by one poll each, so the once-a-second
checks fall at different places in it; min/median/max are over those runs.

    .venv/bin/python bench/reader_cost.py [--seconds S] [--repeats N] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from kit import loadavg, machine, write_json

from hardware.mfrc522_emulator import (
    COM_IRQ_REG,
    SPIDEV_OVERHEAD_S,
    EmulatedCard,
    MFRC522Emulator,
)
from hardware.pins import SimulatedPinFactory
from hardware.reader import CASCADE_TAG, SAK_CASCADE_BIT, SELECT_CODES
from hardware.reader_field import anticollision, select
from hardware.sim_reader import SimulatedReaderBench, emulated_driver_factory
from locker.clock import SimulatedClock

INTERVAL_S = 0.1
IRQ_PIN = 4
UIDS = {"4-byte": "04A1B2C3", "7-byte": "04112233445566", "10-byte": "04112233445566778899"}
#: The Pi figure the projection uses: CPU microseconds of one spidev transfer.
PI_TRANSFER_US = 30.0


# ---------------------------------------------------- the reader before issue 20


#: Reads of CommIrqReg the product's REQA made before issue 20.
OLD_REQA_READS = 32


def old_request(driver: Any) -> bool:
    """The product's REQA before issue 20, verbatim: at most 32 reads of CommIrqReg.

    Against the driver's 15.5 ms timer those reads (about 1 ms on a Pi) end
    before TimerIRq, so an empty poll always spends all 32.
    """
    write, read = driver.Write_MFRC522, driver.Read_MFRC522
    write(0x0C, 0x80)
    write(0x04, 0x7F)
    write(0x0A, 0x80)
    write(0x01, 0x00)
    write(0x09, 0x26)
    write(0x01, 0x0C)
    write(0x0D, 0x87)
    irq = 0
    for _ in range(OLD_REQA_READS):
        irq = read(0x04)
        if irq & 0x33:
            break
    write(0x0D, 0x00)
    if not irq & 0x20 or read(0x06) & 0x1B:
        return False
    if read(0x0A) != 2:
        return False
    read(0x09)
    read(0x09)
    return True


def old_poll(driver: Any) -> str | None:
    """One poll of the reader before issue 20: REQA, then the UID in full, no HALT."""
    if not old_request(driver):
        return None
    status, part = driver.MFRC522_Anticoll()
    if status != driver.MI_OK:
        return None
    uid: list[int] = []
    for level, code in enumerate(SELECT_CODES, start=1):
        if level > 1:
            part = anticollision(driver, code)
        if part[0] != CASCADE_TAG:
            return bytes(uid + part[:4]).hex()
        uid += part[1:4]
        sak = driver.MFRC522_SelectTag(part) if level == 1 else select(driver, code, part)
        if not sak & SAK_CASCADE_BIT:
            return None
    return None


# ------------------------------------------------------------------- rigs


class Measure:
    """Transfers, CommIrqReg reads, bus time and CPU over a stretch of polling."""

    def __init__(self, chip: MFRC522Emulator):
        self.chip = chip
        self.start = (
            chip.transfers,
            chip.register_reads[COM_IRQ_REG],
            chip.wire_time_s,
            time.process_time(),
        )

    def per(self, count: float) -> dict[str, float]:
        """The figures since construction, each divided by ``count``."""
        chip = self.chip
        transfers, irq_reads, wire, cpu = self.start
        return {
            "transfers": (chip.transfers - transfers) / count,
            "irq_reads": (chip.register_reads[COM_IRQ_REG] - irq_reads) / count,
            "bus_ms": (chip.wire_time_s - wire) / count * 1000,
            "cpu_us": (time.process_time() - cpu) / count * 1e6,
        }


def driver_rig() -> tuple[MFRC522Emulator, Any]:
    """The real driver, initialised, on a fresh emulated chip."""
    chip = MFRC522Emulator()
    return chip, emulated_driver_factory(chip)()


def bench_rig(irq: bool) -> tuple[SimulatedReaderBench, SimulatedClock, SimulatedPinFactory]:
    """The product's reader (the real driver on an emulated chip), polled or on its IRQ pin."""
    clock = SimulatedClock()
    pins = SimulatedPinFactory()
    options: dict[str, Any] = {"irq_pin": IRQ_PIN, "pin_factory": pins} if irq else {}
    return SimulatedReaderBench(clock, **options), clock, pins


def polled_for(bench: SimulatedReaderBench, clock: SimulatedClock, polls: int) -> int:
    """Poll ``polls`` times at the interval; the number of badges reported."""
    reported = 0
    for _ in range(polls):
        reported += len(bench.poll())
        clock.advance(INTERVAL_S)
    return reported


# ---------------------------------------------------------------- figures


def empty_poll(seconds: float, shift: int) -> dict[str, dict[str, float]]:
    """Per empty poll: the two baselines and the reader now (health checks included)."""
    polls = round(seconds / INTERVAL_S)
    figures = {}
    chip, driver = driver_rig()
    measure = Measure(chip)
    for _ in range(min(polls, 50)):  # 2,000 reads each: a sample is enough
        driver.MFRC522_Request(driver.PICC_REQIDL)
    figures["driver MFRC522_Request"] = measure.per(min(polls, 50))
    chip, driver = driver_rig()
    measure = Measure(chip)
    for _ in range(polls):
        old_request(driver)
    figures["REQA before issue 20"] = measure.per(polls)
    for label, irq in (("reader now, polled", False), ("reader now, IRQ mode", True)):
        bench, clock, pins = bench_rig(irq)
        polled_for(bench, clock, 1 + shift)  # opened, and the window shifted
        measure = Measure(bench.chip)
        polled_for(bench, clock, polls)
        figures[label] = measure.per(polls)
        bench.close()
        pins.close()
    return figures


def resting_card(uid: str, seconds: float, shift: int) -> dict[str, dict[str, float]]:
    """Transfers a second with ``uid`` resting on the reader, and with the field empty."""
    polls = round(seconds / INTERVAL_S)
    figures = {}
    chip, driver = driver_rig()
    chip.present(EmulatedCard.from_hex(uid))
    for _ in range(shift):
        old_poll(driver)
    measure = Measure(chip)
    for _ in range(polls):
        old_poll(driver)
    figures["reader before issue 20"] = measure.per(seconds)
    for label, irq in (("polled", False), ("IRQ mode", True)):
        bench, clock, pins = bench_rig(irq)
        polled_for(bench, clock, 1 + shift)
        measure = Measure(bench.chip)
        polled_for(bench, clock, polls)
        figures[f"empty field, {label}"] = measure.per(seconds)
        bench.present(uid)
        if polled_for(bench, clock, 1) != 1:
            raise RuntimeError(f"the reader did not report {uid}")
        polled_for(bench, clock, shift)
        measure = Measure(bench.chip)
        if polled_for(bench, clock, polls):
            raise RuntimeError(f"a resting {uid} was reported again")
        figures[f"resting card, {label}"] = measure.per(seconds)
        bench.close()
        pins.close()
    return figures


def one_tap(uid: str) -> dict[str, float]:
    """Transfers of the poll that reads ``uid``, selects and halts it, and of the old read."""
    bench, clock, pins = bench_rig(False)
    polled_for(bench, clock, 1)
    bench.present(uid)
    measure = Measure(bench.chip)
    polled_for(bench, clock, 1)
    now = measure.per(1)["transfers"]
    bench.close()
    pins.close()
    chip, driver = driver_rig()
    chip.present(EmulatedCard.from_hex(uid))
    measure = Measure(chip)
    old_poll(driver)
    return {"now": now, "before issue 20": measure.per(1)["transfers"]}


def spread(values: list[float]) -> dict[str, float]:
    """min, median and max."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def gather(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Each row's figures over the runs, as min/median/max."""
    return {
        row: {key: spread([run[row][key] for run in runs]) for key in runs[0][row]}
        for row in runs[0]
    }


def fmt(s: dict[str, float], digits: int = 1) -> str:
    """``median (min-max)``, or one number when they agree."""
    if s["min"] == s["max"]:
        return f"{s['median']:,.{digits}f}"
    return f"{s['median']:,.{digits}f} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    """Measure, print and (with ``--json``) write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="simulated seconds a window")
    parser.add_argument("--repeats", type=int, default=5, help="windows, each shifted a poll")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")
    print(
        f"emulated MFRC522: a transfer takes {SPIDEV_OVERHEAD_S * 1e6:.0f} us of spidev call"
        f" + its bits at 1 MHz; {args.repeats} windows of {args.seconds:.0f} s at one poll per"
        f" {INTERVAL_S * 1000:.0f} ms; median (min-max) over the windows"
    )
    empty = gather([empty_poll(args.seconds, shift) for shift in range(args.repeats)])
    print(
        "\none empty poll:              transfers  CommIrqReg reads        bus ms"
        "              CPU us here"
    )
    for row, f in empty.items():
        print(
            f"  {row:<26} {fmt(f['transfers']):>9} {fmt(f['irq_reads']):>17}"
            f" {fmt(f['bus_ms'], 2):>13} {fmt(f['cpu_us']):>24}"
        )
    base = empty["REQA before issue 20"]["transfers"]["median"]
    drv = empty["driver MFRC522_Request"]["transfers"]["median"]
    polled = empty["reader now, polled"]["transfers"]["median"]
    irq = empty["reader now, IRQ mode"]
    print(
        f"  now / REQA before issue 20: {polled / base:.2f};"
        f" now / MFRC522_Request: {polled / drv:.4f}; IRQ mode busy reads"
        f" {irq['irq_reads']['median']:.0f}"
    )
    resting: dict[str, Any] = {}
    taps: dict[str, Any] = {}
    print("\ntransfers a second:               " + "".join(f"{size:>19}" for size in UIDS))
    for size, uid in UIDS.items():
        resting[size] = gather([resting_card(uid, args.seconds, s) for s in range(args.repeats)])
        taps[size] = one_tap(uid)
    for row in resting["4-byte"]:
        cells = "".join(f"{fmt(resting[size][row]['transfers']):>19}" for size in UIDS)
        print(f"  {row:<32}{cells}")
    extra = {}
    for label in ("polled", "IRQ mode"):
        extra[label] = max(
            resting[size][f"resting card, {label}"]["transfers"]["max"]
            - resting[size][f"empty field, {label}"]["transfers"]["min"]
            for size in UIDS
        )
        print(f"  resting - empty ({label}), worst window: {extra[label]:+.2f} a second")
    ratio = {
        size: resting[size]["resting card, polled"]["transfers"]["median"]
        / resting[size]["reader before issue 20"]["transfers"]["median"]
        for size in UIDS
    }
    print(
        "  resting now / before issue 20: "
        + ", ".join(f"{size} {value:.2f}" for size, value in ratio.items())
    )
    print("\none tap (read, select, halt) in transfers:")
    for size, tap in taps.items():
        print(f"  {size:<8} now {tap['now']:.0f}, before issue 20 {tap['before issue 20']:.0f}")
    rate = polled / INTERVAL_S
    print(
        f"\non a Pi at ~{PI_TRANSFER_US:.0f} us a transfer: empty field {rate:.0f} transfers/s ->"
        f" {rate * PI_TRANSFER_US / 1e4:.2f} % of a core (before issue 20:"
        f" {base / INTERVAL_S * PI_TRANSFER_US / 1e4:.2f} %)"
    )
    print(f"load average at the end: {loadavg()}")
    write_json(
        args.json,
        {
            "empty_poll": empty,
            "resting": resting,
            "taps": taps,
            "ratio_empty_vs_old": polled / base,
            "ratio_resting_vs_old": ratio,
            "resting_extra_per_s": extra,
            "machine": info,
            "loadavg_end": loadavg(),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
