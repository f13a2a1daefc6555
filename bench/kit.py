"""What the benchmarks share: a simulated bank on disk, figures, child processes, the machine.

Not a benchmark itself. Every ``bench/*.py`` script imports it (the scripts are
run as files, so this directory is on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import http.client
import json
import math
import os
import platform
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tomli_w
from sqlalchemy import select as sql_select

from locker.accounts import add_account, create_token
from locker.config import Config, default_config_text, load_config, parse_config
from locker.db import Database, migrate
from locker.demo import demo_expanders, expander_pins
from locker.models import Slot
from locker.people import add_person

LONDON = ZoneInfo("Europe/London")
#: A Monday in winter (local time is UTC), as the tests use.
MONDAY = date(2026, 1, 5)
FIRST_SIM_PIN = 30
MANAGER, MANAGER_PASSWORD = "bench-manager", "bench-manager-password"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def local(day: date, hhmm: str) -> datetime:
    """Local ``hh:mm`` on ``day`` in the site's zone, as an aware time."""
    return datetime.combine(day, clock_time.fromisoformat(hhmm), tzinfo=LONDON)


# --------------------------------------------------------------- the bank


def write_bank_config(
    data_dir: Path,
    *,
    staff_slots: int = 24,
    port: int = 8080,
    start: datetime | None = None,
    retention_days: int = 365,
    on_expanders: bool = False,
    same_grant_s: float | None = None,
) -> Path:
    """A simulated bank of ``staff_slots`` staff slots, like ``locker demo``'s; returns its path.

    ``on_expanders``: every slot on simulated MCP23017 lines, as ``locker demo
    --slots N`` wires a bank bigger than the header.

    ``same_grant_s``: how long a repeated open-now grant counts as the same one
    (the config's ``commands.same_grant_s``); a benchmark that grants to the same
    person again within two minutes sets 0, or its repeats open nothing.

    The config, database, secret key and simulated world live in ``data_dir``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = tomllib.loads(default_config_text(data_dir=str(data_dir)))
    raw["site_name"] = "Benchmark Nursery"
    raw["retention_days"] = retention_days
    raw["hardware"] = {
        "backend": "simulated",
        "pin_factory": "",
        "sim_start": (start or local(MONDAY, "07:00")).isoformat(),
        "sim_speed": 1.0,
    }
    raw["web"].update(host="127.0.0.1", port=port, secret_key_file=str(data_dir / "secret_key"))
    raw["slots"] = []
    for number in range(1, staff_slots + 1):
        pin = FIRST_SIM_PIN + 3 * (number - 1)
        raw["slots"].append(
            {
                "number": number,
                "kind": "staff",
                "label": str(number),
                "lock_pin": pin,
                "door_pin": pin + 1,
                "sensor_pin": pin + 2,
            }
        )
    if on_expanders:
        raw["expanders"] = demo_expanders(staff_slots)
        for slot in raw["slots"]:
            pins = expander_pins(slot["number"])
            slot.update(lock_pin=pins[0], door_pin=pins[1], sensor_pin=pins[2])
    if same_grant_s is not None:
        raw.setdefault("commands", {})["same_grant_s"] = same_grant_s
    parse_config(raw)
    path = data_dir / "config.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    key = data_dir / "secret_key"
    if not key.exists():
        key.write_text(os.urandom(32).hex() + "\n", encoding="utf-8")
        key.chmod(0o600)
    return path


def world_moves_on(world: Any, daemon: Any, clock: Any, slot: int, wait_s: float) -> None:
    """After an unlock: the sprung door popped open, a device goes in (deposit) or comes
    out (release), the door shuts, ``wait_s`` of simulated time pass; a loop pass each."""
    clock.advance(0.6)
    daemon.step(0)
    world.set_device(slot, not world.slot(slot).device_present)
    daemon.step(0)
    world.set_door(slot, False)
    daemon.step(0)
    clock.advance(wait_s)
    daemon.step(0)


def badge_uid(index: int) -> str:
    """The 4-byte UID (hex) of the benchmark's ``index``-th person's badge."""
    return f"{0xB0000000 + index:08X}"


@dataclass(frozen=True)
class Seeded:
    """What :func:`seed_bank` made."""

    config: Config
    db: Database
    uids: list[str]
    person_ids: list[int]
    token: str


def seed_bank(config_file: Path, *, people: int, at: datetime) -> Seeded:
    """Migrate, then people with one badge each (no shifts), the slots, and a manager's token.

    People without a shift today may take their device back at any badge, so a
    benchmark can deposit and release in turn without moving the clock.
    """
    config = load_config(config_file)
    db = Database(config.db_url)
    migrate(db.engine)
    uids, ids = [], []
    with db.write() as session:
        for i in range(people):
            person = add_person(
                session, f"Person {i:03d}", badge=badge_uid(i), at=at, actor="bench"
            )
            uids.append(badge_uid(i))
            ids.append(person.id)
        add_account(session, MANAGER, "manager", MANAGER_PASSWORD, at=at, actor="bench")
        token = create_token(session, MANAGER, at=at, actor="bench")
        known = set(session.scalars(sql_select(Slot.number)))
        for slot in config.slots:
            if slot.number not in known:
                session.add(
                    Slot(
                        number=slot.number, kind=slot.kind, label=slot.label, state="free", since=at
                    )
                )
        session.commit()
    return Seeded(config, db, uids, ids, token)


# ---------------------------------------------------------------- figures


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats_ms(values_s: Sequence[float]) -> dict[str, float]:
    """Min, median, p95, p99 and max of durations in seconds, in milliseconds."""
    return {
        "n": len(values_s),
        "min": min(values_s) * 1000 if values_s else math.nan,
        "median": percentile(values_s, 50) * 1000,
        "p95": percentile(values_s, 95) * 1000,
        "p99": percentile(values_s, 99) * 1000,
        "max": max(values_s) * 1000 if values_s else math.nan,
    }


def line_ms(label: str, values_s: Sequence[float], *, width: int = 44) -> str:
    """One printed line: ``label  n=..  min ..  median .. ms  p95 ..  p99 ..  max ..``."""
    s = stats_ms(values_s)
    return (
        f"{label:<{width}} n={s['n']:<4} min {s['min']:7.2f}   median {s['median']:8.2f} ms"
        f"   p95 {s['p95']:8.2f}   p99 {s['p99']:8.2f}   max {s['max']:8.2f}"
    )


def write_json(path: str | None, figures: dict[str, Any]) -> None:
    """Write a script's figures for ``bench/run_all.py`` (when it asked with ``--json``)."""
    if path:
        Path(path).write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")


