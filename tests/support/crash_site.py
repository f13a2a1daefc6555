"""A busy simulated nursery whose daemon is SIGKILLed at random points and restarted.

:class:`Site` is a data directory with a config on simulated hardware, staff
with badges and a rota, and a daemon process (a real ``locker daemon``
executable, or the same command forked from :mod:`tests.support.zygote`).
:class:`BusyDay` drives it the way the panel and the simulator page do:
commands in the database and a ring of the doorbell (badges, doors, devices,
the simulated clock, grants, manager releases, visitors). :class:`CrashRun`
alternates a few actions, a SIGKILL and a restart, and after every restart
checks what must survive a crash:

- ``PRAGMA integrity_check`` says ``ok`` and the log chain verifies;
- every event read before the kill is still there with the same hash, no id
  appears twice, and every grant the daemon acknowledged is logged once;
- no lock is driven open by the restart: the world's unlock counts do not
  move from the kill until ``WATCH_S`` after the new daemon is ready, and
  the new daemon logs no ``slot.unlocked`` in that time;
- the ``slots`` table's door and device columns equal the simulated world's.

Used by ``tests/reliability/test_crash.py`` (a few hundred kills) and
``scripts/long_crash.py`` (thousands).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import tomli_w

from hardware.sim_world import SimulatedWorld
from locker.config import default_config_text
from locker.db import Database, migrate
from locker.doorbell import doorbell_path, ring
from locker.live_status import read_live_status, status_path
from locker.log import verify
from locker.models import Command
from locker.people import add_person
from locker.rota_file import import_rota

LOCKER = str(Path(sys.executable).parent / "locker")
ZYGOTE = Path(__file__).with_name("zygote.py")
LONDON = ZoneInfo("Europe/London")
FIRST_DAY = date(2026, 1, 5)  # a Monday in winter: local time is UTC
SIM_START = "2026-01-05T07:55:00"
#: Seconds after the restarted daemon is ready during which no lock may move.
WATCH_S = 0.3
#: How long a wait for the daemon may take before it is a failure: generous, so a
#: slow or busy machine (an emulated Pi) is not mistaken for a broken daemon.
PATIENCE_S = 120.0
#: No schedule release (shift end, closing) may fall this close to a kill.
BOUNDARY_MARGIN_S = 8.0
#: Commands a kill may interrupt half-way (a card tap or the clock could cross a
#: schedule moment or be read as a new badge by the restarted daemon; these cannot).
MID_COMMAND_KINDS = frozenset({"sim_slot", "grant", "release_slot", "visitor_in", "visitor_out"})
#: The unlock a command left to the restarted daemon may drive, by its kind.
UNLOCK_REASONS = {
    "grant": ("grant",),
    "release_slot": ("manager", "visitor_sign_out"),
    "visitor_in": ("visitor",),
    "visitor_out": ("visitor_sign_out",),
}

#: (name, badge, shift start, shift end, break) ; None: no shift (badging releases at once).
STAFF = [
    ("Ann", "A0000001", "08:00", "16:00", "12:00-12:30"),
    ("Ben", "B0000002", "08:00", "13:00", "10:00-10:15"),
    ("Cat", "C0000003", "09:00", "17:00", "12:30-13:00"),
    ("Dan", "D0000004", "07:30", "15:30", "11:00-11:30"),
    ("Eve", "E0000005", "10:00", "18:00", "14:00-14:30"),
    ("Fay", "F0000006", None, None, None),
]
MANAGER = ("Meg", "4D4D4D4D", "07:30", "18:30", "")
UNKNOWN_UIDS = ("0BADCAFE", "DEADBEEF", "12345678")
CLOSING = "18:30"


def rota_text(days: int) -> str:
    """The rota CSV: every staff member with a shift, every day from ``FIRST_DAY``."""
    lines = ["date,name,start,end,breaks"]
    for offset in range(days):
        day = (FIRST_DAY + timedelta(days=offset)).isoformat()
        for name, _uid, start, end, breaks in [*STAFF, MANAGER]:
            if start is not None:
                lines.append(f"{day},{name},{start},{end},{breaks}")
    return "\n".join(lines) + "\n"


#: Local times worth moving the clock to: breaks, shift ends, closing, the next morning.
MOMENTS = (
    "07:50",
    "10:00",
    "11:00",
    "12:00",
    "12:30",
    "13:00",
    "14:00",
    "15:30",
    "16:00",
    "17:00",
    "18:00",
    "18:30",
    "18:41",
)


def local_moments(times: list[str] | tuple[str, ...], days: int) -> list[datetime]:
    """``times`` (local ``HH:MM``) on every day of the rota and the day after, in UTC."""
    moments = []
    for offset in range(days + 1):
        day = FIRST_DAY + timedelta(days=offset)
        for hhmm in times:
            local = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), LONDON)
            moments.append(local.astimezone(UTC))
    return sorted(moments)


def schedule_boundaries(days: int) -> list[datetime]:
    """Every moment a schedule may release a slot by itself: shift ends and closing time."""
    ends = [end for _n, _u, _s, end, _b in [*STAFF, MANAGER] if end] + [CLOSING]
    return local_moments(ends, days)


class Zygote:
    """The fork server of :mod:`tests.support.zygote`, one per test run."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ZYGOTE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.guard = threading.Lock()

    def fork(self, config_path: Path, log_path: Path) -> int:
        """Start a daemon for ``config_path``; its pid (sites in threads take turns)."""
        with self.guard:
            self.process.stdin.write(f"{config_path}\t{log_path}\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the zygote died")
        return int(answer)

    def close(self) -> None:
        """Stop serving (children already started are not touched)."""
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()


