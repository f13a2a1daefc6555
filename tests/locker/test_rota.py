"""The rota: parsing and validating the CSV, importing it, DST days and panel edits."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from locker import events
from locker.db import Database, migrate
from locker.errors import InvalidRequest, NotFound, RotaError
from locker.log.personal import shown_events
from locker.models import Break, Event, Person, Shift
from locker.rota import (
    NonexistentTime,
    day_bounds,
    end_shift_now,
    extend_shift,
    local_day,
    local_to_utc,
    set_shift,
    shift_for,
    shifts_on,
    start_break_now,
)
from locker.rota_file import HEADER, ShiftPlan, import_rota, parse_rota

TZ = ZoneInfo("Europe/London")
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HEADER_LINE = ",".join(HEADER)
# Ids as the fixture stores them; parse_rota only needs a name-to-id mapping.
PEOPLE = {"Alice Smith": 1, "Bob Jones": 2, "Carol O'Neill": 3}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rota(*rows: str) -> str:
    return "\n".join([HEADER_LINE, *rows]) + "\n"


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(RotaError) as caught:
        parse_rota(text, people_by_name=PEOPLE, tz=TZ)
    return caught.value.problems


def parse(text: str) -> list[ShiftPlan]:
    return parse_rota(text, people_by_name=PEOPLE, tz=TZ)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    migrate(database.engine)
    with database.write() as session:
        session.add_all(
            [
                Person(id=1, name="Alice Smith", role="staff", created_at=AT),
                Person(id=2, name="Bob Jones", role="staff", created_at=AT),
                Person(id=3, name="Carol O'Neill", role="manager", created_at=AT),
                Person(id=4, name="Dan Left", role="staff", active=False, created_at=AT),
            ]
        )
        session.commit()
    yield database
    database.dispose()


def run_import(db: Database, text: str, at: datetime = AT):
    with db.write() as session:
        result = import_rota(session, text, tz=TZ, at=at, actor="manager")
        session.commit()
    return result


def dump(db: Database) -> tuple[list, list, list]:
    """Every shift, break and event as plain tuples, to compare before and after."""
    with db.read() as session:
        shifts = session.execute(
            select(Shift.id, Shift.person_id, Shift.day, Shift.start, Shift.end).order_by(Shift.id)
        ).all()
        breaks = session.execute(
            select(Break.id, Break.shift_id, Break.start, Break.end).order_by(Break.id)
        ).all()
        logged = session.execute(
            select(Event.id, Event.kind, Event.details, Event.hash).order_by(Event.id)
        ).all()
    return [tuple(r) for r in shifts], [tuple(r) for r in breaks], [tuple(r) for r in logged]


def logged_events(db: Database) -> list[Event]:
    with db.read() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


# --- Parsing ------------------------------------------------------------------


def test_parse_converts_local_times_to_utc_on_summer_and_winter_days():
    plans = parse(
        rota(
            "2026-06-01,Alice Smith,08:00,16:00,14:00-14:15;12:00-12:30",
            "2026-01-05,Bob Jones,8:00,16:30,",
        )
    )
    assert plans == [
        ShiftPlan(
            1,
            date(2026, 6, 1),
            utc(2026, 6, 1, 7, 0),
            utc(2026, 6, 1, 15, 0),
            (
                (utc(2026, 6, 1, 11, 0), utc(2026, 6, 1, 11, 30)),
                (utc(2026, 6, 1, 13, 0), utc(2026, 6, 1, 13, 15)),
            ),
        ),
        ShiftPlan(2, date(2026, 1, 5), utc(2026, 1, 5, 8, 0), utc(2026, 1, 5, 16, 30), ()),
    ]


def test_parse_tolerates_bom_crlf_spaces_and_trailing_blank_lines():
    text = (
        "\ufeffdate , name,start,end, breaks\r\n"
        " 2026-06-01 , Alice Smith ,08:00 , 16:00 , 12:00 - 12:30 ; 14:00-14:15 \r\n"
        "\r\n"
        ",,,,\r\n"
    )
    [plan] = parse(text)
    assert plan.person_id == 1
    assert plan.start == utc(2026, 6, 1, 7, 0)
    assert plan.breaks == (
        (utc(2026, 6, 1, 11, 0), utc(2026, 6, 1, 11, 30)),
        (utc(2026, 6, 1, 13, 0), utc(2026, 6, 1, 13, 15)),
    )


def test_parse_reads_quoted_names():
    [plan] = parse(rota('2026-06-01,"Carol O\'Neill",08:00,16:00,'))
    assert plan.person_id == 3


def test_a_file_with_only_the_header_has_no_shifts():
    assert parse(HEADER_LINE) == []
    assert parse(HEADER_LINE + "\r\n") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("\ufeff", "the file is empty"),
        ("  \r\n\r\n", "the file is empty"),
        ("date,name,start,end\n", "must be the header date,name,start,end,breaks"),
        ("Day,Name,Start,End,Breaks\n", "not Day,Name,Start,End,Breaks"),
        ("2026-06-01,Alice Smith,08:00,16:00,\n", "must be the header"),
        ("\n" + HEADER_LINE + "\n", "the first line is blank"),
    ],
)
def test_a_missing_or_wrong_header_is_line_1(text, expected):
    [(line, reason)] = problems_of(text)
    assert line == 1
    assert expected in reason


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2026-06-01,Alice Smith,08:00,16:00", "expected 5 columns (date,name,start,end,breaks)"),
        ("2026-06-01,Alice Smith,08:00,16:00,,x", "found 6"),
        ("2026-13-01,Alice Smith,08:00,16:00,", "date '2026-13-01' is not a date"),
        ("2026-02-30,Alice Smith,08:00,16:00,", "date '2026-02-30' is not a date"),
        (
            "1 June 2026,Alice Smith,08:00,16:00,",
            "date '1 June 2026' is not a date as YYYY-MM-DD or DD",
        ),
        ("20260601,Alice Smith,08:00,16:00,", "date '20260601' is not a date"),
        ("2026-06-01,Alice Smyth,08:00,16:00,", "no active person is named 'Alice Smyth'"),
        ("2026-06-01,Alice,08:00,16:00,", "no active person is named 'Alice'"),
        ("2026-06-01,,08:00,16:00,", "the name is empty"),
        ("2026-06-01,Alice Smith,8am,16:00,", "start '8am' is not a time of day as HH:MM"),
        ("2026-06-01,Alice Smith,08:00,24:00,", "end '24:00' is not a time of day"),
        ("2026-06-01,Alice Smith,07:60,16:00,", "start '07:60' is not a time"),
        ("2026-06-01,Alice Smith,,16:00,", "start '' is not a time"),
        ("2026-06-01,Alice Smith,16:00,16:00,", "must end after it starts (overnight"),
        ("2026-06-01,Alice Smith,22:00,06:00,", "overnight shifts are not supported"),
        ("2026-06-01,Alice Smith,08:00,16:00,12:00", "break '12:00' is not HH:MM-HH:MM"),
        ("2026-06-01,Alice Smith,08:00,16:00,12:00-12:30;", "break '' is not HH:MM-HH:MM"),
        ("2026-06-01,Alice Smith,08:00,16:00,12:00-12:3x", "break '12:00-12:3x' end"),
        ("2026-06-01,Alice Smith,08:00,16:00,12:00-12:30-13:00", "is not HH:MM-HH:MM"),
        ("2026-06-01,Alice Smith,08:00,16:00,12:30-12:00", "break 12:30-12:00 must end after"),
        ("2026-06-01,Alice Smith,08:00,16:00,07:30-08:15", "break 07:30-08:15 is outside the"),
        ("2026-06-01,Alice Smith,08:00,16:00,15:45-16:30", "is outside the shift 08:00-16:00"),
        (
            "2026-06-01,Alice Smith,08:00,16:00,12:00-12:30;12:15-12:45",
            "breaks 12:00-12:30 and 12:15-12:45 overlap",
        ),
        (
            "2026-03-29,Alice Smith,01:30,05:00,",
            "01:30 does not exist on 2026-03-29 in Europe/London (the clocks go forward)",
        ),
        ("2026-03-29,Alice Smith,00:30,05:00,01:15-01:45", "01:15 does not exist on 2026-03-29"),
    ],
)
def test_each_bad_row_is_named_with_its_reason(row, expected):
    [(line, reason)] = problems_of(rota("2026-06-02,Bob Jones,08:00,16:00,", row))
    assert line == 3
    assert expected in reason


def test_touching_breaks_and_breaks_at_the_shift_edges_are_fine():
    [plan] = parse(rota("2026-06-01,Alice Smith,08:00,16:00,08:00-08:30;08:30-09:00;15:30-16:00"))
    assert len(plan.breaks) == 3


def test_the_same_person_twice_on_one_day_names_the_first_line():
    found = problems_of(
        rota(
            "2026-06-01,Alice Smith,08:00,12:00,",
            "2026-06-01,Bob Jones,08:00,12:00,",
            "2026-06-01,Alice Smith,13:00,16:00,",
        )
    )
    assert found == [(4, "Alice Smith is already on 2026-06-01 at line 2")]


def test_every_bad_row_is_listed_with_its_line_number_and_every_reason():
    text = rota(
        "2026-06-01,Alice Smith,08:00,16:00,",
        "2026-06-01,Nobody,08:00,16:00,",
        "",
        "2026-06-02,Alice Smith,08:00,16:00,",
        "2026-06-31,Bob Jones,8am,16:00,noon",
        '"2026-06-03","Carol O\'Neill",09:00,17:00,',
        "2026-06-04,Bob Jones,09:00",
    )
    found = problems_of(text)
    assert [line for line, _ in found] == [3, 6, 8]
    reasons = dict(found)
    assert reasons[3] == "no active person is named 'Nobody'"
    # A row with several faults lists them all, not only the first.
    assert "date '2026-06-31'" in reasons[6]
    assert "start '8am'" in reasons[6]
    assert "break 'noon'" in reasons[6]
    assert "found 3" in reasons[8]


def test_a_quoted_cell_over_two_lines_keeps_later_line_numbers_right():
    text = rota('2026-06-01,"Alice\nSmyth",08:00,16:00,', "2026-06-02,Nobody,08:00,16:00,")
    found = problems_of(text)
    assert [line for line, _ in found] == [2, 4]


def test_the_error_message_says_nothing_changed():
    with pytest.raises(RotaError, match=r"rota rejected, nothing changed \(1 bad row\): line 2"):
        parse(rota("2026-06-01,Nobody,08:00,16:00,"))


# --- Daylight saving ------------------------------------------------------------


def test_spring_forward_shift_across_the_gap_is_two_hours():
    [plan] = parse(rota("2026-03-29,Alice Smith,00:30,03:30,"))
    assert plan.start == utc(2026, 3, 29, 0, 30)
    assert plan.end == utc(2026, 3, 29, 2, 30)
    assert plan.end - plan.start == timedelta(hours=2)


def test_fall_back_shift_across_the_repeated_hour_is_four_hours():
    [plan] = parse(rota("2026-10-25,Alice Smith,00:30,03:30,"))
    assert plan.start == utc(2026, 10, 24, 23, 30)
    assert plan.end == utc(2026, 10, 25, 3, 30)
    assert plan.end - plan.start == timedelta(hours=4)


def test_an_ambiguous_time_takes_its_first_occurrence():
    [plan] = parse(rota("2026-10-25,Alice Smith,01:30,05:00,01:40-01:50"))
    # 01:30 happens twice; the first is still on summer time (UTC+1).
    assert plan.start == utc(2026, 10, 25, 0, 30)
    assert plan.breaks == ((utc(2026, 10, 25, 0, 40), utc(2026, 10, 25, 0, 50)),)


def test_local_to_utc_refuses_a_time_the_clocks_skip():
    for skipped in (time(1, 0), time(1, 59)):
        with pytest.raises(NonexistentTime, match=f"{skipped:%H:%M} does not exist"):
            local_to_utc(date(2026, 3, 29), skipped, TZ)
    assert local_to_utc(date(2026, 3, 29), time(0, 59), TZ) == utc(2026, 3, 29, 0, 59)
    assert local_to_utc(date(2026, 3, 29), time(2, 0), TZ) == utc(2026, 3, 29, 1, 0)
    assert local_to_utc(date(2026, 6, 1), time(8, 0), TZ) == utc(2026, 6, 1, 7, 0)


@pytest.mark.parametrize(
    ("day", "hours", "start"),
    [
        (date(2026, 3, 29), 23, utc(2026, 3, 29, 0, 0)),
        (date(2026, 6, 1), 24, utc(2026, 5, 31, 23, 0)),
        (date(2026, 1, 5), 24, utc(2026, 1, 5, 0, 0)),
        (date(2026, 10, 25), 25, utc(2026, 10, 24, 23, 0)),
    ],
)
def test_day_bounds_are_23_24_or_25_hours(day, hours, start):
    first, last = day_bounds(day, TZ)
    assert first == start
    assert last - first == timedelta(hours=hours)
    assert last == day_bounds(day + timedelta(days=1), TZ)[0]


def test_local_day_follows_the_site_time_zone():
    assert local_day(utc(2026, 6, 1, 23, 30), TZ) == date(2026, 6, 2)
    assert local_day(utc(2026, 1, 1, 23, 30), TZ) == date(2026, 1, 1)
    assert local_day(utc(2026, 10, 25, 23, 59), TZ) == date(2026, 10, 25)
    with pytest.raises(ValueError, match="no time zone"):
        local_day(datetime(2026, 6, 1, 12, 0), TZ)


# --- Import ---------------------------------------------------------------------

WEEK = rota(
    "2026-06-01,Alice Smith,08:00,16:00,12:00-12:30",
    "2026-06-01,Bob Jones,09:00,17:00,12:30-13:00;15:00-15:15",
    "2026-06-02,Alice Smith,08:00,16:00,",
    "2026-06-03,Carol O'Neill,07:30,15:30,11:00-11:30",
)


def test_import_stores_shifts_and_logs_one_config_change(db):
    result = run_import(db, WEEK)
    assert (result.added, result.changed, result.unchanged) == (4, 0, 0)
    assert (result.first_day, result.last_day) == (date(2026, 6, 1), date(2026, 6, 3))

    with db.read() as session:
        monday = shifts_on(session, date(2026, 6, 1))
        assert [(s.person_id, s.start) for s in monday] == [
            (1, utc(2026, 6, 1, 7, 0)),
            (2, utc(2026, 6, 1, 8, 0)),
        ]
        assert [(b.start, b.end) for b in monday[1].breaks] == [
            (utc(2026, 6, 1, 11, 30), utc(2026, 6, 1, 12, 0)),
            (utc(2026, 6, 1, 14, 0), utc(2026, 6, 1, 14, 15)),
        ]
        tuesday = shift_for(session, 1, date(2026, 6, 2))
        assert tuesday is not None and tuesday.breaks == []
        assert shift_for(session, 2, date(2026, 6, 2)) is None

    [event] = logged_events(db)
    assert event.kind == events.CONFIG_CHANGED
    assert event.actor == "manager"
    assert json.loads(event.details) == {
        "what": "rota",
        "added": 4,
        "changed": 0,
        "unchanged": 0,
        "days": ["2026-06-01", "2026-06-03"],
    }


def test_importing_the_same_file_twice_changes_nothing(db):
    run_import(db, WEEK)
    before = dump(db)
    # Same rows, written differently: the comparison is on times, not text.
    again = WEEK.replace("\n", "\r\n").replace(",08:00,", ", 8:00 ,")
    result = run_import(db, "\ufeff" + again, at=AT + timedelta(hours=1))
    assert (result.added, result.changed, result.unchanged) == (0, 0, 4)
    assert not result.changed_anything
    assert dump(db) == before


def test_import_replaces_changed_shifts_and_leaves_others_alone(db):
    run_import(db, WEEK)
    shifts_before, breaks_before, _ = dump(db)
    revised = rota(
        "2026-06-01,Alice Smith,08:00,17:00,12:00-12:30",  # later end, same break
        "2026-06-01,Bob Jones,09:00,17:00,13:00-13:30",  # breaks replaced
        "2026-06-03,Carol O'Neill,07:30,15:30,11:00-11:30",  # identical
        "2026-06-04,Alice Smith,08:00,16:00,",  # new
    )
    result = run_import(db, revised, at=AT + timedelta(days=1))
    assert (result.added, result.changed, result.unchanged) == (1, 2, 1)

    with db.read() as session:
        alice = shift_for(session, 1, date(2026, 6, 1))
        assert alice.end == utc(2026, 6, 1, 16, 0)
        bob = shift_for(session, 2, date(2026, 6, 1))
        assert [(b.start, b.end) for b in bob.breaks] == [
            (utc(2026, 6, 1, 12, 0), utc(2026, 6, 1, 12, 30))
        ]
        # Not in the revised file, so not touched.
        assert shift_for(session, 1, date(2026, 6, 2)) is not None
        assert shift_for(session, 1, date(2026, 6, 4)) is not None
        # Bob's old breaks are gone, not left dangling.
        break_count = len(session.scalars(select(Break)).all())
    assert break_count == len(breaks_before) - 2 + 1
    # The identical shift kept its row and its break rows.
    shifts_after, breaks_after, _ = dump(db)
    carol_before = next(row for row in shifts_before if row[1] == 3)
    assert carol_before in shifts_after
    assert [b for b in breaks_before if b[1] == carol_before[0]] == [
        b for b in breaks_after if b[1] == carol_before[0]
    ]

    last = logged_events(db)[-1]
    assert json.loads(last.details) == {
        "what": "rota",
        "added": 1,
        "changed": 2,
        "unchanged": 1,
        "days": ["2026-06-01", "2026-06-04"],
    }
    assert len(logged_events(db)) == 2


def test_a_file_with_one_bad_row_changes_nothing(db):
    run_import(db, WEEK)
    before = dump(db)
    text = rota(
        "2026-06-01,Alice Smith,06:00,18:00,",
        "2026-06-05,Bob Jones,08:00,16:00,",
        "2026-06-05,Alice Smith,08:00,16:00,12:00-13:00;12:30-12:45",
        "2026-06-06,Bob Jones,08:00,16:00,",
    )
    with db.write() as session:
        with pytest.raises(RotaError) as caught:
            import_rota(session, text, tz=TZ, at=AT, actor="manager")
        assert not session.new and not session.dirty and not session.deleted
        session.commit()
    assert caught.value.problems == [(4, "breaks 12:00-13:00 and 12:30-12:45 overlap")]
    assert dump(db) == before


def test_import_knows_only_active_people(db):
    with pytest.raises(RotaError) as caught:
        run_import(db, rota("2026-06-01,Dan Left,08:00,16:00,"))
    assert caught.value.problems == [(2, "no active person is named 'Dan Left'")]
    assert dump(db) == ([], [], [])


def test_importing_a_header_only_file_logs_nothing(db):
    result = run_import(db, HEADER_LINE + "\n")
    assert result.first_day is None and not result.changed_anything
    assert dump(db) == ([], [], [])


# --- Panel edits ------------------------------------------------------------------

DAY = date(2026, 6, 1)
START, END = utc(2026, 6, 1, 7, 0), utc(2026, 6, 1, 15, 0)
LUNCH = (utc(2026, 6, 1, 11, 0), utc(2026, 6, 1, 11, 30))
TEA = (utc(2026, 6, 1, 13, 0), utc(2026, 6, 1, 13, 15))


def edit(db: Database, change, *args, **kwargs):
    """Run one panel edit in a write session and commit it."""
    with db.write() as session:
        result = change(session, *args, actor="manager", **kwargs)
        session.commit()
    return result


def with_shift(db: Database) -> None:
    edit(db, set_shift, 1, DAY, START, END, [TEA, LUNCH], at=AT)


def last_details(db: Database) -> tuple[str, dict]:
    """The newest event's kind and details as read (personal values resolved)."""
    event = logged_events(db)[-1]
    with db.read() as session:
        (shown,) = shown_events(session, [event])
    return event.kind, json.loads(shown.details)