# ------------------------------------------------------------ the machine


def machine() -> dict[str, Any]:
    """Platform, CPU model, cores, Python and the load average now."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpu": model or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": loadavg(),
    }


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def filesystem_of(path: Path) -> str:
    """The type of the file system ``path`` is on (ext4, tmpfs...), from /proc/mounts."""
    best, kind = "", "?"
    target = str(path.resolve())
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, parts[2]
    return kind


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, key: str = "VmRSS") -> int:
    """A ``kB`` line of /proc/<pid>/status (``VmRSS``, ``VmHWM``...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


# --------------------------------------------------------- child processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """``locker daemon`` or ``locker web`` as a child process, stopped on :meth:`stop`.

    Its output goes to ``<log_dir>/<name>.log``. With ``notify`` a systemd
    notify socket is made for it, so :meth:`wait_ready` sees ``READY=1``.
    """

    def __init__(self, name: str, config_file: Path, log_dir: Path, *, notify: bool = False):
        self.name = name
        self.config_file = config_file
        self.log_path = log_dir / f"{name}.log"
        self.notify_path = log_dir / f"{name}.notify" if notify else None
        self.notify_sock: socket.socket | None = None
        self.process: subprocess.Popen | None = None
        self.spawned_at = 0.0

    def start(self) -> Service:
        """Spawn the process; :attr:`spawned_at` is the ``perf_counter`` just before."""
        env = {**os.environ, "LOCKER_CONFIG": str(self.config_file)}
        env.pop("WATCHDOG_USEC", None)
        if self.notify_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.notify_path.unlink()
            self.notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify_sock.bind(str(self.notify_path))
            env["NOTIFY_SOCKET"] = str(self.notify_path)
        else:
            env.pop("NOTIFY_SOCKET", None)
        log = self.log_path.open("ab")
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "locker_app", self.name], env=env, stdout=log, stderr=log
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait for ``READY=1`` on the notify socket; return the ``perf_counter`` it came at."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} did not report ready; see {self.log_path}")
            readable, _, _ = select.select([self.notify_sock], [], [], min(left, 0.5))
            if readable:
                message = self.notify_sock.recv(4096)
                if b"READY=1" in message.split(b"\n"):
                    return time.perf_counter()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.notify_sock is not None:
            self.notify_sock.close()
            self.notify_sock = None
            with contextlib.suppress(FileNotFoundError):
                self.notify_path.unlink()


@contextlib.contextmanager
def services(*items: Service) -> Iterator[tuple[Service, ...]]:
    """Start each service, and stop every one of them on the way out, whatever happens."""
    started: list[Service] = []
    try:
        for item in items:
            started.append(item.start())
        yield items
    finally:
        for item in reversed(started):
            item.stop()


class Http:
    """A keep-alive HTTP/1.1 connection to the panel, with a bearer token."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.token = token

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """Send one request; return the status and the whole body."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """:meth:`request`, with the body parsed as JSON."""
        status, raw = self.request(method, path, body)
        return status, json.loads(raw) if raw else None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def wait_http_ok(port: int, path: str = "/healthz", timeout: float = 30.0) -> float:
    """Poll ``path`` until it answers 200; return the ``perf_counter`` of that answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no 200 from {path} on port {port} within {timeout} s")


# ------------------------------------------------------ watching a file


class DirectoryWatch:
    """Wakes when a file in a directory is written or renamed into place (inotify).

    The simulated world rewrites ``sim_world.json`` by rename right after a
    lock output changes, so another process can see a lock move with no
    polling. Falls back to checking the file's mtime every millisecond where
    inotify is missing.
    """

    IN_CLOSE_WRITE = 0x00000008
    IN_MOVED_TO = 0x00000080
    IN_NONBLOCK = 0o4000
    IN_CLOEXEC = 0o2000000

    def __init__(self, directory: Path):
        self.directory = directory
        self.fd: int | None = None
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name, use_errno=True) if name else None
        if libc is not None and hasattr(libc, "inotify_init1"):
            fd = libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
            if fd >= 0:
                mask = self.IN_CLOSE_WRITE | self.IN_MOVED_TO
                if libc.inotify_add_watch(fd, str(directory).encode(), mask) >= 0:
                    self.fd = fd
                else:
                    os.close(fd)

    @property
    def kind(self) -> str:
        """``inotify`` or ``mtime polling``."""
        return "inotify" if self.fd is not None else "mtime polling (1 ms)"

    def drain(self) -> None:
        """Forget the changes seen so far."""
        if self.fd is not None:
            with contextlib.suppress(BlockingIOError):
                while os.read(self.fd, 65536):
                    pass

    def wait(self, name: str, timeout: float) -> float | None:
        """Wait for ``name`` to change; the ``perf_counter`` when it did, or ``None``."""
        deadline = time.monotonic() + timeout
        if self.fd is None:
            path = self.directory / name
            before = _mtime(path)
            while time.monotonic() < deadline:
                if _mtime(path) != before:
                    return time.perf_counter()
                time.sleep(0.001)
            return None
        wanted = name.encode()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([self.fd], [], [], left)
            if not readable:
                return None
            seen = time.perf_counter()
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            offset = 0
            while offset < len(data):
                _wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
                raw = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
                offset += 16 + length
                if raw == wanted:
                    return seen

    def close(self) -> None:
        """Stop watching."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