class DaemonDied(AssertionError):
    """The daemon exited by itself: a crash."""


class Site:
    """A data directory with a simulated bank, people, a rota and a daemon process."""

    def __init__(self, root: Path, *, days: int = 30):
        self.root = root
        self.days = days
        root.mkdir(parents=True, exist_ok=True)
        self.config_path = root / "config.toml"
        raw = tomllib.loads(default_config_text(data_dir=str(root)))
        raw["hardware"]["backend"] = "simulated"
        raw["hardware"]["sim_start"] = SIM_START
        self.config_path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        self.db_path = root / "locker.db"
        self.db = Database(f"sqlite:///{self.db_path}")
        migrate(self.db.engine)
        self.people: dict[str, int] = {}
        self.uids: dict[str, str] = {}
        at = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
        with self.db.write() as session:
            for name, uid, *_ in [*STAFF, MANAGER]:
                role = "manager" if (name, uid) == MANAGER[:2] else "staff"
                person = add_person(session, name, role=role, badge=uid, at=at, actor="test")
                self.people[name] = person.id
                self.uids[name] = uid
            import_rota(session, rota_text(days), tz=LONDON, at=at, actor="test")
            session.commit()
        self.boundaries = schedule_boundaries(days)
        self.moments = local_moments(MOMENTS, days)
        self.pid: int | None = None
        self.popen: subprocess.Popen | None = None
        self.log_path = root / "daemon.log"
        self.starts = 0
        self.exec_starts = 0

    # ------------------------------------------------------------ process

    def start(self, zygote: Zygote | None) -> None:
        """Start the daemon (forked from ``zygote``, or the real executable) and wait for it."""
        self.starts += 1
        if zygote is None:
            self.exec_starts += 1
            env = {**os.environ, "LOCKER_CONFIG": str(self.config_path)}
            with self.log_path.open("w") as log:
                self.popen = subprocess.Popen(
                    [LOCKER, "daemon"], env=env, stdout=subprocess.DEVNULL, stderr=log
                )
            self.pid = self.popen.pid
        else:
            self.popen = None
            self.pid = zygote.fork(self.config_path, self.log_path)
        self.wait(self.ready, "the daemon to be ready")

    def alive(self) -> bool:
        """Whether the daemon process is still running."""
        if self.pid is None:
            return False
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def ready(self) -> bool:
        """The daemon has reconciled and written its first heartbeat."""
        status = read_live_status(status_path(self.root))
        return status is not None and status.get("pid") == self.pid

    def kill(self) -> None:
        """SIGKILL the daemon and wait until it is gone."""
        os.kill(self.pid, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=PATIENCE_S)
        else:
            deadline = time.monotonic() + PATIENCE_S
            while self.alive():
                if time.monotonic() > deadline:
                    raise AssertionError(f"daemon {self.pid} survived SIGKILL")
                time.sleep(0.002)
        self.pid = None

    def stop(self) -> None:
        """End the daemon politely (SIGTERM), or with SIGKILL if it does not end in 10 s."""
        if self.pid is None or not self.alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.alive():
            self.kill()
        if self.popen is not None:
            self.popen.wait(timeout=10)
        self.pid = None

    def wait(self, condition, what: str, timeout: float = PATIENCE_S) -> None:
        """Poll ``condition`` until true; fail if the daemon dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.pid is not None and not self.alive():
                raise DaemonDied(f"the daemon died waiting for {what}:\n{self.daemon_log()}")
            if condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.daemon_log()}")
            time.sleep(0.005)

    def daemon_log(self) -> str:
        """The daemon's stderr (the tail)."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    # ------------------------------------------------------------ reading

    def connect(self) -> sqlite3.Connection:
        """A plain read connection to the database file."""
        conn = sqlite3.connect(self.db_path, timeout=15)
        return conn

    def events(self) -> dict[int, str]:
        """Every event's id and hash; fails if an id appears twice."""
        with self.connect() as conn:
            rows = conn.execute("SELECT id, hash FROM events").fetchall()
        found = dict(rows)
        assert len(found) == len(rows), "an event id appears twice"
        return found

    def slots(self) -> dict[int, dict]:
        """The ``slots`` table."""
        with self.connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM slots ORDER BY number").fetchall()
        return {row["number"]: dict(row) for row in rows}

    def world(self) -> dict:
        """The simulated world as the daemon last saved it."""
        return SimulatedWorld(self.root / "sim_world.json").snapshot()

    def sim_now(self) -> datetime:
        """The simulated clock as the daemon last saved it (just after its first heartbeat)."""
        path = self.root / "sim_clock.json"
        self.wait(path.exists, "the simulated clock to be saved")
        saved = json.loads(path.read_text())
        return datetime.fromisoformat(saved["now"]).astimezone(UTC)

    def command_status(self, command_id: int) -> tuple[str, dict]:
        """A command's status and result."""
        with self.connect() as conn:
            status, result = conn.execute(
                "SELECT status, result FROM commands WHERE id = ?", (command_id,)
            ).fetchone()
        return status, json.loads(result or "{}")

    # ------------------------------------------------------------ acting

    def command(self, kind: str, payload: dict) -> int:
        """Leave a command for the daemon and ring its doorbell; the command's id."""
        with self.db.write() as session:
            now = datetime.now(UTC)
            row = Command(
                kind=kind, payload=payload, account="test", created_at=now, requested_at=now
            )
            session.add(row)
            session.commit()
            command_id = row.id
        ring(doorbell_path(self.root))
        return command_id

    def settled(self, command_id: int) -> bool:
        """The daemon has answered the command."""
        return self.command_status(command_id)[0] != "pending"

    def dispose(self) -> None:
        """Stop the daemon and close the database."""
        self.stop()
        self.db.dispose()


