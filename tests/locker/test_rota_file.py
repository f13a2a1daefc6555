"""What a UK spreadsheet writes is a rota file: its dates, its header, its names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from locker.errors import RotaError
from locker.rota_file import parse_rota

TZ = ZoneInfo("Europe/London")
PEOPLE = {"Alice Smith": 1, "Bob Jones": 2}


def problems_of(text: str, people: dict[str, int] = PEOPLE) -> list[tuple[int, str]]:
    with pytest.raises(RotaError) as caught:
        parse_rota(text, people_by_name=people, tz=TZ)
    return caught.value.problems


def test_a_uk_date_is_the_same_day_as_its_iso_spelling():
    uk = parse_rota(
        "date,name,start,end,breaks\n05/12/2026,Alice Smith,8:00,16:00,12:00-12:30\n",
        people_by_name=PEOPLE,
        tz=TZ,
    )
    iso = parse_rota(
        "date,name,start,end,breaks\n2026-12-05,Alice Smith,08:00,16:00,12:00-12:30\n",
        people_by_name=PEOPLE,
        tz=TZ,
    )
    assert uk == iso
    assert uk[0].day == date(2026, 12, 5)
    assert uk[0].start == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("31/02/2026", "not a day of the calendar"),
        ("12/2026", "not a date as YYYY-MM-DD or DD/MM/YYYY"),
        ("05/12/1999", "out of range"),
    ],
)
def test_a_bad_uk_date_is_named(cell, expected):
    [(line, why)] = problems_of(f"date,name,start,end,breaks\n{cell},Alice Smith,08:00,16:00,\n")
    assert line == 2 and expected in why


def test_the_header_and_names_match_whatever_their_case_and_spacing():
    plans = parse_rota(
        " Date , NAME,Start,End ,Breaks\n2026-12-05,  alice   SMITH ,08:00,16:00,\n",
        people_by_name=PEOPLE,
        tz=TZ,
    )
    assert [p.person_id for p in plans] == [1]


def test_a_name_two_people_share_once_folded_is_refused():
    [(line, why)] = problems_of(
        "date,name,start,end,breaks\n2026-12-05,alice smith,08:00,16:00,\n",
        {"Alice Smith": 1, "ALICE SMITH": 7},
    )
    assert line == 2 and "2 active people are named 'alice smith'" in why


def test_one_bad_row_is_one_bad_row():
    with pytest.raises(RotaError, match=r"\(1 bad row\)"):
        parse_rota(
            "date,name,start,end,breaks\n2026-12-05,Nobody,08:00,16:00,\n",
            people_by_name=PEOPLE,
            tz=TZ,
        )
    with pytest.raises(RotaError, match=r"\(2 bad rows\)"):
        parse_rota(
            "date,name,start,end,breaks\n"
            "2026-12-05,Nobody,08:00,16:00,\n"
            "x,Alice Smith,8:00,9:00,\n",
            people_by_name=PEOPLE,
            tz=TZ,
        )
