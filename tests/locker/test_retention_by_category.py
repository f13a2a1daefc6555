"""Retention by category: the chain stays verifiable, personal data goes on time, holds win."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import event, select

from locker import events as ev
from locker import retention
from locker.config_retention import RetentionConfig
from locker.decisions import LogEntry
from locker.log import append, verify, write_checkpoint
from locker.models import Alert, Event, NotifyMessage, PersonalValue, Shift
from locker.people import add_person
from locker.privacy import set_hold
from locker.retention import apply_retention
from tests.support.nursery import make_config

DAY = 24 * 3600


def config(log_days=60, **days):
    return dataclasses.replace(
        make_config(), retention_days=log_days, retention=RetentionConfig(**days)
    )


def a_day(db, clock, person_id: int, note: str) -> None:
    """A login, a badge and a grant with a note, then the night's checkpoint."""
    with db.write() as session:
        append(
            session, LogEntry(ev.AUTH_LOGIN, "manager", details={"client": "10.0.0.1"}), clock.now()
        )
        append(
            session,
            LogEntry(ev.BADGE_GRANTED, "daemon", 1, person_id, {"uid": "A4B5C6D7"}),
            clock.now(),
        )
        append(
            session,
            LogEntry(ev.GRANT_CREATED, "manager", None, person_id, {"note": note}),
            clock.now(),
        )
        write_checkpoint(session, clock.now())
        session.commit()
    clock.advance(DAY)


def people(db, clock) -> tuple[int, int]:
    with db.write() as session:
        ann = add_person(session, "Ann Early", at=clock.now(), actor="cli:root").id
        bea = add_person(session, "Bea Later", at=clock.now(), actor="cli:root").id
        session.commit()
    return ann, bea


def retain(db, clock, cfg):
    with db.write() as session:
        done = apply_retention(session, cfg, clock.now(), "daemon")
        session.commit()
    return done


def kinds_left(db) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Event.kind).order_by(Event.id)))


def test_each_category_goes_after_its_own_period_and_the_chain_verifies(db, clock):
    ann, _bea = people(db, clock)
    for n in range(10):
        a_day(db, clock, ann, f"note {n}")
    clock.advance(35 * DAY)  # the first day is now 45 days old, the last 36
    done = retain(db, clock, config(log_days=30, custody_days=40, login_days=30))
    with db.read() as session:
        assert verify(session).ok
        first_kept = session.scalars(select(Event).order_by(Event.id)).first()
        # Days 0 to 4 (45 to 41 days old) are past 40 days: gone from the start of the
        # log; day 5's login is past 30 days, but the purge stops at its badge (40 days).
        assert first_kept.kind == ev.BADGE_GRANTED
        notes = set(
            session.scalars(select(PersonalValue.value).where(PersonalValue.field == "note"))
        )
        assert notes == {f"note {n}" for n in range(5, 10)}
    assert done.events == 2 + 5 * 4 + 1


def test_values_of_expired_events_go_even_while_the_events_stay(db, clock):
    ann, _bea = people(db, clock)
    for n in range(3):
        a_day(db, clock, ann, f"note {n}")
    clock.advance(20 * DAY)
    # The log is kept 60 days, but custody data 30: nothing can leave the chain
    # before the people's config.changed events (60 days), yet the notes must go.
    done = retain(db, clock, config(custody_days=30, login_days=7))
    assert done.events == 0
    clock.advance(10 * DAY)
    done = retain(db, clock, config(custody_days=30, login_days=7))
    assert done.events == 0
    with db.read() as session:
        assert verify(session).ok
        notes = set(
            session.scalars(select(PersonalValue.value).where(PersonalValue.field == "note"))
        )
        assert notes == set() and done.values >= 3


