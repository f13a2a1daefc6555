"""The report and the log pages read by index, so they stay flat as the log grows.

Every SELECT a page sends is put to SQLite's ``EXPLAIN QUERY PLAN``: none may
scan a table that grows with the log (a ``SCAN`` of the table, rather than a
``SEARCH`` of an index or a scan of a covering index). ``bench/panel_scales.py``
measures the same pages at 10k, 1M and 10M events; this holds the plans that
make them flat without building ten million rows.
"""

from __future__ import annotations

import re

import pytest

from locker import events as ev
from locker.log import LogEntry, append
from locker.models import Custody, Slot
from tests.support.panel import MONDAY, at
from tests.support.sql import recorded_statements

#: Tables whose rows pile up with the years (the people, slots and accounts do not).
GROWING = ("events", "custody", "shifts", "breaks", "grants", "checkpoints", "alerts")
SCAN = re.compile(rf"^SCAN ({'|'.join(GROWING)})\b(?! USING COVERING INDEX)")


@pytest.fixture
def a_day(db, people, clock):
    """Monday's stays and events: a deposit, a release and a manager's grant."""
    with db.write() as session:
        if session.get(Slot, 1) is None:
            session.add_all(
                Slot(number=n, kind="staff", label=str(n), state="free", since=clock.now())
                for n in (1, 2)
            )
            session.flush()
        session.add_all(
            [
                Custody(slot_number=1, person_id=people["Alice"], deposited_at=at("08:01")),
                Custody(
                    slot_number=2,
                    person_id=people["Bob"],
                    deposited_at=at("08:02"),
                    ended_at=at("16:00"),
                    end_reason="shift_end",
                ),
            ]
        )
        for hhmm, kind, person in (
            ("08:01", ev.DEPOSIT_CONFIRMED, "Alice"),
            ("08:02", ev.DEPOSIT_CONFIRMED, "Bob"),
            ("10:00", ev.GRANT_CREATED, "Alice"),
            ("16:00", ev.RELEASE_SHIFT_END, "Bob"),
        ):
            append(session, LogEntry(kind, "test", 1, people[person], {}), at(hhmm))
        session.commit()


def plans_of(app, client, path: str) -> list[tuple[str, list[str]]]:
    """``(statement, plan lines)`` of every SELECT that ``GET path`` sends."""
    engine = app.extensions["locker_db"].engine
    with recorded_statements(engine) as recorded:
        response = client.get(path)
    sent = [(s, p) for s, p in recorded if s.lstrip().upper().startswith("SELECT")]
    assert response.status_code == 200, path
    plans = []
    with engine.connect() as conn:
        for statement, parameters in sent:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plans.append((statement, [row[-1] for row in rows]))
    return plans


@pytest.mark.parametrize(
    "path",
    [
        f"/report?day={MONDAY.isoformat()}",
        "/log/overrides",
        "/log/overrides?before_id=3",
        "/log",
        f"/log?day={MONDAY.isoformat()}",
    ],
)
def test_no_page_scans_a_table_that_grows_with_the_log(app, client, auth, a_day, path):
    auth.login()
    plans = plans_of(app, client, path)
    assert plans, "the page sent no SELECT"
    scans = [
        (statement.split("FROM", 1)[-1][:120], line)
        for statement, lines in plans
        for line in lines
        if SCAN.match(line) and not newest_rows(statement)
    ]
    assert scans == []


def newest_rows(statement: str) -> bool:
    """An unfiltered read of the newest rows (``ORDER BY ... LIMIT``): the scan stops
    after the limit, however long the table."""
    flat = " ".join(statement.split()).upper()
    return " WHERE " not in flat and " ORDER BY " in flat and " LIMIT " in flat