def test_set_shift_creates_and_logs_old_and_new_times(db):
    edit(db, set_shift, 1, DAY, START, END, [TEA, LUNCH], at=AT, client="192.0.2.7")
    kind, details = last_details(db)
    assert kind == events.SHIFT_CHANGED
    assert details == {
        "action": "set",
        "day": "2026-06-01",
        "old": None,
        "new": {
            "start": "2026-06-01T07:00:00+00:00",
            "end": "2026-06-01T15:00:00+00:00",
            "breaks": [
                ["2026-06-01T11:00:00+00:00", "2026-06-01T11:30:00+00:00"],
                ["2026-06-01T13:00:00+00:00", "2026-06-01T13:15:00+00:00"],
            ],
        },
        "client": "192.0.2.7",
    }
    with db.read() as session:
        shift = shift_for(session, 1, DAY)
        assert [(b.start, b.end) for b in shift.breaks] == [LUNCH, TEA]


def test_set_shift_replaces_and_skips_a_change_to_the_same_times(db):
    with_shift(db)
    edit(db, set_shift, 1, DAY, START, END + timedelta(hours=1), [LUNCH], at=AT)
    kind, details = last_details(db)
    assert details["old"]["end"] == "2026-06-01T15:00:00+00:00"
    assert details["new"]["end"] == "2026-06-01T16:00:00+00:00"
    assert len(details["new"]["breaks"]) == 1
    before = dump(db)
    edit(db, set_shift, 1, DAY, START, END + timedelta(hours=1), [LUNCH], at=AT)
    assert dump(db) == before


