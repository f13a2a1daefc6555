"""The rota page: importing a rota file, and changing today's shifts and breaks."""

from __future__ import annotations

import html
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from locker import events as ev
from locker.decisions import BadgeRead
from locker.models import Event, Shift
from locker.rota import shift_for
from tests.support.panel import MONDAY, at, commands, shown

ALICE, BOB, MARY = 1, 2, 3
TUESDAY = MONDAY + timedelta(days=1)
GOOD = (
    "date,name,start,end,breaks\n"
    "2026-01-06,Alice,08:00,16:00,12:00-12:30\n"
    "2026-01-06,Bob,09:00,17:00,12:30-13:00;15:00-15:10\n"
)


@pytest.fixture
def manager(auth):
    auth.login()
    return auth


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def upload(manager, text: str | bytes, name: str = "rota.csv", **kwargs):
    data = text.encode() if isinstance(text, str) else text
    return manager.post("/rota/import", {"file": (io.BytesIO(data), name)}, **kwargs)


def shift(db, person_id: int, day: date = MONDAY):
    with db.read() as session:
        found = shift_for(session, person_id, day)
        if found is None:
            return None
        return found.start, found.end, [(b.start, b.end) for b in found.breaks]


def count(db, model) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def kinds(db) -> list[str]:
    return [c.kind for c in commands(db)]


def test_todays_shifts_in_local_time_with_their_forms(client, manager, daemon):
    text = page(client.get("/rota"))
    assert '<span data-testid="rota-shift-1-hours">08:00–16:00</span>' in text
    assert '<span data-testid="rota-shift-1-breaks">12:00–12:30</span>' in text
    assert 'value="12:00-12:30" placeholder' in text
    assert 'data-testid="rota-set-1-submit"' in text
    assert 'data-testid="rota-extend-1"' in text
    assert 'data-testid="rota-break-1"' not in text  # 07:30: not on shift yet
    assert 'data-testid="rota-import-form"' in text
    assert '<option value="3">Mary</option>' in text  # not on today: a shift can be added


def test_a_viewer_sees_the_rota_without_forms(client, auth, daemon):
    auth.login("viewer")
    text = page(client.get("/rota"))
    assert "08:00–16:00" in text
    assert "<form" not in text.split("<main", 1)[1].replace('data-testid="logout-form"', "")


def test_another_day_is_shown_in_its_own_local_time(client, manager, daemon, db):
    summer = "date,name,start,end,breaks\n2026-07-06,Alice,08:00,16:00,\n"
    assert upload(manager, summer).status_code == 302
    assert shift(db, ALICE, date(2026, 7, 6))[0].hour == 7  # 08:00 BST is 07:00 UTC
    text = page(client.get("/rota?day=2026-07-06"))
    assert '<span data-testid="rota-shift-1-hours">08:00–16:00</span>' in text
    assert "Shifts on Mon 06 Jul 2026" in text
    past = page(client.get("/rota?day=2026-01-04"))
    assert 'data-testid="rota-set-' not in past  # a day that is over is read-only


# ------------------------------------------------------------------ import


def test_a_bad_file_names_every_bad_row_and_changes_nothing(client, manager, daemon, db):
    shifts, logged = count(db, Shift), count(db, Event)
    bad = (
        "date,name,start,end,breaks\n"
        "2026-01-06,Alice,08:00,16:00,12:00-12:30\n"
        "2026-13-06,Alice,08:00,16:00,\n"
        "2026-01-06,Nobody,08:00,16:00,\n"
        "2026-01-06,Bob,17:00,09:00,\n"
        "2026-01-06,Bob,08:00,16:00,7:00-7:30\n"
    )
    response = upload(manager, bad)
    assert response.status_code == 400
    text = page(response)
    assert "The rota file was not imported: nothing has changed" in text
    assert "4 rows must be fixed first" in text
    assert "date '2026-13-06' is not a date as YYYY-MM-DD" in text
    assert "no active person is named 'Nobody'" in text
    assert "must end after it starts" in text
    assert "break 07:00-07:30 is outside the shift 08:00-16:00" in text
    for line in (3, 4, 5, 6):
        assert f'data-testid="rota-problem-{line}"><strong>Line {line}:</strong>' in text
    assert 'data-testid="rota-problem-2"' not in text
    assert (count(db, Shift), count(db, Event)) == (shifts, logged)
    assert kinds(db) == []