@dataclass
class Figures:
    """What a run checked."""

    kills: int = 0
    restarts: int = 0
    exec_restarts: int = 0
    actions: int = 0
    mid_command_kills: int = 0
    #: Of those, commands the killed daemon had not committed, carried out by the new one.
    carried_commands: int = 0
    events_checked: int = 0
    unlock_watches: int = 0
    slot_checks: int = 0
    final_events: int = 0
    #: Alerts a restart raised again while the same one was still open (see test_crash.py).
    repeated_alerts: int = 0
    restart_s: list[float] = field(default_factory=list)
    #: Event kinds in the final logs (and ``release:<reason>`` for every unlock).
    kinds: Counter[str] = field(default_factory=Counter)
    sim_hours: float = 0.0

    def add(self, other: Figures) -> None:
        """Add another run's figures to these."""
        for name in (
            "kills",
            "restarts",
            "exec_restarts",
            "actions",
            "mid_command_kills",
            "carried_commands",
            "events_checked",
            "unlock_watches",
            "slot_checks",
            "final_events",
            "repeated_alerts",
            "sim_hours",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.restart_s += other.restart_s
        self.kinds += other.kinds

    def summary(self) -> str:
        """The figures in one paragraph."""
        ready = sorted(self.restart_s) or [0.0]
        return (
            f"kills survived: {self.kills} ({self.mid_command_kills} with a command "
            f"half-done, {self.carried_commands} of them finished by the restarted daemon); "
            f"restarts: {self.restarts} ({self.exec_restarts} of the real "
            f"`locker daemon` executable); actions: {self.actions}; acknowledged events "
            f"re-checked after restarts: {self.events_checked}; events in the final logs: "
            f"{self.final_events}; unlock watches passed: {self.unlock_watches}; "
            f"slot/sensor checks passed: {self.slot_checks}; restart to ready: median "
            f"{ready[len(ready) // 2]:.3f} s, max {ready[-1]:.3f} s; simulated hours: "
            f"{self.sim_hours:.1f}; alerts a restart raised again: {self.repeated_alerts}"
        )

    def coverage(self) -> str:
        """What the days held: unlocks by reason, releases, alerts, checkpoints."""
        wanted = [k for k in sorted(self.kinds) if ":" in k] + [
            k
            for k in (
                "deposit.confirmed",
                "release.break",
                "release.grant",
                "release.shift_end",
                "release.closing",
                "release.manager",
                "approval.on_the_spot",
                "clock.jump",
                "log.checkpoint",
                "system.started",
            )
            if k in self.kinds
        ]
        return ", ".join(f"{k} {self.kinds[k]}" for k in wanted)


class BusyDay:
    """Chooses what happens next at the locker from what the bank and the world show."""

    def __init__(self, site: Site, rng: random.Random):
        self.site = site
        self.rng = rng
        #: The simulated time at a real monotonic moment, to know where the clock is.
        self.anchor: tuple[datetime, float] | None = None
        self.last_uid: str | None = None

    def resync(self) -> None:
        """Read the simulated clock as the (re)started daemon saved it."""
        self.anchor = (self.site.sim_now(), time.monotonic())

    def sim_now(self) -> datetime:
        """Where the simulated clock is now (it runs at real speed between advances)."""
        sim, real = self.anchor
        return sim + timedelta(seconds=time.monotonic() - real)

    def next_action(self) -> tuple[str, dict]:
        """A command (kind, payload) that makes sense now, chosen at random."""
        slots = self.site.slots()
        world = self.site.world()["slots"]
        held_by = {row["occupant_id"]: n for n, row in slots.items() if row["occupant_id"]}
        options: list[tuple[float, str, dict]] = []
        for number, row in slots.items():
            physical = world[number]
            door, device = physical["door_open"], physical["device_present"]
            state = row["state"]
            if state == "open_for_deposit":
                if not door:
                    options.append((2, "sim_slot", {"slot": number, "door": "open"}))
                elif not device:
                    options.append((4, "sim_slot", {"slot": number, "device": True}))
                else:
                    options.append((4, "sim_slot", {"slot": number, "door": "closed"}))
            elif state == "open_for_release":
                if not door:
                    options.append((2, "sim_slot", {"slot": number, "door": "open"}))
                elif device:
                    options.append((4, "sim_slot", {"slot": number, "device": False}))
                else:
                    options.append((4, "sim_slot", {"slot": number, "door": "closed"}))
            elif door:
                options.append((3, "sim_slot", {"slot": number, "door": "closed"}))
                if device and self.rng.random() < 0.3:
                    options.append((1, "sim_slot", {"slot": number, "device": False}))
            else:
                # Somebody forces a locked door, or a sensor sees a device vanish.
                options.append((0.05, "sim_slot", {"slot": number, "door": "open"}))
                if device:
                    options.append((0.03, "sim_slot", {"slot": number, "device": False}))
            if state == "held" and row["kind"] == "staff":
                options.append((0.3, "release_slot", {"slot": number, "reason": "needed"}))
            if state == "held" and row["kind"] == "visitor":
                options.append((0.5, "visitor_out", {"slot": number}))
            if state == "free" and row["kind"] == "visitor":
                options.append((0.4, "visitor_in", {"name": "Visitor"}))
        for name, person_id in self.site.people.items():
            uid = self.site.uids[name]
            weight = 0.8 if name == MANAGER[0] else 1.0
            if uid != self.last_uid:
                options.append((weight, "sim_badge", {"uid": uid}))
            if person_id in held_by and slots[held_by[person_id]]["state"] == "held":
                options.append(
                    (
                        0.15,
                        "grant",
                        {
                            "person_id": person_id,
                            "reason": "emergency",
                            "open_now": self.rng.random() < 0.7,
                            "return_minutes": 15,
                        },
                    )
                )
        options.append((0.3, "sim_badge", {"uid": self.rng.choice(UNKNOWN_UIDS)}))
        options.append((0.6, "sim_clock", {"advance_s": self.rng.choice((30, 120, 600))}))
        options.append((0.8, "sim_clock", {"advance_s": self.to_next_moment()}))
        weights = [w for w, _k, _p in options]
        _w, kind, payload = self.rng.choices(options, weights)[0]
        if kind == "sim_badge":
            self.last_uid = payload["uid"]
        return kind, payload

    def to_next_moment(self) -> int:
        """Seconds to a little after the next interesting moment of the day."""
        now = self.sim_now()
        later = [m for m in self.site.moments if m > now + timedelta(seconds=1)]
        target = later[0] if later else now + timedelta(hours=1)
        return max(1, round((target - now).total_seconds() + self.rng.uniform(1, 240)))

    def clear_of_boundaries(self, seconds: float) -> dict | None:
        """An advance past the next schedule release if one falls within ``seconds``."""
        now = self.sim_now()
        for moment in self.site.boundaries:
            if moment <= now - timedelta(seconds=2):
                continue
            if moment - now > timedelta(seconds=seconds):
                return None
            past = (moment - now).total_seconds() + self.rng.uniform(5, 60)
            return {"advance_s": max(1, round(past))}
        return None


class CrashRun:
    """Actions, SIGKILL, restart, checks: over and over on one site."""

    def __init__(
        self,
        site: Site,
        *,
        seed: int,
        zygote: Zygote | None,
        exec_every: int = 0,
        max_actions: int = 3,
        mid_command: float = 0.25,
    ):
        self.site = site
        self.rng = random.Random(seed)
        self.zygote = zygote
        self.exec_every = exec_every
        self.max_actions = max_actions
        self.mid_command = mid_command
        self.day = BusyDay(site, self.rng)
        self.figures = Figures()
        self.grants_seen: set[int] = set()

    def start(self) -> None:
        """The first start."""
        self._start()
        self.day.resync()

    def _start(self) -> float:
        use_exec = self.zygote is None or (
            self.exec_every and (self.site.starts + 1) % self.exec_every == 0
        )
        started = time.monotonic()
        self.site.start(None if use_exec else self.zygote)
        return time.monotonic() - started

    def cycle(self) -> None:
        """A few actions, a kill at a random moment, a restart, and every check."""
        site = self.site
        last: int | None = None
        last_kind = ""
        for _ in range(self.rng.randint(1, self.max_actions)):
            if last is not None:
                site.wait(lambda last=last: site.settled(last), f"command {last_kind}")
                self._note(last)
            last_kind, payload = self.day.next_action()
            last = site.command(last_kind, payload)
            self.figures.actions += 1
        # Commands that decide (grants, releases) are rarer: interrupt more of them.
        chance = self.mid_command if last_kind == "sim_slot" else 2 * self.mid_command
        half_done = last_kind in MID_COMMAND_KINDS and self.rng.random() < chance
        if half_done:
            # Killed while the last command may be half carried out: the new
            # daemon carries it out (once) if the old one had not committed it.
            time.sleep(self.rng.uniform(0, 0.02))
        else:
            site.wait(lambda: site.settled(last), f"command {last_kind}")
            self._note(last)
            # Keep schedule releases (shift ends, closing) away from the kill and
            # the watch after the restart, so any unlock there is the restart's.
            past = self.day.clear_of_boundaries(BOUNDARY_MARGIN_S)
            if past is not None:
                advance = site.command("sim_clock", past)
                site.wait(lambda: site.settled(advance), "the clock to move on")
                self._note(advance)
            time.sleep(self.rng.uniform(0, 0.25))
        self.kill_and_check(pending=(last, last_kind) if half_done else None)

    def _note(self, command_id: int) -> None:
        status, result = self.site.command_status(command_id)
        if status == "done" and "grant_id" in result:
            self.grants_seen.add(result["grant_id"])
        if status == "done" and "now" in result:
            self.day.anchor = (
                datetime.fromisoformat(result["now"]).astimezone(UTC),
                time.monotonic(),
            )

    def kill_and_check(self, pending: tuple[int, str] | None = None) -> None:
        """SIGKILL the daemon, restart it and check everything that must survive.

        ``pending`` is the ``(id, kind)`` of a command that may have been half
        carried out at the kill.
        """
        site = self.site
        before = site.events()
        site.kill()
        self.figures.kills += 1
        carried: tuple[int, str] | None = None
        if pending is not None:
            self.figures.mid_command_kills += 1
            if site.command_status(pending[0])[0] == "pending":
                carried = pending  # the new daemon will carry it out
                self.figures.carried_commands += 1
        world = site.world()
        unlocks = {n: s["unlock_count"] for n, s in world["slots"].items()}
        ready_s = self._start()
        watch_ends = time.monotonic() + WATCH_S
        self.figures.restarts += 1
        self.figures.exec_restarts = site.exec_starts
        self.figures.restart_s.append(ready_s)
        self.day.resync()
        if pending is None:
            # Nothing was left to do: the reconciled slots match the sensors at once.
            self.check_slots_match_world("at ready")
        self.check_log(before)
        time.sleep(max(0.0, watch_ends - time.monotonic()))
        if carried is not None:
            site.wait(lambda: site.settled(carried[0]), f"the half-done {carried[1]}")
            self._note(carried[0])
        self.check_unlocks_since_start(unlocks, carried)
        self.figures.unlock_watches += 1
        if pending is not None:
            site.wait(lambda: site.settled(pending[0]), "the half-done command")
            site.wait(self.slots_match_world, "the slots to match the sensors")
            self.check_slots_match_world("after the half-done command")
        self.check_decisions_once()

    def check_unlocks_since_start(
        self, unlocks: dict[int, int], carried: tuple[int, str] | None
    ) -> None:
        """The restarted daemon drove no lock open, but for a command left to it.

        A command the killed daemon had not committed is carried out by the new
        one; the unlock it logs (one, for its own reason) is the only one allowed,
        and the world must show exactly that.
        """
        allowed = UNLOCK_REASONS.get(carried[1], ()) if carried is not None else ()
        deadline = time.monotonic() + PATIENCE_S
        while True:
            logged = self.unlocks_logged_since_start()
            expected = dict(unlocks)
            for slot, _reason in logged:
                expected[slot] += 1
            after = {n: s["unlock_count"] for n, s in self.site.world()["slots"].items()}
            if after == expected or time.monotonic() > deadline:
                break
            time.sleep(0.01)  # the unlock is driven just after its log is committed
        unexplained = [(slot, reason) for slot, reason in logged if reason not in allowed]
        assert not unexplained and len(logged) <= 1, (
            f"the restarted daemon unlocked {logged} (left to it: {carried})"
        )
        assert after == expected, (
            f"the restart drove a lock open: {unlocks} -> {after}, logged {logged}"
        )

    def unlocks_logged_since_start(self) -> list[tuple[int, str]]:
        """``(slot, reason)`` of each ``slot.unlocked`` since the newest ``system.started``."""
        with self.site.connect() as conn:
            started = conn.execute(
                "SELECT max(id) FROM events WHERE kind = 'system.started'"
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT slot, details FROM events WHERE kind = 'slot.unlocked' AND id > ?",
                (started,),
            ).fetchall()
        return [(slot, json.loads(details).get("reason", "")) for slot, details in rows]

    def check_decisions_once(self) -> None:
        """Every command the daemon acknowledged is logged once: none lost, none doubled."""
        with self.site.connect() as conn:
            done = dict(
                conn.execute(
                    "SELECT kind, count(*) FROM commands WHERE status = 'done' GROUP BY kind"
                ).fetchall()
            )
            logged = dict(
                conn.execute(
                    "SELECT kind, count(*) FROM events WHERE kind IN "
                    "('grant.created', 'release.manager', 'visitor.signed_in') GROUP BY kind"
                ).fetchall()
            )
            grant_ids = [
                row[0]
                for row in conn.execute(
                    "SELECT json_extract(details, '$.grant_id') FROM events "
                    "WHERE kind = 'grant.created'"
                )
            ]
        assert len(grant_ids) == len(set(grant_ids)), "a grant was logged twice"
        missing = self.grants_seen - set(grant_ids)
        assert not missing, f"acknowledged grants missing from the log: {sorted(missing)}"
        assert logged.get("grant.created", 0) == done.get("grant", 0), (logged, done)
        assert logged.get("visitor.signed_in", 0) == done.get("visitor_in", 0), (logged, done)
        assert logged.get("release.manager", 0) == done.get("release_slot", 0) + done.get(
            "visitor_out", 0
        ), (logged, done)

    def slots_match_world(self) -> bool:
        """Whether the stored door and device columns equal the world's."""
        slots = self.site.slots()
        world = self.site.world()["slots"]
        return all(
            (bool(row["door_open"]), bool(row["device_present"]))
            == (world[n]["door_open"], world[n]["device_present"])
            for n, row in slots.items()
        )

    def check_slots_match_world(self, when: str) -> None:
        """The stored door and device columns equal the world's."""
        slots = self.site.slots()
        world = self.site.world()["slots"]
        for number, row in slots.items():
            stored = (bool(row["door_open"]), bool(row["device_present"]))
            physical = (world[number]["door_open"], world[number]["device_present"])
            assert stored == physical, (
                f"{when}: slot {number} is stored as (door_open, device_present) = {stored} "
                f"but the world shows {physical}"
            )
        self.figures.slot_checks += 1

    def check_log(self, before: dict[int, str]) -> None:
        """Integrity, the chain, and every event seen before the kill, unchanged."""
        with self.site.connect() as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with self.site.db.read() as session:
            report = verify(session)
        assert report.ok, f"the chain broke: event {report.first_bad_id}: {report.reason}"
        now = self.site.events()
        lost = sorted(set(before) - set(now))
        assert not lost, f"acknowledged events lost in the crash: {lost[:10]}"
        changed = sorted(i for i, digest in before.items() if now[i] != digest)
        assert not changed, f"acknowledged events changed by the crash: {changed[:10]}"
        self.figures.events_checked += len(before)

    def finish(self) -> None:
        """Stop the daemon politely and take the final figures."""
        self.site.stop()
        with self.site.db.read() as session:
            report = verify(session)
        assert report.ok, report.reason
        self.figures.final_events += len(self.site.events())
        with self.site.connect() as conn:
            rows = conn.execute("SELECT kind, slot, details FROM events ORDER BY id").fetchall()
        self.figures.repeated_alerts += repeated_alerts(rows)
        for kind, _slot, details in rows:
            self.figures.kinds[kind] += 1
            if kind == "slot.unlocked":
                self.figures.kinds["unlock:" + json.loads(details).get("reason", "")] += 1
            if kind == "alert.raised":
                self.figures.kinds["alert:" + json.loads(details).get("alert", "")] += 1
        start = datetime.fromisoformat(SIM_START).replace(tzinfo=LONDON)
        self.figures.sim_hours += (self.site.sim_now() - start).total_seconds() / 3600


def repeated_alerts(rows: list[tuple[str, int | None, str]]) -> int:
    """Alerts raised again after a restart for what an earlier one already said.

    ``overdue`` for the same slot and due time; ``door_left_open`` for a slot
    whose door has not closed since the last one.
    """
    seen_overdue: set[tuple] = set()
    door_alerted: set[int] = set()
    repeated = 0
    for kind, slot, details in rows:
        if kind == "door.closed":
            door_alerted.discard(slot)
        if kind != "alert.raised":
            continue
        data = json.loads(details)
        if data.get("alert") == "overdue":
            key = (slot, data.get("due"))
            repeated += key in seen_overdue
            seen_overdue.add(key)
        elif data.get("alert") == "door_left_open":
            repeated += slot in door_alerted
            door_alerted.add(slot)
    return repeated


def run_sites(
    root: Path,
    *,
    sites: int,
    cycles: int,
    seed: int,
    exec_every: int = 20,
    progress=None,
) -> Figures:
    """``sites`` sites side by side (in threads), ``cycles`` kills each; the figures.

    Every site starts its daemon from one zygote, except every
    ``exec_every``-th start, which runs the real ``locker daemon`` executable.
    The first failure is raised once every site has stopped.
    """
    zygote = Zygote()
    runs = []
    try:
        for n in range(sites):
            runs.append(
                CrashRun(
                    Site(root / f"site{n}"), seed=seed + n, zygote=zygote, exec_every=exec_every
                )
            )
        errors: list[BaseException] = []

        def drive(run: CrashRun) -> None:
            try:
                run.start()
                for done in range(cycles):
                    if errors:
                        return
                    run.cycle()
                    if progress is not None:
                        progress(run, done + 1)
                run.finish()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                errors.append(exc)

        threads = [threading.Thread(target=drive, args=(run,)) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    finally:
        for run in runs:
            run.site.dispose()
        zygote.close()
    figures = Figures()
    for run in runs:
        figures.add(run.figures)
    return figures