@pytest.mark.parametrize(
    ("start", "end", "breaks", "expected"),
    [
        (END, START, [], "must end after it starts"),
        (START, START, [], "must end after it starts"),
        (START, END, [(utc(2026, 6, 1, 6, 0), utc(2026, 6, 1, 7, 30))], "outside the shift"),
        (START, END, [LUNCH, (utc(2026, 6, 1, 11, 15), TEA[1])], "overlap"),
        (START, END, [(LUNCH[1], LUNCH[0])], "must end after it starts"),
        (datetime(2026, 6, 1, 8, 0), END, [], "no time zone"),
    ],
)
def test_set_shift_refuses_times_that_do_not_fit(db, start, end, breaks, expected):
    with pytest.raises(InvalidRequest, match=expected):
        edit(db, set_shift, 1, DAY, start, end, breaks, at=AT)
    assert dump(db) == ([], [], [])


def test_panel_edits_name_an_unknown_person(db):
    with pytest.raises(NotFound, match="no person with id 99"):
        edit(db, set_shift, 99, DAY, START, END, [], at=AT)
    with pytest.raises(NotFound, match="no person with id 99"):
        edit(db, end_shift_now, 99, START)


def test_start_break_now_adds_a_break_and_logs_it(db):
    with_shift(db)
    now = utc(2026, 6, 1, 9, 10)
    edit(db, start_break_now, 1, now, 15)
    kind, details = last_details(db)
    assert kind == events.BREAK_STARTED
    assert details["break"] == ["2026-06-01T09:10:00+00:00", "2026-06-01T09:25:00+00:00"]
    assert details["minutes"] == 15
    assert len(details["old"]["breaks"]) == 2 and len(details["new"]["breaks"]) == 3
    with db.read() as session:
        shift = shift_for(session, 1, DAY)
        assert (now, now + timedelta(minutes=15)) in [(b.start, b.end) for b in shift.breaks]


