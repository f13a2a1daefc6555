"""Benchmark: the panel, the export and ``locker log verify`` over ten years of records.

Builds a SQLite database like a bank's after about ten years: 32 staff slots,
200 people (a team of 16 that changes over the years, 14 at work on a
weekday), ``--events`` chained events (deposits, breaks, returns, shift ends,
refusals, grants, on-the-spot approvals, alerts, logins and a daily
checkpoint, each day in the site's time zone), and the rota, custody, grant,
alert and checkpoint rows that go with them. Rows are precomputed and
inserted with ``executemany`` in one transaction, as ``bench/verify_log.py``
does.

Then, with Flask's test client logged in through the login form (a session,
as a manager's browser), each page is fetched ``--repeat`` times, the pages in turn:
``/api/status``, the log's first page, a page in the middle and a deep page
(``before_id`` near 1,000), the log of one day, the override log, and the daily report (fewer
times when one takes seconds: ``--report-budget``). The CSV export of every
event is streamed in a child process (rows per second, tracemalloc's peak and
the growth of the peak RSS, VmHWM) against a plain ``sqlite3`` + ``csv`` dump of the
same rows; :func:`locker.log.verify` is timed against reading the same
columns without checking them.

    .venv/bin/python bench/panel_at_scale.py [--events N] [--repeat N] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kit import (
    LONDON,
    MANAGER,
    MANAGER_PASSWORD,
    badge_uid,
    line_ms,
    machine,
    stats_ms,
    status_kib,
    write_bank_config,
    write_json,
)
from sqlalchemy import insert

from locker import events as ev
from locker.accounts import add_account, create_token
from locker.config import load_config
from locker.db import Database, migrate
from locker.log import GENESIS_HASH, canonical_details, event_hash, format_ts, verify
from locker.log.personal import ACCOUNT_ACTOR, ACTOR_KEY, PERSON_ACTOR, commit_details
from locker.models import (
    Alert,
    Badge,
    Break,
    Checkpoint,
    Custody,
    Grant,
    Person,
    Shift,
    Slot,
)

PEOPLE, SLOTS, TEAM, AT_WORK = 200, 32, 16, 14
#: Shift start, end, break start, break end (local, minutes after midnight).
PATTERNS = [
    (450, 930, 690, 720),
    (480, 960, 720, 750),
    (510, 990, 750, 780),
    (540, 1020, 780, 810),
    (600, 1080, 810, 840),
]
#: Events a weekday holds, roughly, to size the history to ``--events``.
PER_WEEKDAY = 392
CLIENT = "192.168.1.20"
CHECKPOINT = object()


@dataclass
class History:
    """The rows besides the events: rota, custody, grants, alerts, checkpoints."""

    shifts: list[dict[str, Any]] = field(default_factory=list)
    breaks: list[dict[str, Any]] = field(default_factory=list)
    custody: list[dict[str, Any]] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    per_day: dict[date, int] = field(default_factory=dict)
    #: ``personal_values`` rows ``(id, event_id, person_id, field, value, salt)``.
    personal: list[tuple] = field(default_factory=list)


def person_name(index: int) -> str:
    """The ``index``-th person's name (0-based)."""
    return f"Person {index:03d}"


def is_manager(index: int) -> bool:
    """About one person in twelve is a manager or deputy."""
    return index % 12 == 0


