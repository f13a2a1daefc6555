"""Tampering with the event log as an attacker would, and what catches it.

:func:`build_log` has the real controller write two days at the locker into a
database, with a daily checkpoint after each day (the "paper": the pair a daily
report prints) and some events after the newest one. The attacks then work on a
copy with the plain ``sqlite3`` module, behind the application's back:

- ``edit``: one byte of one column of one row (text as UTF-8 bytes; a byte
  that leaves invalid UTF-8 is stored as such), or an integer column changed;
- ``delete``: a run of rows (anywhere but only the tail after the newest
  checkpoint record: see :data:`TAIL_NOTE`);
- ``insert``: a forged row pushed in, the rows after it renumbered, chained to
  the row before it or not;
- ``reorder``: two rows swapped, or a run of rows rotated;
- ``rehash``: an edit covered by recomputing every hash after it;
- ``checkpoint``: a daily checkpoint row altered, deleted or forged;
- ``rewrite``: an edit, every hash after it recomputed *and* the checkpoints
  and their ``log.checkpoint`` records rewritten to match, so the database
  agrees with itself: only the printed checkpoint (the paper) shows it.

:func:`verify_cli` runs ``locker log verify`` (``--checkpoint ID:HASH`` holds the
log against the printed checkpoint) and :func:`matches_paper` does the same in
process.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import sqlite3
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import tomli_w
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from locker.clock import SimulatedClock
from locker.config import default_config_text
from locker.controller import Controller
from locker.db import Database, migrate
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, SensorReading
from locker.log import GENESIS_HASH, event_hash, paper_mismatch, verify, write_checkpoint
from locker.models import Command, Event
from locker.people import add_person
from locker.rota import set_shift
from tests.support.nursery import MONDAY, at, make_config

TAIL_NOTE = (
    "Deleting only events after the newest daily checkpoint's record leaves a chain that "
    "agrees with itself and with every checkpoint: nothing can show it until the next "
    "daily checkpoint (test_log.py: test_events_after_the_newest_checkpoint_rely_on_"
    "the_printed_head)."
)
TEXT_COLUMNS = ("ts", "kind", "actor", "details", "prev_hash", "hash")
INT_COLUMNS = ("slot", "person_id", "id")
KINDS = ("edit", "delete", "insert", "reorder", "rehash", "checkpoint", "rewrite")

STAFF = (
    ("Alice", "A1A1A1A1", "staff"),
    ("Bob", "B0B0B0B0", "staff"),
    ('Zoë "Z" O\'Brien', "C0C0C0C0", "staff"),
    ("Mary", "4D4D4D4D", "manager"),
)


@dataclass(frozen=True)
class Layout:
    """Where things are in the built log."""

    #: The newest event id.
    last_id: int
    #: Event ids named by daily checkpoints, oldest first.
    checkpointed: tuple[int, ...]
    #: The printed checkpoint: (event id, hash) of the newest daily checkpoint.
    paper: tuple[int, str]

    @property
    def covered(self) -> int:
        """The newest id a checkpoint vouches for: the newest checkpoint's record."""
        return self.checkpointed[-1] + 1


