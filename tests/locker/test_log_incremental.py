"""The nightly check from the last verified checkpoint (``verify_since_checkpoint``).

It walks only the events after the head that the newest ``log.verified``
record found sound, once the stored event there still carries that hash and
every event before it is still there; the whole chain is walked at least every
``FULL_EVERY``-th time. Tampering is done with plain ``sqlite3`` on the file,
as in ``tests/locker/test_log.py``, whose helpers these tests share.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from sqlalchemy import select

from locker import events
from locker.db import Database
from locker.log import (
    VerifyReport,
    append,
    last_whole_check,
    parse_ts,
    verified_entry,
    verify,
    verify_since_checkpoint,
)
from locker.log.verification import FULL_EVERY
from locker.models import Event
from tests.support.log_chain import (
    MINUTE,
    T0,
    add,
    attacker,
    checkpoint,
    purge,
    three_days,
)
from tests.support.tamper_kit import rehash_from


def nightly(database: Database, **options: int) -> VerifyReport:
    """The nightly check, recorded as the daemon records it (``log.verified``), a
    minute after the newest event."""
    with database.write() as session:
        found = verify_since_checkpoint(session, **options)
        newest = session.scalar(select(Event.ts).order_by(Event.id.desc()).limit(1))
        at = T0 if newest is None else parse_ts(newest) + MINUTE
        append(session, verified_entry(found, at), at)
        session.commit()
    return found


def whole(database: Database) -> VerifyReport:
    """The whole walk, as ``locker log verify`` does it."""
    with database.read() as session:
        return verify(session)


def since_checkpoint(database: Database, **options: int) -> VerifyReport:
    """The nightly check, not recorded."""
    with database.read() as session:
        return verify_since_checkpoint(session, **options)


def verified_then(database: Database, *tampering: str, more: int = 0) -> None:
    """Twenty events and a recorded nightly check (through event 20), ``more`` events
    after it, then ``tampering`` run on the file as an attacker would."""
    add(database, 20)
    nightly(database)
    if more:
        add(database, more, start=T0 + timedelta(hours=1))
    with attacker(database) as conn:
        for statement in tampering:
            conn.execute(statement)


def test_the_first_check_walks_the_whole_chain_and_the_next_resumes(db: Database) -> None:
    add(db, 20)
    first = nightly(db)
    assert first.ok and first.resumed_from is None and first.checked == 20
    add(db, 5, start=T0 + timedelta(hours=1))
    second = since_checkpoint(db)
    # Events 1-20 were vouched for by the first check; 21 (its record) to 26 walked now.
    assert second.ok, second.reason
    assert (second.resumed_from, second.head_id, second.checked) == (20, 26, 26)
    assert (second.head_id, second.head_hash) == (whole(db).head_id, whole(db).head_hash)


def test_the_record_says_where_the_walk_began(db: Database) -> None:
    add(db, 4)
    nightly(db)
    nightly(db)
    with db.read() as session:
        newest = last_whole_check(session)
        details = json.loads(session.get(Event, newest.event_id).details)
    assert details["resumed_from"] == 4
    assert newest.report is not None and newest.report.resumed_from == 4


def test_an_edit_after_the_checkpoint_is_named(db: Database) -> None:
    verified_then(db, "UPDATE events SET actor = 'someone else' WHERE id = 23", more=5)
    found = since_checkpoint(db)
    assert not found.ok and found.first_bad_id == 23 and found.resumed_from == 20
    assert "altered" in found.reason


def test_an_edit_before_the_checkpoint_is_left_to_the_weekly_whole_walk(db: Database) -> None:
    verified_then(db, "UPDATE events SET actor = 'someone else' WHERE id = 5")
    # The later hashes still hold, so the check from the checkpoint cannot see it...
    assert since_checkpoint(db).ok
    # ...the whole walk does, and the nightly check is one at least every FULL_EVERY-th night.
    assert whole(db).first_bad_id == 5
    reports = [nightly(db) for _ in range(FULL_EVERY)]
    assert [r.resumed_from is None for r in reports].count(True) == 1
    assert reports[-1].resumed_from is None and reports[-1].first_bad_id == 5
    # Once broken, no later check resumes from a checkpoint.
    assert since_checkpoint(db).resumed_from is None


def test_a_rehashed_past_no_longer_reaches_the_checkpoint(db: Database) -> None:
    verified_then(db, "UPDATE events SET actor = 'someone else' WHERE id = 5", more=3)
    with attacker(db) as conn:
        rehash_from(conn, 5)
    # With no daily checkpoint, the rewritten chain agrees with itself...
    assert whole(db).ok
    # ...but event 20 no longer carries the hash the last check found there.
    found = since_checkpoint(db)
    assert not found.ok and found.first_bad_id == 20
    assert "no longer carries the hash" in found.reason


def test_a_deleted_event_before_the_checkpoint_is_named_by_a_whole_walk(db: Database) -> None:
    verified_then(db, "DELETE FROM events WHERE id = 7")
    found = since_checkpoint(db)
    assert found.resumed_from is None and found.first_bad_id == 7


def test_every_seventh_check_walks_the_whole_chain(db: Database) -> None:
    add(db, 3)
    walks = [nightly(db).resumed_from is None for _ in range(2 * FULL_EVERY)]
    assert walks == ([True] + [False] * (FULL_EVERY - 1)) * 2
    assert [nightly(db, full_every=1).resumed_from for _ in range(2)] == [None, None]


def test_an_unreadable_record_is_no_checkpoint(db: Database) -> None:
    add(db, 5)
    nightly(db)
    with attacker(db) as conn:
        conn.execute(
            'UPDATE events SET details = \'{"ok": "yes"}\' WHERE kind = ?',
            (events.LOG_VERIFIED,),
        )
    found = since_checkpoint(db)
    assert found.resumed_from is None and found.first_bad_id == 6


def test_a_purge_before_the_checkpoint_keeps_it(db: Database) -> None:
    third_day = three_days(db)  # events 1-33, a checkpoint (and its record) each day
    nightly(db)  # vouches for 1-33
    assert purge(db, third_day) == 22
    found = since_checkpoint(db)
    # The chain now starts after event 22: 23-33 vouched for, 34 (the record) and 35 walked.
    assert found.ok, found.reason
    assert (found.resumed_from, found.checked, found.head_id) == (33, 13, 35)
    assert found.checked == whole(db).checked


def test_a_purge_past_the_checkpoint_walks_from_the_purge(db: Database) -> None:
    third_day = three_days(db)
    nightly(db)  # vouches for 1-33; its record is event 34, on the third day
    fourth_day = third_day + timedelta(days=1)
    add(db, 5, start=fourth_day + timedelta(hours=8))
    checkpoint(db, fourth_day + timedelta(hours=20))  # through event 39, recorded by 40
    assert since_checkpoint(db).resumed_from == 33
    # A purge cuts the chain at the newest daily checkpoint before its cutoff.
    assert purge(db, fourth_day + timedelta(days=1)) == 39
    found = since_checkpoint(db)
    assert found.ok, found.reason
    assert found.resumed_from is None
    assert found.checked == whole(db).checked == 2


def test_the_command_walks_from_the_checkpoint_only_when_asked(cli, tmp_path) -> None:
    """``locker log verify`` keeps its meaning for an inspector: the whole chain."""
    cli("staff", "add", "Ann", "--badge", "A1A1A1A1")
    database = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    try:
        through = nightly(database).head_id
    finally:
        database.dispose()
    cli("staff", "add", "Bea")
    resumed = cli("log", "verify", "--incremental")
    assert resumed.exit_code == 0, resumed.output
    assert f"walked from the checkpoint at event {through}" in resumed.output
    with sqlite3.connect(tmp_path / "locker.db") as conn:
        conn.execute("UPDATE events SET actor = 'someone else' WHERE id = 1")
    assert cli("log", "verify", "--incremental").exit_code == 0  # left to the weekly walk
    whole = cli("log", "verify")
    assert whole.exit_code == 3 and "chain broken at event 1" in whole.output