class Day:
    """One local day of events being written, as ``(seconds after midnight, ...)`` tuples."""

    def __init__(self, day: date, rng: random.Random):
        self.rng = rng
        self.midnight = datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(UTC)
        self.out: list[tuple] = []

    def at(self, seconds: float) -> datetime:
        """The moment ``seconds`` after local midnight."""
        return self.midnight + timedelta(seconds=seconds)

    def log(self, t: float, kind: str, actor: str, slot, pid, details) -> None:
        """One event at ``t`` seconds after midnight."""
        self.out.append((t, kind, actor, slot, pid, details))

    def deposit(self, t: float, who: tuple[int, str, str], slot: int, returned: bool) -> float:
        """A badge, the slot opening, a device in, the door shut; when the door shut."""
        pid, name, uid = who
        self.log(t, ev.BADGE_GRANTED, name, slot, pid, {"action": "deposit", "uid": uid})
        self.log(t, ev.SLOT_UNLOCKED, name, slot, pid, {"reason": "deposit"})
        self.log(t + 0.6, ev.DOOR_OPENED, "", slot, pid, {"forced": False})
        shut = t + self.rng.uniform(3, 12)
        self.log(shut - 1, ev.DEVICE_DETECTED, "", slot, pid, {})
        self.log(shut, ev.DOOR_CLOSED, "", slot, pid, {})
        self.log(shut, ev.SLOT_LOCKED, "", slot, pid, {"reason": "deposit"})
        confirmed = {"returned": returned, "visitor": None}
        self.log(shut, ev.DEPOSIT_CONFIRMED, name, slot, pid, confirmed)
        return shut

    def collect(self, t: float, who: tuple[int, str, str], slot: int, reason: str) -> float:
        """The slot opening for a release, the device out, the door shut; when it shut."""
        pid, name, _uid = who
        self.log(t, ev.SLOT_UNLOCKED, name, slot, pid, {"reason": reason})
        self.log(t + 0.6, ev.DOOR_OPENED, "", slot, pid, {"forced": False})
        shut = t + self.rng.uniform(3, 15)
        self.log(shut - 1, ev.DEVICE_REMOVED, "", slot, pid, {})
        self.log(shut, ev.DOOR_CLOSED, "", slot, pid, {})
        self.log(shut, ev.SLOT_LOCKED, "", slot, pid, {"reason": "collected"})
        return shut

    def events(self) -> list[tuple]:
        """The day's events in time order, with their moments."""
        self.out.sort(key=lambda item: item[0])
        return [(self.at(t), *rest) for t, *rest in self.out]


