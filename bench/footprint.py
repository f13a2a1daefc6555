"""Benchmark: memory and start-up of the daemon and the panel.

``locker daemon`` and ``locker web`` start as their own processes on a
24-slot simulated bank. Start-up is timed from the spawn to the daemon's
``READY=1`` on a systemd notify socket (sent once the hardware is up, the
stored state reconciled and the first heartbeat written) and to the panel's
first 200 on ``/healthz``. Resident memory (``VmRSS`` in
``/proc/<pid>/status``) is read once both are up, and again, with the peak
(``VmHWM``), after some activity: grants, badges, doors and devices through
the simulator's API, and the panel's pages.

Baselines from the same run: a bare ``python -c pass`` start-up, the RSS of
a bare interpreter, and the RSS of an interpreter that has only imported
what ``locker daemon`` imports (so the rest is what running adds).

    .venv/bin/python bench/footprint.py [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kit import Http, machine, services, status_kib, wait_http_ok, write_json
from panel_to_lock import UnlockWatch, badge_in, ok, start_bank, take_out

PAGES = ["/", "/log", "/log/overrides", "/report", "/api/status", "/api/people", "/sim"]
IMPORTS = {
    "bare interpreter": "pass",
    "daemon's imports only": "import locker_app.cli, locker_app.service",
    "panel's imports only": "import locker_app.cli, web, waitress",
}


def idle_rss_kib(code: str) -> int:
    """VmRSS of an interpreter that ran ``code`` and then waits."""
    script = f"{code}\nimport sys, time\nsys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    script += "time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()
        time.sleep(0.2)
        return status_kib(child.pid)
    finally:
        child.kill()
        child.wait()


def bare_start_s(count: int = 5) -> float:
    """Median seconds for ``python -c pass`` to start and end."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def activity(tmp: Path, port: int, seeded, rounds: int) -> None:
    """Everyone deposits; then ``rounds`` of a grant, the device out and back, and the pages."""
    http = Http(port, seeded.token)
    watch = UnlockWatch(tmp).start()
    try:
        uids = dict(zip(seeded.person_ids, seeded.uids, strict=True))
        slots = {pid: badge_in(http, watch, uid) for pid, uid in uids.items()}
        for i in range(rounds):
            pid = seeded.person_ids[i % len(seeded.person_ids)]
            grant = {"person_id": pid, "reason": "emergency", "open_now": True}
            ok(http, "POST", "/api/grants", grant)
            take_out(http, slots[pid])
            slots[pid] = badge_in(http, watch, uids[pid])
            for page in PAGES:
                status, _ = http.request("GET", page)
                if status != 200:
                    raise RuntimeError(f"GET {page}: {status}")
    finally:
        watch.close()
        http.close()


def mb(kib: int) -> float:
    """KiB in MB (MiB)."""
    return kib / 1024


def main(argv: list[str] | None = None) -> int:
    """Start both, read their memory before and after activity; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="rounds of activity")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")
    baselines = {label: idle_rss_kib(code) for label, code in IMPORTS.items()}
    bare_s = bare_start_s()

    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp_name:
        tmp = Path(tmp_name)
        seeded, port, daemon, web = start_bank(tmp, 6)
        with services(daemon):
            # One after the other, so neither start-up waits for the other's CPU.
            daemon_ready = daemon.wait_ready() - daemon.spawned_at
            with services(web):
                web_ready = wait_http_ok(port, timeout=60) - web.spawned_at
                time.sleep(1.0)
                after_start = {"daemon": status_kib(daemon.pid), "web": status_kib(web.pid)}
                activity(tmp, port, seeded, args.rounds)
                time.sleep(1.0)
                after_activity = {"daemon": status_kib(daemon.pid), "web": status_kib(web.pid)}
                peak = {
                    "daemon": status_kib(daemon.pid, "VmHWM"),
                    "web": status_kib(web.pid, "VmHWM"),
                }

    print(f"\nstart-up (spawn -> ready), bare `python -c pass` {bare_s * 1000:.0f} ms:")
    print(
        f"  locker daemon -> READY=1:       {daemon_ready * 1000:7.0f} ms"
        f"  ({daemon_ready / bare_s:.0f}x a bare start)"
    )
    print(
        f"  locker web -> 200 on /healthz:  {web_ready * 1000:7.0f} ms"
        f"  ({web_ready / bare_s:.0f}x a bare start)"
    )
    print("\nresident memory (VmRSS), MB:")
    for label, kib in baselines.items():
        print(f"  baseline: {label:<28} {mb(kib):6.1f}")
    for name in ("daemon", "web"):
        print(
            f"  locker {name:<7} after start {mb(after_start[name]):6.1f}, after"
            f" {args.rounds} rounds {mb(after_activity[name]):6.1f}, peak {mb(peak[name]):6.1f}"
        )
    base = baselines["daemon's imports only"]
    print(
        f"  daemon: {mb(after_activity['daemon'] - base):.1f} MB above its imports alone;"
        f" target < 60 MB resident"
    )
    write_json(
        args.json,
        {
            "daemon_ready_s": daemon_ready,
            "web_ready_s": web_ready,
            "bare_start_s": bare_s,
            "baselines_kib": baselines,
            "after_start_kib": after_start,
            "after_activity_kib": after_activity,
            "peak_kib": peak,
            "machine": info,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