def test_a_hold_stops_the_purge_before_the_held_persons_first_event(db, clock):
    with db.write() as session:
        bea = add_person(session, "Bea Later", at=clock.now(), actor="cli:root").id
        session.commit()
    for n in range(5):
        a_day(db, clock, bea, f"bea {n}")
    with db.write() as session:
        ann = add_person(session, "Ann Early", at=clock.now(), actor="cli:root").id
        set_hold(session, ann, reason="allegation 2026-14", actor="cli:root", at=clock.now())
        session.commit()
    a_day(db, clock, ann, "ann's day")
    for n in range(5):
        a_day(db, clock, bea, f"bea later {n}")
    clock.advance(200 * DAY)
    done = retain(db, clock, config(custody_days=30, login_days=7))
    with db.read() as session:
        assert verify(session).ok
        first = session.scalars(select(Event).order_by(Event.id)).first()
        # The purge stopped before Ann's first event (her being added, before the hold).
        assert first.kind == ev.CONFIG_CHANGED and first.person_id == ann
        notes = set(
            session.scalars(select(PersonalValue.value).where(PersonalValue.field == "note"))
        )
        assert "ann's day" in notes and "allegation 2026-14" in notes
        assert not any(n.startswith("bea") for n in notes)
    assert done.events > 0
    with db.write() as session:
        set_hold(session, ann, reason="", actor="cli:root", at=clock.now(), release=True)
        session.commit()
    clock.advance(200 * DAY)
    retain(db, clock, config(custody_days=30, login_days=7))
    with db.read() as session:
        assert verify(session).ok
        assert ev.BADGE_GRANTED not in kinds_left(db)
        assert "ann's day" not in set(session.scalars(select(PersonalValue.value)))


def test_plain_tables_lose_old_rows_by_category_except_a_held_persons(db, clock):
    ann, bea = people(db, clock)
    start = clock.now()
    with db.write() as session:
        set_hold(session, ann, reason="inspection", actor="cli:root", at=start)
        for pid in (ann, bea):
            session.add(Shift(person_id=pid, day=start.date(), start=start, end=start))
            session.add(
                Alert(
                    alert=ev.ALERT_OVERDUE,
                    person_id=pid,
                    raised_at=start,
                    acknowledged_at=start,
                )
            )
        session.add(
            NotifyMessage(created_at=start, topic="test", next_attempt_at=start, finished_at=start)
        )
        session.commit()
    clock.advance(400 * DAY)
    done = retain(db, clock, config())
    assert {t: n for t, n in done.rows.items() if n} == {
        "shifts": 1,
        "alerts": 1,
        "notify_outbox": 1,
    }
    with db.read() as session:
        assert session.scalars(select(Shift.person_id)).all() == [ann]
        assert session.scalars(select(Alert.person_id)).all() == [ann]
        assert verify(session).ok


def test_a_backlog_goes_in_bounded_steps_each_leaving_the_chain_verifiable(db, clock, monkeypatch):
    """A step purges at most ``step`` events and looks at ``step`` × VALUES_PER_EVENT
    values (one each here, so the values take several steps too), says whether more is
    left and where the values go on, and the steps end where one pass in one go would."""
    monkeypatch.setattr(retention, "VALUES_PER_EVENT", 1)
    ann, _bea = people(db, clock)
    for n in range(12):
        a_day(db, clock, ann, f"note {n}")
    clock.advance(45 * DAY)
    cfg = config(log_days=30, custody_days=30, login_days=30)
    steps = []
    values_from = 0
    while True:
        with db.write() as session:
            done = apply_retention(
                session, cfg, clock.now(), "daemon", step=7, values_from=values_from
            )
            session.commit()
        steps.append(done)
        assert done.events <= 7 and done.values <= 7
        values_from = done.values_next or 0
        with db.read() as session:
            assert verify(session).ok
        if not done.more:
            break
    assert len(steps) >= 4  # 12 days of 4 events and their values: several steps
    assert sum(s.events for s in steps) >= 12 * 4
    with db.read() as session:
        assert session.scalar(select(PersonalValue.id).limit(1)) is None
    assert retain(db, clock, cfg).events == 0  # nothing left for a pass in one go


def test_a_step_reads_the_log_by_primary_key_only_to_erase_values(db, clock):
    """Erasing expired values looks each value's event up by its key. As a join,
    SQLite read every event of the expired kinds by their index instead (a
    second of CPU a step at a million events, for a handful of values)."""
    ann, _bea = people(db, clock)
    for n in range(3):
        a_day(db, clock, ann, f"note {n}")
    clock.advance(45 * DAY)
    sent: list[tuple[str, object]] = []

    def note(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "personal_values" in statement and statement.lstrip().upper().startswith("DELETE"):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.write() as session:
            apply_retention(session, config(log_days=400), clock.now(), "daemon", step=7)
            session.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert sent
    with db.engine.connect() as conn:
        for statement, parameters in sent:
            plan = [
                row[-1]
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            reads = [line for line in plan if re.match(r"(SCAN|SEARCH) events\b", line)]
            assert reads and all("USING INTEGER PRIMARY KEY" in line for line in reads), plan
