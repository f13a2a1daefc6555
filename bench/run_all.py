"""Run every benchmark and print one table of figures against the issue's targets.

Each benchmark runs as its own process (so one's threads, children and memory
do not colour the next), prints its own figures as it goes, and hands its
numbers back through ``--json``. Then one summary: the date, the machine,
each figure, its target, and whether it is met. The targets are for this
class of machine; a Pi is 5-10x slower.

    .venv/bin/python bench/run_all.py            # about 5 minutes on a 2-core machine
    .venv/bin/python bench/run_all.py --quick    # under 2 minutes, smaller samples
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kit import filesystem_of, loadavg, machine

HERE = Path(__file__).resolve().parent

#: script -> (full arguments, --quick arguments)
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "badge_to_lock": (
        ["--cycles", "500", "--card-cycles", "200"],
        ["--cycles", "200", "--card-cycles", "80"],
    ),
    "idle_cost": (
        ["--seconds", "20", "--part-seconds", "8"],
        ["--seconds", "8", "--part-seconds", "4"],
    ),
    "reader_cost": (["--seconds", "60", "--repeats", "5"], ["--seconds", "20", "--repeats", "3"]),
    "panel_to_lock": (["--rounds", "100"], ["--rounds", "40"]),
    "panel_at_scale": (
        ["--events", "1000000", "--repeat", "50", "--report-budget", "60"],
        ["--events", "200000", "--repeat", "30", "--report-budget", "15"],
    ),
    "footprint": (["--rounds", "30"], ["--rounds", "10"]),
    "expander_bank": (
        ["--cycles", "300", "--seconds", "30"],
        ["--cycles", "100", "--seconds", "10"],
    ),
    "pi_class": (
        ["--events", "1000000", "--cycles", "200", "--card-cycles", "60"],
        ["--events", "200000", "--cycles", "60", "--card-cycles", "20"],
    ),
    "alerts_hot_path": (["--cycles", "400"], ["--cycles", "100"]),
}
MILLION = 1_000_000


def run(name: str, args: list[str], out: Path) -> dict[str, Any] | None:
    """Run ``bench/<name>.py`` with ``args``; its figures, or ``None`` if it failed."""
    print(f"\n=== {name} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args, "--json", str(out)])
    print(f"=== {name}: {time.perf_counter() - started:.0f} s", flush=True)
    if done.returncode != 0 or not out.exists():
        print(f"=== {name} FAILED (exit {done.returncode})", flush=True)
        return None
    return json.loads(out.read_text(encoding="utf-8"))


def rows(results: dict[str, dict[str, Any] | None]) -> list[tuple[str, str, str, str]]:
    """``(figure, measured, target, met)`` for each target of the issue."""
    table: list[tuple[str, str, str, str]] = []

    def add(figure: str, measured: str, target: str, met: bool | None) -> None:
        table.append((figure, measured, target, "n/a" if met is None else "yes" if met else "NO"))

    badge = results.get("badge_to_lock")
    if badge:
        p = badge["processing"]
        add(
            "badge -> lock, processing (emit+step)",
            f"median {p['median']:.2f} ms, p99 {p['p99']:.2f} ms",
            "p99 < 5 ms",
            p["p99"] < 5,
        )
        c, interval = badge["card_to_lock"], badge["poll_interval_ms"]
        add(
            "card -> lock (reader + daemon threads)",
            f"median {c['median']:.1f} ms, p99 {c['p99']:.1f} ms",
            f"p99 <= {interval:.0f} + 10 ms",
            c["p99"] <= interval + 10,
        )
    idle = results.get("idle_cost")
    if idle:
        d, b = idle["daemon_process"], idle["baseline"]
        add(
            "idle daemon CPU (own process, 24 slots)",
            f"{d['fraction'] * 100:.2f} % of a core,"
            f" {idle['daemon_in_process']['transfers_per_s']:,.0f} SPI transfers/s",
            "< 1 % of a core",
            d["fraction"] < 0.01,
        )
        add(
            "idle: SimpleMFRC522.read() / daemon",
            f"{idle['ratio_cpu']:.1f}x less CPU ({b['fraction'] * 100:.0f} % vs"
            f" {d['fraction'] * 100:.2f} %); {b['transfers_per_s']:,.0f} transfers/s",
            ">= 50x",
            idle["ratio_cpu"] >= 50,
        )
    reader = results.get("reader_cost")
    if reader:
        empty = reader["empty_poll"]
        polled = empty["reader now, polled"]
        irq = empty["reader now, IRQ mode"]
        add(
            "reader: SPI transfers per empty poll",
            f"{polled['transfers']['median']:.0f} polled, {irq['transfers']['median']:.0f} IRQ"
            f" mode ({irq['irq_reads']['max']:.0f} CommIrqReg reads);"
            f" {reader['ratio_empty_vs_old']:.2f}x the REQA before issue 20",
            "<= 10; 0 busy reads in IRQ mode",
            polled["transfers"]["max"] <= 10
            and irq["transfers"]["max"] <= 10
            and irq["irq_reads"]["max"] == 0,
        )
        extra = max(reader["resting_extra_per_s"].values())
        ratios = ", ".join(f"{v:.2f}" for v in reader["ratio_resting_vs_old"].values())
        add(
            "reader: a resting card (4/7/10-byte UID)",
            f"{extra:+.2f} transfers/s over an empty field (worst window);"
            f" {ratios}x the reader before issue 20",
            "<= empty + 2 /s",
            extra <= 2,
        )
    panel = results.get("panel_to_lock")
    if panel:
        p = panel["to_pin"]
        add(
            "panel grant -> lock (HTTP, 2 processes)",
            f"median {p['median']:.1f} ms, p95 {p['p95']:.1f} ms",
            "p95 < 250 ms",
            p["p95"] < 250,
        )
    scale = results.get("panel_at_scale")
    if scale:
        events = scale["events"]
        at = "" if events >= MILLION else f" [{events:,} events]"
        for label, page in scale["pages"].items():
            if "bearer" in label:
                continue
            add(
                f"page {label}{at}",
                f"median {page['median']:.1f} ms, p95 {page['p95']:.1f} ms (n={page['n']})",
                "p95 < 50 ms",
                page["p95"] < 50,
            )
        add(
            f"deep page / first page{at}",
            f"{scale['deep_first_ratio']:.2f}x (medians)",
            "<= 1 (10 % noise allowed)",
            scale["deep_first_ratio"] <= 1.1,
        )
        e, t = scale["export"], scale["export_traced"]
        memory = max(t["tracemalloc_peak_mb"], e["maxrss_growth_mb"])
        add(
            f"CSV export, all events{at}",
            f"{e['rows_per_s']:,.0f} rows/s; tracemalloc peak {t['tracemalloc_peak_mb']:.1f} MB,"
            f" peak RSS +{e['maxrss_growth_mb']:.1f} MB (process {e['maxrss_after_mb']:.0f} MB)",
            ">= 100,000 rows/s, < 100 MB",
            e["rows_per_s"] >= 100_000 and memory < 100,
        )
        per_million = scale["verify_s"] * MILLION / events
        scaled = "" if events >= MILLION else f" (scaled from {events:,})"
        add(
            "locker log verify, 1M events",
            f"{per_million:.2f} s{scaled}",
            "< 10 s",
            per_million < 10 and scale["verify_ok"],
        )
    foot = results.get("footprint")
    if foot:
        rss = foot["after_activity_kib"]["daemon"] / 1024
        add(
            "daemon resident memory",
            f"{rss:.1f} MB after activity (peak {foot['peak_kib']['daemon'] / 1024:.1f} MB)",
            "< 60 MB",
            rss < 60,
        )
        add(
            "panel resident memory (no target)",
            f"{foot['after_activity_kib']['web'] / 1024:.1f} MB after activity",
            "-",
            None,
        )
        add(
            "start-up to ready (no target)",
            f"daemon {foot['daemon_ready_s'] * 1000:.0f} ms,"
            f" panel {foot['web_ready_s'] * 1000:.0f} ms",
            "-",
            None,
        )
    bank = results.get("expander_bank")
    if bank:
        expander = bank["banks"]["expander 24-slot"]
        add(
            "24-slot expander bank / native 4-slot",
            f"badge -> lock {bank['ratio_badge_median']:.2f}x (medians), idle CPU"
            f" {bank['ratio_idle_cpu']:.2f}x; {expander['idle']['i2c_per_s']:.3f} I2C/s idle",
            "same order (<= 2x); I2C only the 30 s consistency read",
            bank["ratio_badge_median"] <= 2 and expander["idle"]["i2c_per_s"] <= 1,
        )
    pi = results.get("pi_class")
    if pi:
        at = f" [{pi['events']:,} events]" if pi["events"] < MILLION else ", 1M events"
        for run in pi["runs"]:
            if run["quota_percent"] is None:
                continue
            p, c = run["processing"], run["card_to_lock"]
            add(
                f"Pi-class: badge -> lock, {run['run']}{at}",
                f"p99 {p['p99']:.1f} ms ({run['processing_p99_ratio']:.1f}x free),"
                f" median {p['median']:.1f} ms",
                "- (no target)",
                None,
            )
            add(
                f"Pi-class: card -> lock, {run['run']}{at}",
                f"p99 {c['p99']:.0f} ms ({run['card_p99_ratio']:.1f}x free),"
                f" median {c['median']:.0f} ms",
                "p99 < 250 ms (feels instant)",
                c["p99"] < 250,
            )
    hot = results.get("alerts_hot_path")
    if hot:
        counts = hot["statements_per_badge"]
        add(
            "badge with 200 open alerts / none",
            f"{hot['ratio_median']:.2f}x (medians, decision + commit);"
            f" SQL statements per badge {counts['open']} vs {counts['none']}",
            "<= 1.2x; the same statements",
            hot["ratio_median"] <= 1.2 and counts["open"] == counts["none"],
        )
    return table


def main(argv: list[str] | None = None) -> int:
    """Run them all, then print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples, under 2 minutes")
    parser.add_argument("--only", nargs="*", choices=list(RUNS), help="run just these")
    args = parser.parse_args(argv)
    info = machine()
    load_before = loadavg()
    started = time.perf_counter()
    results: dict[str, dict[str, Any] | None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        for name, (full, quick) in RUNS.items():
            if args.only and name not in args.only:
                continue
            results[name] = run(name, quick if args.quick else full, Path(tmp) / f"{name}.json")
        fs = filesystem_of(Path(tmp))
    minutes = (time.perf_counter() - started) / 60
    table = rows(results)
    print("\n" + "=" * 100)
    print(f"nursery-locker benchmarks, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine:  {info['platform']}")
    print(f"cpu:      {info['cpu']}, {info['cores']} cores; Python {info['python']}")
    print(f"load avg: {load_before} before, {loadavg()} after; temp files on {fs}")
    mode = " --quick" if args.quick else ""
    print(f"command:  .venv/bin/python bench/run_all.py{mode}   ({minutes:.1f} min)")
    widths = [
        max(len(r[i]) for r in table + [("figure", "measured", "target", "met")]) for i in range(4)
    ]
    header = ("figure", "measured", "target", "met")
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    loads = [
        f"{name} {result['machine']['loadavg'].split()[0]}"
        for name, result in results.items()
        if result is not None
    ]
    print(f"\n1-minute load average as each began: {', '.join(loads)}")
    failed = [name for name, result in results.items() if result is None]
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