def build_log(path: Path) -> Layout:
    """Two days at the locker through the real controller, into a fresh database at ``path``."""
    work = path.with_name(path.stem + "-work.db")
    config = dataclasses.replace(make_config(), data_dir=str(path.parent))
    clock = SimulatedClock(at(MONDAY, "07:40"))
    db = Database(f"sqlite:///{work}")
    migrate(db.engine)
    ids = {}
    with db.write() as session:
        for day in (MONDAY, MONDAY + timedelta(days=1)):
            for name, uid, role in STAFF:
                if name not in ids:
                    person = add_person(
                        session, name, role=role, badge=uid, at=clock.now(), actor="test"
                    )
                    ids[name] = person.id
                set_shift(
                    session,
                    ids[name],
                    day,
                    at(day, "08:00"),
                    at(day, "16:00"),
                    [(at(day, "12:00"), at(day, "12:30"))],
                    at=clock.now(),
                    actor="test",
                )
        session.commit()
    sensors = {s.number: SensorReading(False, False) for s in config.slots}
    controller = Controller(config, db, clock)
    controller.start(sensors)
    checkpointed = []
    for day in (MONDAY, MONDAY + timedelta(days=1)):
        _a_day(controller, clock, db, day, ids)
        clock.advance((at(day + timedelta(days=1), "00:05") - clock.now()).total_seconds())
        controller.tick()
        with db.write() as session:
            checkpointed.append(write_checkpoint(session, clock.now()).event_id)
            session.commit()
        clock.advance(7 * 3600)
        controller.tick()
    # Events after the newest checkpoint: the day goes on.
    controller.handle(BadgeRead("A1A1A1A1"))
    controller.handle(BadgeRead("0BADCAFE"))
    with db.read() as session:
        last_id = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
        paper_hash = session.get(Event, checkpointed[-1]).hash
    db.dispose()
    conn = sqlite3.connect(work)
    conn.execute("VACUUM INTO ?", (str(path),))
    conn.close()
    for leftover in work.parent.glob(work.name + "*"):
        leftover.unlink()
    return Layout(last_id, tuple(checkpointed), (checkpointed[-1], paper_hash))


def _a_day(controller: Controller, clock: SimulatedClock, db: Database, day, ids) -> None:
    def go(hhmm: str) -> None:
        clock.advance(max(0.0, (at(day, hhmm) - clock.now()).total_seconds()))
        controller.tick()

    def use(slot: int, *, put: bool) -> None:
        controller.handle(DoorChanged(slot, True))
        controller.handle(DeviceChanged(slot, put))
        controller.handle(DoorChanged(slot, False))

    go("07:55")
    for number, (_name, uid, _role) in enumerate(STAFF, start=1):
        controller.handle(BadgeRead(uid))
        use(number, put=True)
    go("10:00")
    controller.handle(BadgeRead("A1A1A1A1"))  # refused: on shift
    controller.handle(BadgeRead("4D4D4D4D"))  # the manager approves on the spot
    use(1, put=False)
    go("10:20")
    controller.handle(BadgeRead("A1A1A1A1"))
    use(1, put=True)
    for unknown in ("0BADCAFE", "DEADBEEF", "12345678", "0BADCAFE", "DEADBEEF"):
        controller.handle(BadgeRead(unknown))
    with db.write() as session:
        command = Command(
            kind="grant",
            payload={
                "person_id": ids['Zoë "Z" O\'Brien'],
                "reason": "other",
                "note": "Home visit;\nback by 2 — «urgent»",
                "open_now": True,
                "return_minutes": 30,
            },
            account="mary",
            created_at=clock.now(),
        )
        session.add(command)
        session.commit()
        command_id = command.id
    go("11:00")
    controller.run_command(command_id)
    use(3, put=False)
    go("11:20")
    controller.handle(BadgeRead("C0C0C0C0"))
    use(3, put=True)
    go("12:05")
    controller.handle(BadgeRead("B0B0B0B0"))
    use(2, put=False)
    go("12:25")
    controller.handle(BadgeRead("B0B0B0B0"))
    use(2, put=True)
    go("16:01")
    for number in range(1, len(STAFF) + 1):
        controller.handle(DoorChanged(number, True))
        controller.handle(DeviceChanged(number, False))
        controller.handle(DoorChanged(number, False))
    go("18:45")


# ------------------------------------------------------------------- attacks


@dataclass(frozen=True)
class Tamper:
    """What an attack did: its kind, a description, and the ids the CLI may name."""

    kind: str
    what: str
    #: The first bad event verify may name is within ``lo..hi`` (None: any id).
    lo: int | None
    hi: int | None
    #: Only the printed checkpoint can show it: the database agrees with itself.
    paper_only: bool = False


def attack(conn: sqlite3.Connection, layout: Layout, kind: str, rng: random.Random) -> Tamper:
    """Carry out one attack of ``kind`` with choices from ``rng``; commit it."""
    tamper = ATTACKS[kind](conn, layout, rng)
    conn.commit()
    return tamper


def _row(conn: sqlite3.Connection, event_id: int) -> dict:
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
    conn.row_factory = None
    return dict(row)