def test_a_good_file_is_imported_once(client, manager, daemon, db):
    response = upload(manager, GOOD, follow_redirects=True)
    assert "Rota imported (Tue 06 Jan 2026): 2 added, 0 changed, 0 unchanged." in page(response)
    assert shift(db, BOB, TUESDAY) == (
        at("09:00", TUESDAY),
        at("17:00", TUESDAY),
        [
            (at("12:30", TUESDAY), at("13:00", TUESDAY)),
            (at("15:00", TUESDAY), at("15:10", TUESDAY)),
        ],
    )
    assert kinds(db) == ["reload"]
    logged = count(db, Event)

    again = upload(manager, GOOD.replace("\n", "\r\n"), follow_redirects=True)
    assert "0 added, 0 changed, 2 unchanged. Nothing changed." in page(again)
    assert count(db, Event) == logged
    assert kinds(db) == ["reload"]

    changed = upload(manager, GOOD.replace("09:00,17:00", "09:00,18:00"), follow_redirects=True)
    assert "0 added, 1 changed, 1 unchanged." in page(changed)
    assert kinds(db) == ["reload", "reload"]


def test_a_season_of_rota_is_larger_than_a_form(client, manager, daemon, db):
    rows = [
        f"{MONDAY + timedelta(days=d)},{name},08:00,16:00,12:00-12:30"
        for d in range(1, 1000)
        for name in ("Alice", "Bob")
    ]
    text = "date,name,start,end,breaks\n" + "\n".join(rows) + "\n"
    assert len(text) > 64 * 1024
    response = upload(manager, text, follow_redirects=True)
    assert "1998 added" in page(response)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\xff\xfedate", "not UTF-8"),
        (b"", "the file is empty"),
        (b"day,who\n", "the first line must be the header date,name,start,end,breaks"),
    ],
)
def test_an_unreadable_file_is_refused(client, manager, daemon, db, body, words):
    response = upload(manager, body)
    assert response.status_code == 400
    assert words in page(response)
    assert kinds(db) == []


def test_the_import_needs_a_file(client, manager, daemon):
    response = manager.post("/rota/import", {})
    assert response.status_code == 400
    assert "Choose a rota file" in page(response)


# ------------------------------------------------------------------ edits


def test_setting_todays_shift(client, manager, daemon, db):
    response = manager.post(
        "/rota/shifts",
        {
            "person_id": str(MARY),
            "start": "09:30",
            "end": "15:00",
            "breaks": "11:00-11:15; 13:00-13:30",
        },
        follow_redirects=True,
    )
    assert "Mary's shift today: 09:30–15:00, breaks 11:00–11:15, 13:00–13:30." in page(response)
    assert shift(db, MARY) == (
        at("09:30"),
        at("15:00"),
        [(at("11:00"), at("11:15")), (at("13:00"), at("13:30"))],
    )
    assert kinds(db) == ["reload"]
    (changed,) = shown(db, ev.SHIFT_CHANGED)[-1:]
    assert changed.actor == "manager" and '"client":"127.0.0.1"' in changed.details


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"start": "16:00", "end": "08:00"},
            "Alice: the shift 16:00-08:00 must end after it starts",
        ),
        ({"start": "8am"}, "Alice: start must be a time of day as HH:MM"),
        ({"end": "24:00"}, "Alice: end must be a time of day as HH:MM"),
        ({"breaks": "12:00"}, "Alice: break '12:00' must be HH:MM-HH:MM"),
        ({"breaks": "07:00-07:30"}, "Alice: break 07:00-07:30 is outside the shift 08:00-16:00"),
        ({"day": "2026-01-04"}, "Alice: a day that is over cannot be changed"),
    ],
)
def test_a_shift_that_does_not_fit_is_refused_in_local_words(
    client, manager, daemon, db, fields, words
):
    before = shift(db, ALICE)
    form = {"person_id": str(ALICE), "start": "08:00", "end": "16:00", "breaks": "", **fields}
    response = manager.post("/rota/shifts", form)
    assert response.status_code == 400
    assert f'data-testid="rota-error">{words}' in page(response)
    assert "+00:00" not in page(response)
    assert shift(db, ALICE) == before
    assert kinds(db) == []


