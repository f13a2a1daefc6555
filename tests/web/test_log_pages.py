"""The event log, the override log and their exports: filters, paging, escaping, queries."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged
from locker.events import ALL_KINDS, OVERRIDE_KINDS
from locker.log import EXPORT_FIELDS, LogEntry, append
from locker.models import Event
from locker.people import add_person
from tests.support.panel import LONDON, MONDAY, at
from tests.support.sql import recorded_statements
from web import log as log_pages
from web import log_query, log_rows

ALICE, BOB, MARY = 1, 2, 3
#: A Monday in summer: local time is BST, an hour ahead of UTC.
JUNE_MONDAY = date(2026, 6, 15)
FORMULA_NAME = '=HYPERLINK("http://evil.example/?x","Click me")'
EVENT_ROW = re.compile(r'data-testid="event-(\d+)"')
OVERRIDE_ROW = re.compile(r'data-testid="override-(\d+)"')


def page_link(text: str, testid: str) -> str | None:
    """The address of the pager link ``testid`` on a page, if it has one."""
    match = re.search(rf'href="([^"]+)"[^>]*data-testid="{testid}"', text)
    return html.unescape(match.group(1)) if match else None


def log(db, kind: str, when, *, actor: str = "", slot=None, person_id=None, **details) -> int:
    """Append one event to the log; its id."""
    with db.write() as session:
        event = append(session, LogEntry(kind, actor, slot, person_id, details), when)
        session.commit()
        return event.id


def all_ids(db) -> list[int]:
    with db.read() as session:
        return list(session.scalars(select(Event.id).order_by(Event.id.desc())))


@pytest.fixture
def viewer(auth):
    auth.login("viewer")
    return auth


def shown(client, path: str, row=EVENT_ROW) -> list[int]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(i) for i in row.findall(response.get_data(as_text=True))]


# ---------------------------------------------------------------- the pages


def test_every_page_is_open_to_a_viewer_and_in_the_menu(client, viewer, people):
    for path in ("/log", "/log/overrides", "/report", "/log/export.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()
    text = client.get("/log").get_data(as_text=True)
    for testid in ("nav-log", "nav-overrides", "nav-report"):
        assert f'data-testid="{testid}"' in text
    assert 'aria-current="page">Log</a>' in text


def test_the_log_lists_events_newest_first_in_local_time_and_words(client, viewer, db, people):
    first = log(
        db,
        ev.BADGE_REFUSED,
        at("10:15", JUNE_MONDAY),
        actor="Alice",
        slot=1,
        person_id=ALICE,
        uid="A1A1A1A1",
        reason="on_shift",
        explanation="On shift and not on a break.",
    )
    second = log(
        db, ev.DOOR_OPENED, at("10:16", JUNE_MONDAY), slot=1, person_id=ALICE, forced=False
    )
    ids = shown(client, "/log")
    assert ids[:2] == [second, first]
    assert ids == sorted(ids, reverse=True)
    text = html.unescape(client.get("/log").get_data(as_text=True))
    row = text[text.index(f'data-testid="event-{first}"') :]
    row = row[: row.index("</tr>")]
    assert "Mon 15 Jun 2026, 10:15:00 BST" in row
    assert "Badge refused" in row and "badge.refused" in row
    assert "On shift and not on a break." in row and "on shift, not on a break" in row
    assert f'href="/log?person={ALICE}"' in row and ">Alice</a>" in row


def test_every_kind_of_the_spec_has_words(client):
    for kind in ALL_KINDS:
        assert log_rows.kind_text(kind) != kind, kind
    assert log_rows.kind_text("brand.new") == "Brand new"


def test_details_read_as_words():
    details = {
        "grant_id": 4,
        "reason": "emergency",
        "note": "child ill",
        "open_now": False,
        "return_minutes": 15,
        "valid_until": "2026-06-15T10:00:00+00:00",
        "client": "10.0.0.9",
        "unused": None,
    }
    text = log_rows.summarise(ev.GRANT_CREATED, details, LONDON, JUNE_MONDAY)
    assert text == (
        "grant: 4; reason: emergency; note: child ill; on their next badge; "
        "back within: 15 min; valid until: 11:00; from address: 10.0.0.9"
    )


# ------------------------------------------------------------------ filters


def test_the_person_filter(client, viewer, db, people):
    mine = log(db, ev.DEPOSIT_CONFIRMED, at("08:01"), slot=1, person_id=ALICE)
    log(db, ev.DEPOSIT_CONFIRMED, at("08:02"), slot=2, person_id=BOB)
    ids = shown(client, f"/log?person={ALICE}")
    assert mine in ids
    with db.read() as session:
        owners = set(session.scalars(select(Event.person_id).where(Event.id.in_(ids))))
    assert owners == {ALICE}
    text = client.get(f"/log?person={ALICE}").get_data(as_text=True)
    assert f'<option value="{ALICE}" selected>Alice</option>' in text


def test_the_kind_filter(client, viewer, db, people):
    wanted = log(db, ev.DOOR_OPENED, at("08:01"), slot=1)
    log(db, ev.DOOR_CLOSED, at("08:02"), slot=1)
    assert shown(client, "/log?kind=door.opened") == [wanted]
    assert shown(client, f"/log?kind=door.opened&person={ALICE}") == []


def test_the_day_filter_takes_the_local_day_in_summer_time(client, viewer, db, people):
    # 15 June in London runs from 23:00 UTC on the 14th to 23:00 UTC on the 15th.
    before = log(db, ev.AUTH_LOGIN, at("23:30", date(2026, 6, 14)), actor="x")
    first = log(db, ev.AUTH_LOGIN, at("00:30", JUNE_MONDAY), actor="x")
    last = log(db, ev.AUTH_LOGIN, at("23:59", JUNE_MONDAY), actor="x")
    after = log(db, ev.AUTH_LOGIN, at("00:00", date(2026, 6, 16)), actor="x")
    with db.read() as session:
        stamps = {e.id: e.ts for e in session.scalars(select(Event))}
    assert stamps[first].startswith("2026-06-14T23:30")
    assert stamps[after].startswith("2026-06-15T23:00")
    assert shown(client, "/log?day=2026-06-15") == [last, first]
    assert before in shown(client, "/log?day=2026-06-14")
    assert shown(client, "/log?day=2026-06-16") == [after]
    assert shown(client, "/log?day=2026-06-20") == []


def test_the_day_filter_in_winter(client, viewer, db, people):
    inside = log(db, ev.AUTH_LOGIN, at("00:00"), actor="x")
    log(db, ev.AUTH_LOGIN, at("00:00", MONDAY + timedelta(days=1)), actor="x")
    ids = shown(client, f"/log?day={MONDAY.isoformat()}")
    assert inside in ids and ids[0] == inside


@pytest.mark.parametrize(
    "query",
    [
        "kind=nonsense",
        "kind=<script>",
        "day=2026-13-01",
        "day=15/06/2026",
        "person=abc",
        "person=-1",
        "before_id=x",
        "before_id=5&after_id=2",
    ],
)
def test_a_bad_filter_is_named(client, viewer, people, query):
    response = client.get(f"/log?{query}")
    assert response.status_code == 400
    assert "<script>" not in response.get_data(as_text=True)


def test_the_override_log_only_takes_override_kinds(client, viewer, people):
    assert client.get("/log/overrides?kind=door.opened").status_code == 400
    assert client.get("/log/overrides?kind=grant.created").status_code == 200


# ------------------------------------------------------------------- paging


def walk(client, path: str, row=EVENT_ROW) -> tuple[list[list[int]], str | None]:
    """Follow the "Older" links from ``path``; each page's ids and the last page's text."""
    pages = []
    text = None
    while path:
        response = client.get(path)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        pages.append([int(i) for i in row.findall(text)])
        path = page_link(text, "page-older")
    return pages, text


def test_keyset_pages_cover_the_log_without_repeats_or_gaps(
    client, viewer, db, people, monkeypatch
):
    monkeypatch.setattr(log_query, "PAGE_SIZE", 3)
    for minute in range(10):
        log(db, ev.DOOR_OPENED, at(f"09:{minute:02d}"), slot=1)
    logged = all_ids(db)  # as the walk begins (viewing the log adds a data.viewed)
    pages, last_text = walk(client, "/log")
    assert all(len(p) == 3 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    assert [i for p in pages for i in p] == logged
    assert 'data-testid="page-older"' not in last_text
    # And back again with the "Newer" links, page for page.
    path = page_link(last_text, "page-newer")
    back = []
    while path:
        text = client.get(path).get_data(as_text=True)
        back.append([int(i) for i in EVENT_ROW.findall(text)])
        path = page_link(text, "page-newer")
    viewed = [i for i in all_ids(db) if i not in logged]  # the walk's own data.viewed
    assert len(viewed) == 1
    assert back == pages[-2::-1] + [viewed]


def test_a_page_boundary_holds_while_events_arrive(client, viewer, db, people, monkeypatch):
    monkeypatch.setattr(log_query, "PAGE_SIZE", 4)
    for minute in range(9):
        log(db, ev.DOOR_CLOSED, at(f"09:{minute:02d}"), slot=2)
    before = all_ids(db)
    text = client.get("/log").get_data(as_text=True)
    first = [int(i) for i in EVENT_ROW.findall(text)]
    newcomer = log(db, ev.DOOR_OPENED, at("09:30"), slot=2)
    rest, _ = walk(client, page_link(text, "page-older"))
    seen = first + [i for p in rest for i in p]
    assert seen == before
    assert newcomer not in seen
    assert shown(client, "/log")[0] == newcomer


def test_filtered_pages_with_several_kinds_merge_in_order(client, viewer, db, people, monkeypatch):
    monkeypatch.setattr(log_query, "PAGE_SIZE", 2)
    kinds = sorted(OVERRIDE_KINDS)
    wanted = []
    for n in range(7):
        wanted.append(
            log(
                db,
                kinds[n % len(kinds)],
                at(f"10:{n:02d}"),
                actor="manager",
                person_id=ALICE,
                reason="test",
            )
        )
        log(db, ev.DOOR_OPENED, at(f"10:{n:02d}"), slot=1, person_id=ALICE)
    pages, _ = walk(client, "/log/overrides", OVERRIDE_ROW)
    assert [i for p in pages for i in p] == wanted[::-1]
    pages, _ = walk(client, f"/log/overrides?person={ALICE}&day={MONDAY.isoformat()}", OVERRIDE_ROW)
    assert [i for p in pages for i in p] == wanted[::-1]


def test_a_day_page_reads_ranges_not_the_whole_table(client, viewer, db, people, app):
    """Each read of the events table is a range of an index, cut by LIMIT: no OFFSET, no COUNT."""
    for n in range(30):
        log(db, ev.DOOR_OPENED, at(f"09:{n:02d}"), slot=1, person_id=ALICE if n % 2 else BOB)
        log(db, ev.GRANT_CREATED, at(f"09:{n:02d}"), actor="manager", person_id=ALICE)
    engine = app.extensions["locker_db"].engine
    with recorded_statements(engine) as statements:
        deep = all_ids(db)[40]
        for path in (
            "/log",
            f"/log?before_id={deep}",
            f"/log?after_id={deep}",
            f"/log?person={ALICE}&before_id={deep}",
            "/log?kind=door.opened",
            f"/log?day={MONDAY.isoformat()}&before_id={deep}",
            f"/log?day={MONDAY.isoformat()}&person={ALICE}&kind=door.opened",
            f"/log/overrides?before_id={deep}",
            f"/log/overrides?day={MONDAY.isoformat()}",
        ):
            assert client.get(path).status_code == 200
    reads = [(s, p) for s, p in statements if "FROM events" in s]
    assert reads
    with engine.connect() as conn:
        for statement, parameters in reads:
            upper = statement.upper()
            assert "COUNT(" not in upper, statement
            if "OFFSET" in upper:
                # SQLAlchemy's SQLite dialect always writes OFFSET, as a bound 0.
                assert upper.endswith("OFFSET ?") and parameters[-1] == 0, statement
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            details = [row[-1] for row in plan]
            for detail in details:
                if detail.startswith("SCAN"):
                    # Only the unfiltered newest page walks the table itself: in id
                    # order, so it stops after LIMIT rows.
                    assert detail == "SCAN events" and "WHERE" not in upper, (statement, details)
                    assert "ORDER BY EVENTS.ID DESC" in upper and "LIMIT" in upper
            if "min(events.id)" not in statement:
                assert "LIMIT" in upper, statement
                assert not any("TEMP B-TREE" in d for d in details), (statement, details)


def test_the_compiled_page_statements_use_keyset_limits():
    flt = log_query.LogFilter(person_id=1, day=MONDAY, scope=OVERRIDE_KINDS)
    stmts = log_query.statements(flt, LONDON, lower=10, upper=500_000, newest_first=True, limit=51)
    assert len(stmts) == len(OVERRIDE_KINDS)
    for stmt in stmts:
        # The generic compiler writes OFFSET only when the statement has one.
        sql = str(stmt.compile(compile_kwargs={"literal_binds": True}))
        assert "OFFSET" not in sql and "LIMIT 51" in sql
        assert "events.id < 500000" in sql and "events.id > 10" in sql
        assert "ORDER BY events.id DESC" in sql
        assert "events.ts >= '2026-01-05T00:00:00.000000Z'" in sql


# ------------------------------------------------------------------- export


def test_the_csv_export_streams_with_formulas_defused(client, viewer, db, people, clock):
    with db.write() as session:
        odd = add_person(session, FORMULA_NAME, at=clock.now(), actor="test")
        session.commit()
        odd_id = odd.id
    log(
        db,
        ev.BADGE_GRANTED,
        at("08:00"),
        actor=FORMULA_NAME,
        slot=1,
        person_id=odd_id,
        uid="C0C0C0C0",
        action="deposit",
    )
    log(
        db,
        ev.GRANT_CREATED,
        at("08:05"),
        actor="+cmd",
        person_id=odd_id,
        note="+cmd",
        reason="other",
    )
    response = client.get("/log/export.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="locker-log.csv"'
    text = response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(EXPORT_FIELDS)
    assert [int(r[0]) for r in rows[1:]] == sorted(all_ids(db))
    actors = [r[3] for r in rows[1:]]
    assert "'" + FORMULA_NAME in actors and "'+cmd" in actors
    assert FORMULA_NAME not in actors
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    grant = next(r for r in rows if r[2] == ev.GRANT_CREATED)
    assert json.loads(grant[6])["note"] == "+cmd"


def test_the_jsonl_export_keeps_values_as_they_are(client, viewer, db, people):
    log(db, ev.BADGE_GRANTED, at("08:00"), actor=FORMULA_NAME, slot=1, person_id=ALICE)
    response = client.get("/log/export.csv?format=jsonl")
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="locker-log.jsonl"'
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [line["id"] for line in lines] == sorted(all_ids(db))
    assert lines[-1]["actor"] == FORMULA_NAME
    assert isinstance(lines[-1]["details"], dict)


def test_the_export_follows_the_filter(client, viewer, db, people):
    log(db, ev.GRANT_CREATED, at("09:00", JUNE_MONDAY), actor="manager", person_id=ALICE)
    mine = log(
        db,
        ev.RELEASE_MANAGER,
        at("00:30", JUNE_MONDAY),
        actor="manager",
        slot=1,
        person_id=ALICE,
        reason="x",
    )
    log(db, ev.DOOR_OPENED, at("09:01", JUNE_MONDAY), slot=1, person_id=ALICE)
    log(
        db,
        ev.RELEASE_MANAGER,
        at("09:02", JUNE_MONDAY),
        actor="manager",
        slot=2,
        person_id=BOB,
        reason="y",
    )
    response = client.get(
        f"/log/export.csv?format=jsonl&view=overrides&person={ALICE}&day=2026-06-15"
    )
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="locker-overrides-2026-06-15-person{ALICE}.jsonl"'
    )
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    # In log order, oldest first, whatever the times say.
    assert [line["kind"] for line in lines] == [ev.GRANT_CREATED, ev.RELEASE_MANAGER]
    assert lines[1]["id"] == mine
    response = client.get("/log/export.csv?kind=door.opened&day=2026-06-15")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [r[2] for r in rows[1:]] == [ev.DOOR_OPENED]
    empty = client.get("/log/export.csv?day=2030-01-01").get_data(as_text=True)
    assert empty.splitlines() == [",".join(rows[0])]


@pytest.mark.parametrize("query", ["format=xml", "view=secret", "kind=nope", "day=tomorrow"])
def test_a_bad_export_request_is_named(client, viewer, people, query):
    response = client.get(f"/log/export.csv?{query}")
    assert response.status_code == 400
    assert "Content-Disposition" not in response.headers


def test_the_log_export_links_keep_the_filter(client, viewer, people):
    text = html.unescape(client.get(f"/log/overrides?person={ALICE}&day=2026-06-15").data.decode())
    assert page_link(text, "export-csv") == (
        f"/log/export.csv?person={ALICE}&day=2026-06-15&view=overrides"
    )
    assert "format=jsonl" in page_link(text, "export-jsonl")


# ----------------------------------------------------------------- escaping


def test_names_and_details_are_escaped(client, viewer, db, people, clock):
    name = "<script>alert('x')</script>"
    with db.write() as session:
        person = add_person(session, name, at=clock.now(), actor="test")
        session.commit()
        pid = person.id
    log(
        db,
        ev.GRANT_CREATED,
        at("09:00"),
        actor=name,
        person_id=pid,
        note=name,
        reason="other",
        open_now=True,
    )
    for path in ("/log", "/log/overrides", f"/log?person={pid}"):
        text = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in text, path
        assert "&lt;script&gt;alert(" in text, path


# ------------------------------------------------------------ override log


def badge(daemon, uid: str) -> None:
    daemon.controller.handle(BadgeRead(uid))
    daemon.heartbeat()


def take_out(daemon, slot: int) -> None:
    """Somebody opens the released ``slot``, takes the device and shuts the door."""
    daemon.controller.handle(DoorChanged(slot, True))
    daemon.controller.handle(DeviceChanged(slot, False))
    daemon.controller.handle(DoorChanged(slot, False))
    daemon.heartbeat()


def test_the_override_log_shows_grants_and_approvals_on_the_spot(client, auth, daemon, db, token):
    daemon.deposit("A1A1A1A1", 1)
    daemon.deposit("B0B0B0B0", 2)
    daemon.advance(2 * 3600)  # 09:30, everybody on shift
    auth.login()
    response = auth.post_json(
        "/api/grants",
        {
            "person_id": ALICE,
            "reason": "emergency",
            "note": "+cmd call school",
            "open_now": True,
            "return_minutes": 15,
            "password": "manager-password",
        },
    )
    assert response.status_code == 200, response.json
    take_out(daemon, 1)
    badge(daemon, "B0B0B0B0")  # refused: on shift
    badge(daemon, "4D4D4D4D")  # Mary, a manager, within the approval window
    assert [e.kind for e in events_of(db, ev.APPROVAL_ON_THE_SPOT)]
    auth.logout()
    auth.login("viewer")
    text = html.unescape(client.get("/log/overrides").get_data(as_text=True))
    (created,) = events_of(db, ev.GRANT_CREATED)
    (used,) = events_of(db, ev.RELEASE_GRANT)
    (approval,) = events_of(db, ev.APPROVAL_ON_THE_SPOT)
    assert OVERRIDE_ROW.findall(text)[:3] == [str(approval.id), str(used.id), str(created.id)]

    row = section(text, f"override-{created.id}")
    assert "Release granted" in row and "emergency" in row
    assert "Note: +cmd call school" in row and "Opens at once" in row
    assert cell(row, f"override-{created.id}-by") == "manager"
    assert ">Alice</a>" in cell(row, f"override-{created.id}-for")
    assert cell(row, f"override-{created.id}-status") == "Used 09:30"
    assert "09:45" in row  # due back
    assert "127.0.0.1" in row

    row = section(text, f"override-{approval.id}")
    assert cell(row, f"override-{approval.id}-by") == "Mary"
    assert ">Bob</a>" in cell(row, f"override-{approval.id}-for")
    assert "Approved on the spot" in row and "slot" not in cell(row, f"override-{approval.id}-by")

    only = client.get("/log/overrides?kind=approval.on_the_spot").get_data(as_text=True)
    assert OVERRIDE_ROW.findall(only) == [str(approval.id)]


def test_the_override_log_shows_manager_releases_with_reason_and_address(
    client, auth, daemon, db, token
):
    daemon.deposit("A1A1A1A1", 1)
    daemon.deposit("B0B0B0B0", 2)
    headers = token("manager")
    response = client.post("/api/slots/1/release", json={"reason": "fire drill"}, headers=headers)
    assert response.status_code == 200, response.json
    daemon.controller.handle(DoorChanged(1, True))
    daemon.controller.handle(DoorChanged(1, False))
    response = client.post(
        "/api/release-all", json={"reason": "evacuation", "confirm": True}, headers=headers
    )
    assert response.status_code == 200, response.json
    auth.login("viewer")
    text = html.unescape(client.get("/log/overrides").get_data(as_text=True))
    (one,) = events_of(db, ev.RELEASE_MANAGER)
    (everything,) = events_of(db, ev.RELEASE_ALL)
    row = section(text, f"override-{one.id}")
    assert "fire drill" in row and "127.0.0.1" in row and ">Alice</a>" in row
    row = section(text, f"override-{everything.id}")
    assert "evacuation" in row and "Slots opened: 1, 2" in row and "Everybody" in row


def events_of(db, kind: str) -> list[Event]:
    with db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def section(text: str, testid: str) -> str:
    """The table row with data-testid ``testid``."""
    start = text.index(f'data-testid="{testid}"')
    return text[start : text.index("</tr>", start)]


def cell(row: str, testid: str) -> str:
    start = row.index(f'data-testid="{testid}">') + len(f'data-testid="{testid}">')
    return row[start : row.index("</td>", start)].strip()


def test_the_export_is_sent_a_batch_at_a_time(client, viewer, db, people, monkeypatch):
    monkeypatch.setattr(log_pages, "EXPORT_BATCH", 3)
    for minute in range(10):
        log(db, ev.DOOR_OPENED, at(f"09:{minute:02d}"), slot=1)
    total = len(all_ids(db))
    response = client.get("/log/export.csv")
    chunks = list(response.response)
    response.close()
    # The header, then one chunk per batch of three events.
    assert len(chunks) == 1 + math.ceil(total / 3)
    assert sum(chunk.count(b"\r\n") for chunk in chunks) == total + 1


def test_the_demo_log_marks_the_events_timed_by_real_time(client, viewer, daemon, db):
    login = log(db, ev.AUTH_LOGIN, at("09:00"), actor="viewer")
    door = log(db, ev.DOOR_OPENED, at("09:01"), slot=1)
    text = client.get("/log").get_data(as_text=True)
    assert 'data-testid="log-simulated"' in text
    assert f'data-testid="event-{login}-real-time"' in text
    assert f'data-testid="event-{door}-real-time"' not in text


def test_a_real_bank_marks_nothing(client, viewer, db):
    login = log(db, ev.AUTH_LOGIN, at("09:00"), actor="viewer")
    text = client.get("/log").get_data(as_text=True)
    assert 'data-testid="log-simulated"' not in text
    assert f'data-testid="event-{login}-real-time"' not in text


@pytest.mark.parametrize(
    ("kind", "details", "words"),
    [
        (ev.DATA_VIEWED, {"what": "api_events"}, "the log through the API"),
        (ev.DATA_VIEWED, {"what": "log_export"}, "a download of the log"),
        (ev.PERSON_EXPORTED, {"via": "cli"}, "via: on the command line"),
        # Another kind's "what" is already words, and stays as written.
        (ev.CONFIG_CHANGED, {"what": "person added"}, "person added"),
    ],
)
def test_the_access_logs_codes_are_in_words(kind, details, words):
    assert log_rows.summarise(kind, details, LONDON, MONDAY) == words