@pytest.mark.parametrize(
    ("now", "minutes", "expected"),
    [
        (utc(2026, 6, 1, 6, 0), 15, "not on shift"),
        (utc(2026, 6, 1, 15, 0), 15, "not on shift"),
        (utc(2026, 6, 1, 14, 50), 15, "run past the end of the shift"),
        (utc(2026, 6, 1, 10, 50), 15, "overlap the break"),
        (utc(2026, 6, 1, 11, 10), 5, "overlap the break"),
        (utc(2026, 6, 1, 9, 0), 0, "above 0"),
        (utc(2026, 6, 1, 9, 0), 1.5, "whole number"),
    ],
)
def test_start_break_now_refuses(db, now, minutes, expected):
    with_shift(db)
    before = dump(db)
    with pytest.raises(InvalidRequest, match=expected):
        edit(db, start_break_now, 1, now, minutes)
    assert dump(db) == before


def test_extend_shift_moves_the_end_later(db):
    with_shift(db)
    edit(db, extend_shift, 1, DAY, END + timedelta(minutes=45), at=AT)
    kind, details = last_details(db)
    assert (kind, details["action"]) == (events.SHIFT_CHANGED, "extend")
    assert (details["old"]["end"], details["new"]["end"]) == (
        "2026-06-01T15:00:00+00:00",
        "2026-06-01T15:45:00+00:00",
    )
    with db.read() as session:
        assert shift_for(session, 1, DAY).end == END + timedelta(minutes=45)