def day_events(day: date, k: int, days: int, rng: random.Random, history: History) -> list:
    """The events of local ``day`` (the ``k``-th of ``days``), in time order."""
    d = Day(day, rng)
    if k == 0:
        d.log(1.0, ev.SYSTEM_STARTED, "daemon", None, None, {"clock_synchronised": True})
    d.log(2.0, ev.LOG_CHECKPOINT, "system", None, None, CHECKPOINT)
    history.checkpoints.append({"at": d.at(2.0)})
    if day.weekday() >= 5:
        return d.events()
    first = min(k * (PEOPLE - TEAM) // max(days - 1, 1), PEOPLE - TEAM)
    team = list(range(first, first + TEAM))
    working = sorted(rng.sample(team, AT_WORK))
    managers = [i for i in team if is_manager(i)] or [team[0]]
    login = {"client": CLIENT, "username": MANAGER}
    d.log(rng.uniform(7.5, 9) * 3600, ev.AUTH_LOGIN, MANAGER, None, None, login)
    for place, index in enumerate(working):
        who = (index + 1, person_name(index), badge_uid(index))
        pid, name, uid = who
        slot = place % SLOTS + 1
        start, end, b_start, b_end = (
            60.0 * m for m in PATTERNS[(index + day.toordinal()) % len(PATTERNS)]
        )
        shift_id = len(history.shifts) + 1
        history.shifts.append(
            {"id": shift_id, "person_id": pid, "day": day, "start": d.at(start), "end": d.at(end)}
        )
        history.breaks.append({"shift_id": shift_id, "start": d.at(b_start), "end": d.at(b_end)})
        arrived = d.deposit(start - rng.uniform(60, 900), who, slot, False)
        stay = {"slot_number": slot, "person_id": pid, "deposited_at": d.at(arrived)}
        history.custody.append(stay)
        if rng.random() < 0.06:
            t = rng.uniform(start + 1800, b_start - 600)
            hhmm = f"{int(b_start) // 3600:02d}:{int(b_start) % 3600 // 60:02d}"
            refused = {
                "explanation": f"On shift and not on a break. Next break at {hhmm}.",
                "reason": "on_shift",
                "uid": uid,
            }
            d.log(t, ev.BADGE_REFUSED, name, slot, pid, refused)
            if rng.random() < 0.1:
                manager = person_name(managers[0])
                approval = {
                    "manager": manager,
                    "manager_id": managers[0] + 1,
                    "person": name,
                    "reason": "emergency",
                }
                d.log(t + 9, ev.APPROVAL_ON_THE_SPOT, manager, slot, pid, approval)
                back = d.collect(t + 9, who, slot, "on_the_spot") + rng.uniform(300, 900)
                d.deposit(back, who, slot, True)
        t = b_start + rng.uniform(0, 300)
        released = {"action": "release", "reason": "break", "uid": uid}
        d.log(t, ev.BADGE_GRANTED, name, slot, pid, released)
        window = {"break_end": d.at(b_end).isoformat(), "break_start": d.at(b_start).isoformat()}
        d.log(t, ev.RELEASE_BREAK, name, slot, pid, window)
        d.collect(t, who, slot, "break")
        stay.update(ended_at=d.at(t), end_reason="break")
        back = d.deposit(b_end - rng.uniform(0, 300), who, slot, True)
        stay = {"slot_number": slot, "person_id": pid, "deposited_at": d.at(back)}
        history.custody.append(stay)
        if rng.random() < 0.008:
            grant_id = len(history.grants) + 1
            t = rng.uniform(b_end + 600, end - 3600)
            note = "Call from school"
            created = {
                "client": CLIENT,
                "grant_id": grant_id,
                "note": note,
                "open_now": True,
                "reason": "emergency",
                "return_minutes": 15,
                "valid_until": d.at(t + 3600).isoformat(),
            }
            d.log(t, ev.GRANT_CREATED, MANAGER, None, pid, created)
            due = d.at(t + 900)
            used = {"grant_id": grant_id, "note": note, "reason": "emergency"}
            d.log(t, ev.RELEASE_GRANT, MANAGER, slot, pid, {**used, "return_due": due.isoformat()})
            d.log(t, ev.GRANT_USED, MANAGER, slot, pid, {"grant_id": grant_id})
            d.deposit(d.collect(t, who, slot, "grant") + rng.uniform(300, 840), who, slot, True)
            history.grants.append(
                {
                    "id": grant_id,
                    "person_id": pid,
                    "reason": "emergency",
                    "note": note,
                    "open_now": True,
                    "return_minutes": 15,
                    "created_by": MANAGER,
                    "client": CLIENT,
                    "created_at": d.at(t),
                    "valid_until": d.at(t + 3600),
                    "used_at": d.at(t),
                    "return_due": due,
                }
            )
        if rng.random() < 0.01:
            alert_id = len(history.alerts) + 1
            t = rng.uniform(start + 600, end - 600)
            message = f"Slot {slot}: door left open."
            raised = {"alert": ev.ALERT_DOOR_LEFT_OPEN, "alert_id": alert_id, "message": message}
            d.log(t, ev.ALERT_RAISED, "daemon", slot, pid, raised)
            d.log(t + 240, ev.ALERT_ACKNOWLEDGED, MANAGER, slot, pid, {"alert_id": alert_id})
            history.alerts.append(
                {
                    "id": alert_id,
                    "alert": ev.ALERT_DOOR_LEFT_OPEN,
                    "slot": slot,
                    "person_id": pid,
                    "details": {"message": message},
                    "raised_at": d.at(t),
                    "acknowledged_at": d.at(t + 240),
                    "acknowledged_by": MANAGER,
                }
            )
        d.log(end, ev.RELEASE_SHIFT_END, "daemon", slot, pid, {"automatic": True})
        left = d.collect(end, who, slot, "shift_end") + rng.uniform(0, 600)
        stay.update(ended_at=d.at(left), end_reason="shift_end")
    return d.events()


def described(count: int, first_day: date, days: int, rng: random.Random, history: History):
    """``count`` event tuples ``(time, kind, actor, slot, person_id, details)``, day by day."""
    made = 0
    day = first_day
    k = 0
    while made < count:
        todays = day_events(day, k, days, rng, history)
        todays = todays[: count - made]
        history.per_day[day] = len(todays)
        made += len(todays)
        yield from todays
        day += timedelta(days=1)
        k += 1


class Commitments:
    """Personal values kept beside the chain, as the daemon keeps them.

    :func:`locker.log.personal.commit_details` is given this for its session:
    it only executes one insert of a ``personal_values`` row and reads the new
    row's id, so the rows are collected here (in ``history.personal``) and
    inserted with the events, and the chain holds the same commitments a
    site's log does.
    """

    def __init__(self, history: History):
        self.rows = history.personal

    def execute(self, _insert, row: dict) -> SimpleNamespace:
        """Number the row and keep its columns; the id, as a result gives it."""
        number = len(self.rows) + 1
        self.rows.append(
            (number, row["event_id"], row["person_id"], row["field"], row["value"], row["salt"])
        )
        return SimpleNamespace(inserted_primary_key=(number,))


def as_stored(
    commitments: Commitments, event_id: int, actor: str, person_id, details: dict
) -> tuple[str, dict]:
    """An event's actor and details as the chain stores them (see
    :func:`locker.log.personal.private_entry`): a person's name stood in for
    by ``person:<id>``, the panel account's by ``@account`` with its name
    committed, and every personal value committed."""
    owners: dict[str, int | None] = {ACTOR_KEY: None, "client": None, "username": None}
    if actor == MANAGER:
        actor, details = ACCOUNT_ACTOR, {**details, ACTOR_KEY: MANAGER}
    elif actor.startswith("Person "):
        actor = f"{PERSON_ACTOR}{int(actor.removeprefix('Person ')) + 1}"
    return actor, commit_details(commitments, details, person_id, event_id, owners=owners)


def chained(items, history: History) -> Iterator[tuple]:
    """Rows of the events table, each hashed onto the one before, in the stored shape."""
    prev = GENESIS_HASH
    checkpoint = 0
    commitments = Commitments(history)
    for event_id, (moment, kind, actor, slot, person_id, details) in enumerate(items, start=1):
        if details is CHECKPOINT:
            text = canonical_details({"event_id": event_id - 1, "hash": prev})
            if event_id > 1:
                history.checkpoints[checkpoint].update(event_id=event_id - 1, hash=prev)
            checkpoint += 1
        else:
            actor, details = as_stored(commitments, event_id, actor, person_id, details)
            text = canonical_details(details)
        ts = format_ts(moment)
        digest = event_hash(
            prev_hash=prev,
            id=event_id,
            ts=ts,
            kind=kind,
            actor=actor,
            slot=slot,
            person_id=person_id,
            details=text,
        )
        yield event_id, ts, kind, actor, slot, person_id, text, prev, digest
        prev = digest


def insert_personal(conn: sqlite3.Connection, history: History) -> None:
    """The personal values the chained events refer to."""
    conn.executemany(
        "INSERT INTO personal_values (id, event_id, person_id, field, value, salt)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        history.personal,
    )


@dataclass(frozen=True)
class Built:
    """The database :func:`build` made."""

    config_file: Path
    events: int
    first_day: date
    last_day: date
    report_day: date
    token: str
    seconds: float


def build(tmp: Path, count: int, seed: int) -> Built:
    """A migrated database in ``tmp`` holding ``count`` events over about ten years."""
    started = time.perf_counter()
    config_file = write_bank_config(tmp, staff_slots=SLOTS, retention_days=3700)
    config = load_config(config_file)
    db = Database(config.db_url)
    migrate(db.engine)
    db.dispose()
    weekdays = max(count // PER_WEEKDAY, 1)
    days = weekdays * 7 // 5 + 1
    last_day = date(2026, 1, 9)
    first_day = last_day - timedelta(days=days - 1)
    history = History()
    rng = random.Random(seed)
    path = Path(config.db_url.removeprefix("sqlite:///"))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO events (id, ts, kind, actor, slot, person_id, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chained(described(count, first_day, days, rng, history), history),
        )
        insert_personal(conn, history)
    conn.close()
    made = [d for d, n in history.per_day.items() if n > 0]
    end_day = made[-1]
    full = [d for d in made if d.weekday() < 5 and d < end_day]
    report_day = full[-1] if full else end_day
    origin = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    db = Database(config.db_url)
    at = datetime.combine(end_day, datetime.min.time(), tzinfo=LONDON) + timedelta(hours=20)
    with db.write() as session:
        session.add_all(
            Slot(number=n, kind="staff", label=str(n), state="free", since=at)
            for n in range(1, SLOTS + 1)
        )
        session.flush()
        session.execute(
            insert(Person),
            [
                {
                    "id": i + 1,
                    "name": person_name(i),
                    "role": "manager" if is_manager(i) else "staff",
                    "created_at": origin,
                }
                for i in range(PEOPLE)
            ],
        )
        session.execute(
            insert(Badge),
            [
                {"uid": badge_uid(i), "person_id": i + 1, "created_at": origin}
                for i in range(PEOPLE)
            ],
        )
        for model, rows in (
            (Shift, history.shifts),
            (Break, history.breaks),
            (Custody, history.custody),
            (Grant, history.grants),
            (Alert, history.alerts),
        ):
            if rows:
                session.execute(insert(model), rows)
        session.execute(
            insert(Checkpoint),
            [
                {
                    "kind": "daily",
                    "event_id": c["event_id"],
                    "hash": c["hash"],
                    "created_at": c["at"],
                }
                for c in history.checkpoints
                if "event_id" in c
            ],
        )
        add_account(session, MANAGER, "manager", MANAGER_PASSWORD, at=at, actor="bench")
        token = create_token(session, MANAGER, at=at, actor="bench")
        session.commit()
    db.dispose()
    return Built(
        config_file,
        count + 2,
        first_day,
        end_day,
        report_day,
        token,
        time.perf_counter() - started,
    )


# ------------------------------------------------------------ measuring

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def logged_in_client(config_file: Path):
    """Flask's test client for the panel, logged in as the manager through the login form."""
    from web import create_app

    app = create_app(config=load_config(config_file))
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = _CSRF_META.search(html).group(1)
    answer = client.post(
        "/login", data={"username": MANAGER, "password": MANAGER_PASSWORD, "csrf_token": csrf}
    )
    if answer.status_code != 302:
        raise SystemExit(f"could not log in: {answer.status_code}")
    return client


def timed(client, path: str, repeat: int, *, budget_s: float | None = None, headers=None):
    """Seconds per GET of ``path`` (the whole body read), ``repeat`` times or until the budget."""
    times: list[float] = []
    size = 0
    started = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        body = response.get_data()
        times.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {body[:200]!r}")
        size = len(body)
        if budget_s is not None and time.perf_counter() - started > budget_s and len(times) >= 3:
            break
    return times, size


def export_child(config_file: Path, token: str, trace: bool) -> dict[str, Any]:
    """In a fresh process: stream ``/log/export.csv`` to nowhere; rows/s and memory."""
    from web import create_app

    app = create_app(config=load_config(config_file))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/status", headers=headers)  # warm the app before the baseline RSS
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    rss_before = status_kib(os.getpid(), "VmHWM")
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    response = client.get("/log/export.csv", headers=headers, buffered=False)
    lines = 0
    size = 0
    for chunk in response.iter_encoded():
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    rss_after = status_kib(os.getpid(), "VmHWM")
    return {
        "rows": lines - 1,
        "bytes": size,
        "seconds": seconds,
        "rows_per_s": (lines - 1) / seconds,
        "tracemalloc_peak_mb": peak / 2**20 if peak is not None else None,
        "maxrss_before_mb": rss_before / 1024,
        "maxrss_after_mb": rss_after / 1024,
        "maxrss_growth_mb": (rss_after - rss_before) / 1024,
    }


@contextlib.contextmanager
def db_read(config) -> Iterator[Any]:
    """A reading session on the config's database, disposed of afterwards."""
    db = Database(config.db_url)
    try:
        with db.read() as session:
            yield session
    finally:
        db.dispose()


def plain_dump(db_path: Path) -> dict[str, Any]:
    """The baseline: every event through ``sqlite3`` and ``csv.writer`` into a discarded buffer."""
    conn = sqlite3.connect(db_path)
    started = time.perf_counter()
    rows = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    cursor = conn.execute(
        "SELECT id, ts, kind, actor, slot, person_id, details, prev_hash, hash FROM events"
        " ORDER BY id"
    )
    while batch := cursor.fetchmany(1000):
        writer.writerows(batch)
        rows += len(batch)
        buffer.seek(0)
        buffer.truncate()
    seconds = time.perf_counter() - started
    conn.close()
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def plain_read(db_path: Path) -> float:
    """Seconds to read every event's columns in id order, checking nothing."""
    conn = sqlite3.connect(db_path)
    started = time.perf_counter()
    cursor = conn.execute(
        "SELECT id, ts, kind, actor, slot, person_id, details, prev_hash, hash FROM events"
        " ORDER BY id"
    )
    while cursor.fetchmany(5000):
        pass
    conn.close()
    return time.perf_counter() - started


def run_export(config_file: Path, token: str, trace: bool) -> dict[str, Any]:
    """:func:`export_child` in a child process (so its memory is its own)."""
    env = {**os.environ, "BENCH_TOKEN": token}
    command = [sys.executable, __file__, "--export-child", str(config_file)]
    if trace:
        command.append("--trace")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"export child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Build, then time the pages, the export and verify; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log")
    parser.add_argument("--repeat", type=int, default=50, help="fetches of each page")
    parser.add_argument(
        "--report-budget", type=float, default=60.0, help="seconds to spend on the report at most"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the history")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--export-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_child:
        print(json.dumps(export_child(args.export_child, os.environ["BENCH_TOKEN"], args.trace)))
        return 0
    if args.events < 5000:
        parser.error("--events must be at least 5000")
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg']}")

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        built = build(Path(tmp), args.events, args.seed)
        config = load_config(built.config_file)
        db_path = Path(config.db_url.removeprefix("sqlite:///"))
        size_mb = db_path.stat().st_size / 2**20
        print(
            f"built {built.events:,} events ({built.first_day} to {built.last_day}),"
            f" {PEOPLE} people, {SLOTS} slots in {built.seconds:.1f} s; database {size_mb:,.0f} MB"
        )
        client = logged_in_client(built.config_file)
        deep, middle = 1000, built.events // 2
        day = built.report_day.isoformat()
        pages = [
            ("/api/status", "/api/status"),
            ("/log (first page)", "/log"),
            (f"/log?before_id={middle} (middle page)", f"/log?before_id={middle}"),
            (f"/log?before_id={deep} (deep page)", f"/log?before_id={deep}"),
            (f"/log?day={day}", f"/log?day={day}"),
            ("/log/overrides", "/log/overrides"),
            (f"/log/overrides?before_id={deep}", f"/log/overrides?before_id={deep}"),
        ]
        print(f"\npages (Flask test client, logged-in session, {args.repeat} fetches each):")
        results: dict[str, Any] = {}
        # Round-robin, one fetch of each page in turn: whatever drifts during the
        # run (the machine's load, the process's heap) falls on every page alike,
        # which the deep / first ratio needs (timed one page after another, each
        # page came out slower than the one before, in the order they were timed).
        for _label, path in pages:
            client.get(path)  # one warm-up fetch
        timings = {label: timed(client, path, 1) for label, path in pages}
        for _ in range(args.repeat - 1):
            for label, path in pages:
                timings[label][0].extend(timed(client, path, 1)[0])
        for label, (times, size) in timings.items():
            results[label] = {**stats_ms(times), "bytes": size}
            print(line_ms(f"  {label}", times, width=40) + f"   {size / 1024:6.0f} KiB")
        token_headers = {"Authorization": f"Bearer {built.token}"}
        times, _ = timed(client, "/api/status", args.repeat, headers=token_headers)
        results["/api/status (bearer token)"] = stats_ms(times)
        print(line_ms("  /api/status (bearer token)", times, width=40))
        report = f"/report?day={day}"
        client.get(report)  # one warm-up fetch, as for the pages above
        times, size = timed(client, report, args.repeat, budget_s=args.report_budget)
        results[report] = {**stats_ms(times), "bytes": size}
        print(line_ms(f"  {report}", times, width=40) + f"   {size / 1024:6.0f} KiB")
        first = results["/log (first page)"]
        deep_page = results[f"/log?before_id={deep} (deep page)"]
        ratio = deep_page["median"] / first["median"]
        print(
            f"  deep / first page: median {ratio:.2f}x, p95 {deep_page['p95'] / first['p95']:.2f}x"
        )

        print("\nexport of every event (/log/export.csv streamed, child process):")
        dump = plain_dump(db_path)
        export = run_export(built.config_file, built.token, trace=False)
        traced = run_export(built.config_file, built.token, trace=True)
        print(
            f"  export: {export['rows']:,} rows in {export['seconds']:.1f} s ="
            f" {export['rows_per_s']:,.0f} rows/s, {export['bytes'] / 2**20:,.0f} MB of CSV;"
            f" peak RSS {export['maxrss_before_mb']:.0f} -> {export['maxrss_after_mb']:.0f} MB"
            f" (+{export['maxrss_growth_mb']:.1f} MB)"
        )
        print(
            f"  tracemalloc peak during the export: {traced['tracemalloc_peak_mb']:.1f} MB"
            f" ({traced['rows_per_s']:,.0f} rows/s while tracing)"
        )
        print(
            f"  baseline sqlite3 + csv.writer: {dump['rows_per_s']:,.0f} rows/s;"
            f" export / baseline = {export['rows_per_s'] / dump['rows_per_s']:.2f}"
        )

        print("\nverify (locker.log.verify, as `locker log verify`):")
        with db_read(config) as session:
            started = time.perf_counter()
            checked = verify(session)
            verify_s = time.perf_counter() - started
        read_s = plain_read(db_path)
        print(
            f"  {checked.checked:,} events in {verify_s:.2f} s ="
            f" {checked.checked / verify_s:,.0f} events/s, ok={checked.ok};"
            f" baseline reading the same columns {read_s:.2f} s"
            f" (verify / read {verify_s / read_s:.1f}x)"
        )
    write_json(
        args.json,
        {
            "events": built.events,
            "build_s": built.seconds,
            "pages": results,
            "deep_first_ratio": ratio,
            "export": export,
            "export_traced": traced,
            "export_baseline": dump,
            "verify_s": verify_s,
            "verify_ok": checked.ok,
            "verify_read_baseline_s": read_s,
            "machine": info,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