def _edit(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    event_id = rng.randint(1, layout.last_id)
    column = rng.choice(TEXT_COLUMNS + INT_COLUMNS)
    row = _row(conn, event_id)
    if column in TEXT_COLUMNS:
        data = bytearray(row[column].encode("utf-8"))
        if not data or rng.random() < 0.1:
            data.insert(rng.randint(0, len(data)), rng.randrange(256))
        else:
            pos = rng.randrange(len(data))
            data[pos] = (data[pos] + rng.randint(1, 255)) % 256
        try:
            value: object = data.decode("utf-8")
            sql = f"UPDATE events SET {column} = ? WHERE id = ?"
        except UnicodeDecodeError:
            value = bytes(data)
            sql = f"UPDATE events SET {column} = CAST(? AS TEXT) WHERE id = ?"
        conn.execute(sql, (value, event_id))
        return Tamper("edit", f"byte edit of {column} in event {event_id}", event_id, event_id)
    if column == "id":
        new_id = rng.choice((layout.last_id + rng.randint(10, 10**6), -rng.randint(1, 10**6)))
        conn.execute("UPDATE events SET id = ? WHERE id = ?", (new_id, event_id))
        return Tamper("edit", f"event {event_id} renumbered {new_id}", None, None)
    old = row[column]
    new = rng.choice([None, rng.randint(-(2**63), 2**63 - 1), rng.randint(0, 9)])
    if new == old:
        new = 1 if old is None else None
    conn.execute(f"UPDATE events SET {column} = ? WHERE id = ?", (new, event_id))
    return Tamper("edit", f"{column} of event {event_id}: {old} -> {new}", event_id, event_id)


def _delete(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    first = rng.randint(1, layout.last_id)
    last = min(layout.last_id, first + rng.choice((0, 0, 0, 1, 2, 10, 100)))
    if first > layout.covered and last == layout.last_id:
        last = first if first < layout.last_id else last
        if first == layout.last_id:
            first = rng.randint(1, layout.covered)
            last = first
    conn.execute("DELETE FROM events WHERE id BETWEEN ? AND ?", (first, last))
    return Tamper("delete", f"events {first}..{last} deleted", first, first)


def _shift_up(conn: sqlite3.Connection, from_id: int) -> None:
    """Renumber events ``from_id`` on one higher (through negatives: the id is unique)."""
    conn.execute("UPDATE events SET id = -id - 1 WHERE id >= ?", (from_id,))
    conn.execute("UPDATE events SET id = -id WHERE id < 0")


def _insert(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    position = rng.randint(1, layout.last_id)
    model = _row(conn, rng.randint(1, layout.last_id))
    _shift_up(conn, position)
    prev = conn.execute("SELECT hash FROM events WHERE id = ?", (position - 1,)).fetchone()
    prev_hash = prev[0] if prev else GENESIS_HASH
    details = json.loads(model["details"])
    details["forged"] = True
    forged = {
        "id": position,
        "ts": model["ts"],
        "kind": rng.choice(("release.manager", "grant.created", "deposit.confirmed")),
        "actor": rng.choice(("mary", "Alice", "")),
        "slot": model["slot"],
        "person_id": model["person_id"],
        "details": json.dumps(details, sort_keys=True, separators=(",", ":")),
        "prev_hash": prev_hash,
    }
    chained = rng.random() < 0.7
    forged["hash"] = (
        event_hash(**{k: forged[k] for k in forged if k != "id"}, id=position)
        if chained
        else f"{rng.getrandbits(256):064x}"
    )
    columns = ", ".join(forged)
    marks = ", ".join("?" for _ in forged)
    conn.execute(f"INSERT INTO events ({columns}) VALUES ({marks})", tuple(forged.values()))
    how = "chained to the event before it" if chained else "with a made-up hash"
    return Tamper("insert", f"forged event inserted at {position}, {how}", position, position + 1)


_MOVABLE = "ts, kind, actor, slot, person_id, details, prev_hash, hash"


def _reorder(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    first = rng.randint(1, layout.last_id - 1)
    if rng.random() < 0.5:
        second = rng.randint(first + 1, layout.last_id)
        _swap(conn, first, second)
        return Tamper("reorder", f"events {first} and {second} swapped", first, first)
    last = min(layout.last_id, first + rng.randint(2, 12))
    rows = [
        conn.execute(f"SELECT {_MOVABLE} FROM events WHERE id = ?", (i,)).fetchone()
        for i in range(first, last + 1)
    ]
    rotated = rows[1:] + rows[:1]
    sets = ", ".join(f"{c.strip()} = ?" for c in _MOVABLE.split(","))
    for event_id, row in zip(range(first, last + 1), rotated, strict=True):
        conn.execute(f"UPDATE events SET {sets} WHERE id = ?", (*row, event_id))
    return Tamper("reorder", f"events {first}..{last} rotated", first, first)


def _swap(conn: sqlite3.Connection, first: int, second: int) -> None:
    a = conn.execute(f"SELECT {_MOVABLE} FROM events WHERE id = ?", (first,)).fetchone()
    b = conn.execute(f"SELECT {_MOVABLE} FROM events WHERE id = ?", (second,)).fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in _MOVABLE.split(","))
    conn.execute(f"UPDATE events SET {sets} WHERE id = ?", (*b, first))
    conn.execute(f"UPDATE events SET {sets} WHERE id = ?", (*a, second))


def rehash_from(conn: sqlite3.Connection, first_id: int) -> None:
    """Recompute every hash from ``first_id`` on, as someone covering an edit would."""
    prev = conn.execute("SELECT hash FROM events WHERE id = ?", (first_id - 1,)).fetchone()
    prev_hash = prev[0] if prev else GENESIS_HASH
    rows = conn.execute(
        "SELECT id, ts, kind, actor, slot, person_id, details FROM events"
        " WHERE id >= ? ORDER BY id",
        (first_id,),
    ).fetchall()
    for id_, ts, kind, actor, slot, person_id, details in rows:
        digest = event_hash(
            prev_hash=prev_hash,
            id=id_,
            ts=ts,
            kind=kind,
            actor=actor,
            slot=slot,
            person_id=person_id,
            details=details,
        )
        conn.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev_hash, digest, id_)
        )
        prev_hash = digest


def _plausible_edit(conn: sqlite3.Connection, event_id: int, rng: random.Random) -> str:
    """Change an event the way a person covering something up would: the actor or a detail."""
    row = _row(conn, event_id)
    if rng.random() < 0.5:
        conn.execute("UPDATE events SET actor = ? WHERE id = ?", (row["actor"] + "x", event_id))
        return f"actor of event {event_id}"
    details = json.loads(row["details"])
    details["note"] = "nothing happened"
    text = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    conn.execute("UPDATE events SET details = ? WHERE id = ?", (text, event_id))
    return f"details of event {event_id}"


def _rehash(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    # Below a checkpoint, so one of them disagrees.
    event_id = rng.randint(1, layout.checkpointed[-1])
    what = _plausible_edit(conn, event_id, rng)
    rehash_from(conn, event_id)
    watched = min(c for c in layout.checkpointed if c >= event_id)
    return Tamper("rehash", f"{what} edited, hashes recomputed", event_id, watched + 1)


def _checkpoint(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    target = rng.choice(layout.checkpointed)
    choice = rng.randrange(3)
    if choice == 0:
        conn.execute(
            "UPDATE checkpoints SET hash = ? WHERE kind = 'daily' AND event_id = ?",
            (f"{rng.getrandbits(256):064x}", target),
        )
        return Tamper("checkpoint", f"checkpoint of event {target} altered", target, target + 1)
    if choice == 1:
        conn.execute("DELETE FROM checkpoints WHERE kind = 'daily' AND event_id = ?", (target,))
        return Tamper("checkpoint", f"checkpoint of event {target} deleted", target, target + 1)
    forged_for = rng.choice([i for i in range(1, layout.last_id) if i not in layout.checkpointed])
    digest = conn.execute("SELECT hash FROM events WHERE id = ?", (forged_for,)).fetchone()[0]
    if rng.random() < 0.5:
        digest = f"{rng.getrandbits(256):064x}"
    conn.execute(
        "INSERT INTO checkpoints (kind, event_id, hash, created_at) VALUES (?, ?, ?, ?)",
        ("daily", forged_for, digest, "2026-01-05 23:59:00.000000"),
    )
    return Tamper(
        "checkpoint", f"checkpoint forged for event {forged_for}", forged_for, forged_for + 1
    )


def _rewrite(conn: sqlite3.Connection, layout: Layout, rng: random.Random) -> Tamper:
    """Edit, then rewrite the chain *and* every checkpoint after the edit to agree."""
    paper_id = layout.paper[0]
    event_id = rng.randint(1, paper_id)
    what = _plausible_edit(conn, event_id, rng)
    prev = conn.execute("SELECT hash FROM events WHERE id = ?", (event_id - 1,)).fetchone()
    prev_hash = prev[0] if prev else GENESIS_HASH
    rows = conn.execute(
        "SELECT id, ts, kind, actor, slot, person_id, details FROM events"
        " WHERE id >= ? ORDER BY id",
        (event_id,),
    ).fetchall()
    for id_, ts, kind, actor, slot, person_id, details in rows:
        if kind == "log.checkpoint":
            # The record of a checkpoint names the head before it: make it the new one.
            record = json.loads(details)
            record["hash"] = prev_hash
            details = json.dumps(record, sort_keys=True, separators=(",", ":"))
            conn.execute(
                "UPDATE checkpoints SET hash = ? WHERE kind = 'daily' AND event_id = ?",
                (prev_hash, id_ - 1),
            )
        digest = event_hash(
            prev_hash=prev_hash,
            id=id_,
            ts=ts,
            kind=kind,
            actor=actor,
            slot=slot,
            person_id=person_id,
            details=details,
        )
        conn.execute(
            "UPDATE events SET details = ?, prev_hash = ?, hash = ? WHERE id = ?",
            (details, prev_hash, digest, id_),
        )
        prev_hash = digest
    return Tamper(
        "rewrite",
        f"{what} edited; chain and checkpoints rewritten to agree",
        None,
        None,
        paper_only=True,
    )


ATTACKS = {
    "edit": _edit,
    "delete": _delete,
    "insert": _insert,
    "reorder": _reorder,
    "rehash": _rehash,
    "checkpoint": _checkpoint,
    "rewrite": _rewrite,
}


# -------------------------------------------------------------- detection


def matches_paper(session: Session, event_id: int, digest: str) -> bool:
    """True when the log verifies and still holds event ``event_id`` with hash ``digest``.

    ``(event_id, digest)`` is a daily checkpoint as printed on paper (the daily
    report): a chain rewritten below it, checkpoints included, no longer
    reaches that hash. The check is the product's own,
    :func:`locker.log.paper_mismatch`, which ``locker log verify --checkpoint
    ID:HASH`` runs.
    """
    return verify(session).ok and paper_mismatch(session, event_id, digest) is None


def write_config(folder: Path, db_path: Path) -> Path:
    """A config for the CLI whose database is ``db_path``."""
    raw = tomllib.loads(default_config_text(data_dir=str(folder)))
    raw["database_url"] = f"sqlite:///{db_path}"
    raw["hardware"]["backend"] = "simulated"
    path = folder / "config.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


_NAMED = re.compile(r"chain broken at event (-?\d+|None)")


@dataclass(frozen=True)
class CliVerdict:
    """What ``locker log verify`` said."""

    exit_code: int
    output: str

    @property
    def broken(self) -> bool:
        """Exit status 3: the chain is broken."""
        return self.exit_code == 3

    @property
    def named(self) -> int | None:
        """The event the CLI named as the first bad one."""
        match = _NAMED.search(self.output)
        if match is None or match[1] == "None":
            return None
        return int(match[1])


def verify_cli(config_path: Path, *options: str) -> CliVerdict:
    """Run ``locker --config CONFIG log verify [OPTIONS]`` (in process, through click)."""
    from locker_app.cli import main

    result = CliRunner().invoke(
        main, ["--config", str(config_path), "log", "verify", *options], catch_exceptions=False
    )
    return CliVerdict(result.exit_code, result.output)


def fresh_copy(template: Path, target: Path) -> None:
    """Put a clean copy of ``template`` at ``target`` (no WAL left from before)."""
    for leftover in target.parent.glob(target.name + "*"):
        leftover.unlink()
    target.write_bytes(template.read_bytes())