def test_a_break_now_lets_the_device_out(client, manager, daemon, db):
    daemon.advance(30 * 60)
    daemon.deposit("A1A1A1A1", 1)
    daemon.advance(2 * 3600)  # 10:00
    daemon.controller.handle(BadgeRead("A1A1A1A1"))
    assert '"reason":"on_shift"' in shown(db, ev.BADGE_REFUSED)[-1].details

    manager.login()  # the morning's idle time ended the first session
    response = manager.post(
        f"/rota/shifts/{ALICE}/break-now", {"minutes": "15"}, follow_redirects=True
    )
    assert "Alice is on a break: 10:00–10:15." in page(response)
    assert (at("10:00"), at("10:15")) in shift(db, ALICE)[2]
    assert kinds(db) == ["reload"]
    assert shown(db, ev.BREAK_STARTED)[-1].actor == "manager"

    daemon.controller.handle(BadgeRead("A1A1A1A1"))  # the daemon has re-read the rota
    assert shown(db, ev.RELEASE_BREAK)[-1].person_id == ALICE


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        ("0", "a whole number of minutes from 1 to 240"),
        ("ten", "a whole number of minutes from 1 to 240"),
        ("600", "a whole number of minutes from 1 to 240"),
        ("120", "overlap the break 12:00-12:30"),
    ],
)
def test_a_break_that_does_not_fit_is_refused(client, manager, daemon, db, minutes, words):
    daemon.advance(4 * 3600)  # 11:30
    manager.login()  # the morning's idle time ended the first session
    response = manager.post(f"/rota/shifts/{ALICE}/break-now", {"minutes": minutes})
    assert response.status_code == 400
    assert words in page(response)
    assert kinds(db) == []


def test_no_break_before_the_shift(client, manager, daemon, db):
    response = manager.post(f"/rota/shifts/{ALICE}/break-now", {"minutes": "15"})
    assert response.status_code == 400
    assert "Alice is not on shift at 07:30" in page(response)


def test_extending_a_shift(client, manager, daemon, db):
    response = manager.post(f"/rota/shifts/{ALICE}/extend", {"end": "17:30"}, follow_redirects=True)
    assert "Alice's shift today now ends at 17:30." in page(response)
    assert shift(db, ALICE)[1] == at("17:30")
    assert kinds(db) == ["reload"]

    earlier = manager.post(f"/rota/shifts/{ALICE}/extend", {"end": "15:00"})
    assert earlier.status_code == 400
    assert "the new end 15:00 is not after the shift's end 17:30" in page(earlier)
    nobody = manager.post(f"/rota/shifts/{MARY}/extend", {"end": "18:00"})
    assert nobody.status_code == 400
    assert "Mary has no shift on 2026-01-05" in page(nobody)


def test_ending_a_shift_now(client, manager, daemon, db):
    daemon.advance(3 * 3600)  # 10:30
    manager.login()  # the morning's idle time ended the first session
    # One tap would end it for good: the button asks first (web/static/panel.js).
    assert "data-confirm=\"End Bob's shift now?" in html.unescape(
        client.get("/rota").get_data(as_text=True)
    )
    response = manager.post(f"/rota/shifts/{BOB}/end-now", follow_redirects=True)
    assert "Bob's shift ended at 10:30." in page(response)
    assert shift(db, BOB)[1:] == (at("10:30"), [])  # the noon break went with it
    assert kinds(db) == ["reload"]
    again = manager.post(f"/rota/shifts/{BOB}/end-now")
    assert again.status_code == 400
    assert "Bob is not part-way through a shift at 10:30" in page(again)


@pytest.mark.parametrize("path", ["/rota/shifts/999/end-now", f"/rota/shifts/{2**70}/extend"])
def test_changing_nobodys_shift_is_a_404(client, manager, daemon, path):
    assert manager.post(path, {"end": "18:00"}).status_code == 404


def test_a_shift_form_needs_a_person(client, manager, daemon):
    response = manager.post("/rota/shifts", {"person_id": "x", "start": "08:00", "end": "09:00"})
    assert response.status_code == 400


def test_a_later_day_can_be_planned_and_stays_in_view(client, manager, daemon, db):
    form = {"person_id": str(MARY), "day": "2026-01-06", "start": "16:00", "end": "08:00"}
    refused = manager.post("/rota/shifts", form)
    assert refused.status_code == 400
    assert "Shifts on Tue 06 Jan 2026" in page(refused)
    response = manager.post("/rota/shifts", {**form, "start": "08:00", "end": "12:00"})
    assert response.headers["Location"] == "/rota?day=2026-01-06"
    assert shift(db, MARY, TUESDAY) == (at("08:00", TUESDAY), at("12:00", TUESDAY), [])
    assert "Mary's shift on Tue 06 Jan: 08:00–12:00, no breaks." in page(client.get("/rota"))