def test_extend_shift_refuses_an_earlier_end_or_a_missing_shift(db):
    with_shift(db)
    with pytest.raises(InvalidRequest, match="not after the shift's end"):
        edit(db, extend_shift, 1, DAY, END - timedelta(minutes=1), at=AT)
    with pytest.raises(NotFound, match="person 2 has no shift on 2026-06-01"):
        edit(db, extend_shift, 2, DAY, END, at=AT)


def test_end_shift_now_cuts_a_break_under_way_and_drops_later_ones(db):
    with_shift(db)
    now = utc(2026, 6, 1, 11, 10)
    edit(db, end_shift_now, 1, now)
    with db.read() as session:
        shift = shift_for(session, 1, DAY)
        assert shift.end == now
        assert [(b.start, b.end) for b in shift.breaks] == [(LUNCH[0], now)]
        assert len(session.scalars(select(Break)).all()) == 1
    kind, details = last_details(db)
    assert (kind, details["action"]) == (events.SHIFT_CHANGED, "end_now")
    assert details["new"]["end"] == "2026-06-01T11:10:00+00:00"
    assert len(details["old"]["breaks"]) == 2


def test_end_shift_now_refuses_when_not_on_shift(db):
    with_shift(db)
    for now in (START, END, utc(2026, 6, 1, 20, 0)):
        with pytest.raises(InvalidRequest, match="not part-way through a shift"):
            edit(db, end_shift_now, 1, now)


