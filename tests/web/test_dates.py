"""Every place that takes a day refuses one outside 2000-2100 with a 400 that says why."""

from __future__ import annotations

import html
import io

import pytest

from locker.errors import InvalidRequest
from locker.rota import FIRST_DAY, LAST_DAY, parse_day

ALICE = 1
EXTREME = ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"]
PAGES = ["/rota", "/report", "/log", "/log/overrides", "/log/export.csv"]


@pytest.fixture
def manager(auth):
    auth.login()
    return auth


@pytest.mark.parametrize("day", EXTREME)
@pytest.mark.parametrize("page", PAGES)
def test_an_extreme_day_in_a_page_is_a_400(client, manager, daemon, page, day):
    response = client.get(f"{page}?day={day}")
    assert response.status_code == 400
    text = html.unescape(response.get_data(as_text=True))
    assert f"day '{day}' is out of range" in text
    assert "2000-01-01 to 2100-12-31" in text


@pytest.mark.parametrize("page", PAGES)
def test_the_first_and_last_days_are_taken(client, manager, daemon, page):
    for day in (FIRST_DAY, LAST_DAY):
        assert client.get(f"{page}?day={day.isoformat()}").status_code == 200


@pytest.mark.parametrize("day", EXTREME)
def test_an_extreme_day_in_the_shift_form_is_a_400(client, manager, daemon, day):
    form = {"person_id": str(ALICE), "start": "08:00", "end": "16:00", "breaks": "", "day": day}
    response = manager.post("/rota/shifts", form)
    assert response.status_code == 400
    assert "is out of range" in html.unescape(response.get_data(as_text=True))


def test_a_rota_file_names_an_extreme_date_by_its_line(client, manager, daemon):
    text = "date,name,start,end,breaks\n9999-12-31,Alice,08:00,16:00,\n"
    response = manager.post("/rota/import", {"file": (io.BytesIO(text.encode()), "rota.csv")})
    assert response.status_code == 400
    text = html.unescape(response.get_data(as_text=True))
    assert "<strong>Line 2:</strong> date '9999-12-31' is out of range" in text


@pytest.mark.parametrize("text", ["2026-02-30", "26-01-05", "2026-1-5", "", "٢٠٢٦-٠١-٠٥"])
def test_parse_day_refuses_what_is_not_a_date(text):
    with pytest.raises(InvalidRequest, match="is not a date as YYYY-MM-DD"):
        parse_day(text)