# --- Property: valid rows round-trip -------------------------------------------------

NAMES = sorted(PEOPLE)
DST_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]


def exists(day: date, minute: int) -> bool:
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    return wall.replace(tzinfo=TZ).astimezone(UTC).astimezone(TZ).replace(tzinfo=None) == wall


@st.composite
def rows(draw):
    day = draw(st.one_of(st.sampled_from(DST_DAYS), st.dates(date(2025, 1, 1), date(2028, 12, 31))))
    name = draw(st.sampled_from(NAMES))
    points = draw(st.lists(st.integers(0, 24 * 60 - 1), min_size=2, max_size=8, unique=True))
    points.sort()
    start, *inner, end = points
    if len(inner) % 2:
        inner.pop()
    breaks = list(zip(inner[::2], inner[1::2], strict=True))
    assume(all(exists(day, m) for m in points))
    return day, name, start, end, breaks


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(rows(), max_size=8, unique_by=lambda r: (r[0], r[1])),
    st.booleans(),
    st.booleans(),
)
def test_valid_rows_round_trip_to_the_same_local_times(generated, crlf, bom):
    lines = [
        f"{day},{name},{hhmm(start)},{hhmm(end)},"
        + ";".join(f"{hhmm(a)}-{hhmm(b)}" for a, b in breaks)
        for day, name, start, end, breaks in generated
    ]
    newline = "\r\n" if crlf else "\n"
    text = ("\ufeff" if bom else "") + newline.join([HEADER_LINE, *lines]) + newline
    plans = parse(text)

    def back(moment: datetime) -> int:
        local = moment.astimezone(TZ)
        return local.hour * 60 + local.minute

    assert len(plans) == len(generated)
    for plan, (day, name, start, end, breaks) in zip(plans, generated, strict=True):
        assert (plan.person_id, plan.day) == (PEOPLE[name], day)
        assert plan.start.tzinfo is UTC and plan.end.tzinfo is UTC
        assert local_day(plan.start, TZ) == day == local_day(plan.end, TZ)
        assert (back(plan.start), back(plan.end)) == (start, end)
        assert [(back(a), back(b)) for a, b in plan.breaks] == breaks
