"""The daily report: the timeline of a person's device, and the printable page."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from locker import events as ev
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged
from locker.log import (
    VerifyReport,
    append,
    canonical_details,
    event_hash,
    format_ts,
    verified_entry,
    verify,
    write_checkpoint,
)
from locker.models import Event
from locker.people import add_person
from locker.rota import day_bounds, set_shift
from tests.support.panel import LONDON, MONDAY, at
from web import report as report_page
from web.timeline import BREAK, HELD, LATE, OVERDUE, RELEASE, TAMPER, Segment, timeline
from web.timeline_picture import axis_for

ALICE, BOB, MARY = 1, 2, 3
DAY_START, DAY_END = day_bounds(MONDAY, LONDON)
GRACE = timedelta(minutes=5)
TUESDAY = MONDAY + timedelta(days=1)


def logged(kind: str, hhmm: str, *, slot: int = 1, day: date = MONDAY, **details) -> Event:
    """An event as the log holds it (not stored anywhere)."""
    return Event(
        ts=format_ts(at(hhmm, day)), kind=kind, slot=slot, details=canonical_details(details)
    )


def plain(segments: list[Segment]) -> list[tuple[str, str, str]]:
    return [
        (s.kind, f"{s.start.astimezone(LONDON):%H:%M}", f"{s.end.astimezone(LONDON):%H:%M}")
        for s in segments
    ]


def deposit(hhmm: str, reason: str = "deposit", slot: int = 1) -> list[Event]:
    return [
        logged(ev.SLOT_UNLOCKED, hhmm, slot=slot, reason=reason),
        logged(ev.DEVICE_DETECTED, hhmm, slot=slot),
        logged(ev.SLOT_LOCKED, hhmm, slot=slot, reason="deposit"),
        logged(ev.DEPOSIT_CONFIRMED, hhmm, slot=slot, returned=reason == "return"),
    ]


def taken(hhmm: str, why: str, slot: int = 1, **release) -> list[Event]:
    """A release for ``why`` and the device taken out, at ``hhmm``."""
    kind = {"break": ev.RELEASE_BREAK, "grant": ev.RELEASE_GRANT}.get(why)
    before = [logged(kind, hhmm, slot=slot, **release)] if kind else []
    return [
        *before,
        logged(ev.SLOT_UNLOCKED, hhmm, slot=slot, reason=why),
        logged(ev.DOOR_OPENED, hhmm, slot=slot),
        logged(ev.DEVICE_REMOVED, hhmm, slot=slot),
        logged(ev.DOOR_CLOSED, hhmm, slot=slot),
        logged(ev.SLOT_LOCKED, hhmm, slot=slot, reason="door_closed"),
    ]


A_DAY = [
    *deposit("07:55"),
    *taken(
        "12:00", "break", break_start=at("12:00").isoformat(), break_end=at("12:30").isoformat()
    ),
    *deposit("12:25", "return"),
    *taken("14:00", "grant", reason="emergency", return_due=at("14:15").isoformat()),
    *deposit("14:30", "return"),
]


# ------------------------------------------------------------------ timeline


def test_a_day_with_a_break_and_a_grant_returned_late():
    segments = timeline(A_DAY, DAY_START, at("16:00"), grace=GRACE)
    assert plain(segments) == [
        (HELD, "07:55", "12:00"),
        (BREAK, "12:00", "12:25"),
        (HELD, "12:25", "14:00"),
        (RELEASE, "14:00", "14:15"),
        (LATE, "14:15", "14:20"),
        (OVERDUE, "14:20", "14:30"),
        (HELD, "14:30", "16:00"),
    ]
    grant = segments[3]
    assert (grant.reason, grant.due) == ("grant", at("14:15"))
    assert segments[4].reason == segments[5].reason == "grant"
    assert segments[1].due == at("12:30")


def test_without_grace_a_device_is_overdue_from_its_due_time():
    segments = timeline(A_DAY, DAY_START, at("16:00"))
    assert plain(segments)[3:5] == [(RELEASE, "14:00", "14:15"), (OVERDUE, "14:15", "14:30")]


def test_a_device_still_out_at_the_end_is_overdue_to_the_end():
    events = [
        *deposit("08:00"),
        *taken("12:00", "break", break_end=at("12:30").isoformat()),
    ]
    assert plain(timeline(events, DAY_START, at("13:00"), grace=GRACE)) == [
        (HELD, "08:00", "12:00"),
        (BREAK, "12:00", "12:30"),
        (LATE, "12:30", "12:35"),
        (OVERDUE, "12:35", "13:00"),
    ]


def test_releases_without_a_return_time_are_never_overdue():
    for reason in ("on_the_spot", "manager", "all"):
        events = [*deposit("08:00"), *taken("10:00", reason), *deposit("11:30", "return")]
        segments = timeline(events, DAY_START, at("12:00"), grace=GRACE)
        assert plain(segments) == [
            (HELD, "08:00", "10:00"),
            (RELEASE, "10:00", "11:30"),
            (HELD, "11:30", "12:00"),
        ]
        assert segments[1].reason == reason and segments[1].due is None


def test_after_the_shift_end_release_the_device_has_gone_home():
    events = [*deposit("08:00"), *taken("16:00", "shift_end")]
    assert plain(timeline(events, DAY_START, DAY_END)) == [(HELD, "08:00", "16:00")]
    events = [*deposit("08:00"), *taken("18:30", "closing")]
    assert plain(timeline(events, DAY_START, DAY_END)) == [(HELD, "08:00", "18:30")]


def test_closing_time_ends_a_device_that_is_out():
    events = [
        *deposit("08:00"),
        *taken("17:00", "grant", return_due=at("17:30").isoformat()),
        logged(ev.RELEASE_CLOSING, "18:30", device_out=True),
    ]
    assert plain(timeline(events, DAY_START, DAY_END, grace=GRACE)) == [
        (HELD, "08:00", "17:00"),
        (RELEASE, "17:00", "17:30"),
        (LATE, "17:30", "17:35"),
        (OVERDUE, "17:35", "18:30"),
    ]


def test_a_release_nobody_collected_leaves_the_device_held():
    events = [
        *deposit("08:00"),
        logged(ev.SLOT_UNLOCKED, "12:00", reason="break"),
        logged(ev.RELEASE_TIMEOUT, "12:00", reason="break"),
        logged(ev.SLOT_LOCKED, "12:00", reason="timeout"),
        logged(ev.SLOT_UNLOCKED, "13:00", reason="manager"),
        logged(ev.DOOR_OPENED, "13:00"),
        logged(ev.DOOR_CLOSED, "13:00"),
        logged(ev.SLOT_LOCKED, "13:00", reason="not_collected"),
    ]
    assert plain(timeline(events, DAY_START, at("14:00"))) == [(HELD, "08:00", "14:00")]


def test_a_device_taken_from_a_locked_slot_is_tamper():
    events = [
        *deposit("08:00"),
        logged(ev.DOOR_OPENED, "09:00", forced=True),
        logged(ev.DEVICE_REMOVED, "09:00"),
        *deposit("09:10", "return"),
    ]
    segments = timeline(events, DAY_START, at("10:00"))
    assert plain(segments) == [
        (HELD, "08:00", "09:00"),
        (TAMPER, "09:00", "09:10"),
        (HELD, "09:10", "10:00"),
    ]
    # A removal before anything was deposited is not this person's device.
    assert timeline([logged(ev.DEVICE_REMOVED, "07:00")], DAY_START, DAY_END) == []


def test_a_setting_device_checked_out_is_not_the_persons_own():
    events = [
        *deposit("08:00"),
        logged(ev.SLOT_UNLOCKED, "10:00", slot=9, reason="checkout"),
        logged(ev.DEVICE_REMOVED, "10:00", slot=9),
    ]
    assert plain(timeline(events, DAY_START, at("11:00"))) == [(HELD, "08:00", "11:00")]


def test_a_device_held_since_the_day_before_starts_at_midnight():
    yesterday = MONDAY - timedelta(days=1)
    events = [*deposit("17:00")]
    events = [logged(e.kind, "17:00", slot=1, day=yesterday) for e in events]
    events[-1] = Event(
        ts=format_ts(at("17:00", yesterday)), kind=ev.DEPOSIT_CONFIRMED, slot=1, details="{}"
    )
    assert plain(timeline(events, DAY_START, at("08:00"))) == [(HELD, "00:00", "08:00")]


def test_events_after_the_end_and_unreadable_ones_are_ignored():
    events = [
        *deposit("08:00"),
        Event(ts="not a time", kind=ev.DEVICE_REMOVED, slot=1, details="{}"),
        *taken("12:00", "manager"),
    ]
    assert plain(timeline(events, DAY_START, at("11:00"))) == [(HELD, "08:00", "11:00")]


def test_the_axis_covers_the_opening_day_and_whatever_falls_outside_it():
    axis = axis_for(MONDAY, LONDON, [])
    assert (axis.start, axis.end) == (at("07:00"), at("19:00"))
    assert [label for _, label in axis.ticks][:2] == ["07:00", "08:00"]
    assert axis.ticks[-1] == (800.0, "19:00")
    early = axis_for(MONDAY, LONDON, [at("06:40"), at("19:05")])
    assert (early.start, early.end) == (at("06:00"), at("20:00"))
    assert axis.x(at("13:00")) == 400.0
    # A summer day: local hours, an hour ahead of UTC.
    june = date(2026, 6, 15)
    summer = axis_for(june, LONDON, [])
    assert summer.start == datetime.fromisoformat("2026-06-15T06:00:00+00:00")
    assert summer.ticks[0][1] == "07:00"


# ---------------------------------------------------------------- the page


def badge(daemon, uid: str) -> None:
    daemon.controller.handle(BadgeRead(uid))
    daemon.heartbeat()


def take_out(daemon, slot: int) -> None:
    daemon.controller.handle(DoorChanged(slot, True))
    daemon.controller.handle(DeviceChanged(slot, False))
    daemon.controller.handle(DoorChanged(slot, False))
    daemon.heartbeat()


def until(daemon, hhmm: str, *, step: float | None = None) -> None:
    """Run the fake daemon's clock on to ``hhmm`` on Monday, ticking every ``step`` seconds."""
    left = (at(hhmm) - daemon.clock.now()).total_seconds()
    while left > 0:
        moved = min(left, step or left)
        daemon.advance(moved)
        left -= moved


@pytest.fixture
def played(auth, daemon, db, token):
    """Monday through the controller: Alice's break and late grant, Bob's plain day."""
    until(daemon, "07:55")
    daemon.deposit("A1A1A1A1", 1)
    until(daemon, "08:00")
    daemon.deposit("B0B0B0B0", 2)
    until(daemon, "12:00")
    badge(daemon, "A1A1A1A1")
    take_out(daemon, 1)
    until(daemon, "12:25")
    daemon.deposit("A1A1A1A1", 1)
    until(daemon, "14:00")
    response = auth.client.post(
        "/api/grants",
        json={"person_id": ALICE, "reason": "emergency", "open_now": True, "return_minutes": 15},
        headers=token("manager"),
    )
    assert response.status_code == 200, response.json
    take_out(daemon, 1)
    until(daemon, "14:30", step=60)
    daemon.deposit("A1A1A1A1", 1)
    until(daemon, "17:00")
    with db.write() as session:
        write_checkpoint(session, at("17:00"))
        session.commit()
    return daemon


def test_the_report_draws_each_persons_day(client, auth, played, db):
    auth.login("viewer")
    response = client.get(f"/report?day={MONDAY.isoformat()}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('<svg class="timeline"') == 2
    for pid in (ALICE, BOB):
        assert f'data-testid="timeline-{pid}"' in page
    alice = section(page, f"person-{ALICE}")
    kinds = re.findall(r'<g class="bar bar-(\w+)"', alice)
    assert kinds == [HELD, BREAK, HELD, RELEASE, LATE, OVERDUE, HELD]
    text = html.unescape(alice)
    assert "Shift 08:00–16:00; breaks 12:00–12:30" in text
    assert "Out on an approved release 14:00–14:15 (manager's grant)" in text
    assert "Overdue (alert raised) 14:20–14:30" in text
    # The marker below the bar: the first minute tick after 14:20 raised the alert.
    assert "Alert at 14:21: Device overdue" in text
    assert "Planned break 12:00–12:30" in text
    assert "Start 08:00" in text and "End 16:00" in text
    bob = html.unescape(section(page, f"person-{BOB}"))
    assert re.findall(r'<g class="bar bar-(\w+)"', bob) == [HELD]
    assert "Device in the locker: 9 h" in bob  # 08:00 to 17:00, drawn up to now


def test_the_report_has_the_overrides_alerts_and_the_log_seal(client, auth, played, db, token):
    # The device came back, so the overdue alert resolved itself; it is still to acknowledge.
    history = client.get("/api/alerts?state=resolved", headers=token()).json["alerts"]
    (alert_id,) = [a["id"] for a in history if a["alert"] == "overdue"]
    assert client.post(f"/api/alerts/{alert_id}/ack", headers=token()).status_code == 200
    with db.read() as session:
        checkpoint = session.execute(text("SELECT event_id, hash FROM checkpoints")).one()
    auth.login("viewer")
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    assert "Monday 5 January 2026" in page
    assert "Printed Monday 5 January 2026 at 17:00 GMT" in page
    overrides = section(page, "report-overrides", "</table>")
    assert "Release granted" in overrides and "Grant used" in overrides
    assert "emergency" in overrides and "Used 14:00" in overrides
    alerts = section(page, "report-alerts", "</table>")
    assert "Device overdue" in alerts and "Alice" in alerts
    assert "by manager" in alerts
    seal = section(page, "report-seal", "</section>")
    assert "Verified when this report was made" in seal
    assert f"Event {checkpoint.event_id}, hash" in seal and checkpoint.hash in seal
    assert 'data-testid="verify-line"' in page and "Event log verified" in page


def test_the_report_says_when_and_why_each_alert_resolved(client, auth, played):
    auth.login("viewer")
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    alerts = section(page, "report-alerts", "</table>")
    # Alice's phone, due back at 14:15, came back at 14:30.
    assert '<th scope="col">Resolved</th>' in alerts
    assert "14:30: the device is back in its slot" in alerts


def test_the_report_defaults_to_the_controllers_today(client, auth, played):
    auth.login("viewer")
    page = client.get("/report").get_data(as_text=True)
    assert "Monday 5 January 2026" in page
    assert "The day is not over: the bars run up to 17:00." in page


def next_day(daemon, db) -> int:
    """Into Tuesday: the daemon's daily checkpoint at 00:05 seals Monday; its event id."""
    daemon.advance((at("00:05", TUESDAY) - daemon.clock.now()).total_seconds())
    with db.write() as session:
        sealing = write_checkpoint(session, daemon.clock.now())
        session.commit()
    badge(daemon, "0BADCAFE")  # a Tuesday event after the checkpoint's record
    return sealing.event_id


def slices_verified(monkeypatch) -> list[tuple[int, int | None]]:
    """Record the slices the report verifies (and let them be verified)."""
    slices = []
    real = report_page.verify_range

    def recorded(session, first_id, last_id=None, **kwargs):
        slices.append((first_id, last_id))
        return real(session, first_id, last_id, **kwargs)

    monkeypatch.setattr(report_page, "verify_range", recorded)
    return slices


def test_the_report_verifies_the_day_through_the_checkpoint_after_it(
    client, auth, played, db, monkeypatch
):
    sealed = next_day(played, db)
    with db.read() as session:
        monday = session.execute(
            text("SELECT min(id), max(id) FROM events WHERE ts < '2026-01-06'")
        ).one()
        tuesday = session.execute(
            text("SELECT min(id), max(id) FROM events WHERE ts >= '2026-01-06'")
        ).one()
    assert monday[1] < sealed + 1 < tuesday[1]
    slices = slices_verified(monkeypatch)
    auth.login("viewer")
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    # Monday alone, through the record of Tuesday's checkpoint: never the whole log.
    assert slices == [(monday[0], sealed + 1)]
    status = flat(section(page, "verify-status", "</p>"))
    count = sealed + 1 - monday[0] + 1
    assert f"the {count} events from event {monday[0]} to event {sealed + 1}" in status
    assert "starting from the start of the log" in status
    assert (
        "The check runs up to the checkpoint taken after the day (Tue 6 Jan 2026 00:05:00 GMT), "
        "and that checkpoint matches."
    ) in status
    assert f"Event log verified for this day: {count} events" in page

    slices.clear()
    page = html.unescape(client.get(f"/report?day={TUESDAY.isoformat()}").get_data(as_text=True))
    # Tuesday is not sealed yet: from its first event to the head.
    assert slices == [(tuesday[0], None)]
    with db.read() as session:
        head = session.execute(text("SELECT max(id) FROM events")).scalar()  # the login's too
    assert f"to event {head} are all there" in flat(section(page, "verify-status", "</p>"))
    assert "No checkpoint has been taken since the day ended" in page
    assert f"starting from event {tuesday[0] - 1} (the last one before the day)" in flat(page)


def test_an_edited_event_of_the_day_shows_on_that_days_report_only(client, auth, played, db):
    next_day(played, db)
    with db.write() as session:
        tuesday = session.execute(
            text("SELECT max(id) FROM events WHERE ts >= '2026-01-06'")
        ).scalar()
        session.execute(
            text("UPDATE events SET actor = 'someone else' WHERE id = :id"), {"id": tuesday}
        )
        session.commit()
    auth.login("viewer")
    monday = client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True)
    assert "Event log verified for this day" in monday
    page = client.get(f"/report?day={TUESDAY.isoformat()}").get_data(as_text=True)
    assert "Event log NOT verified" in page
    assert f"The first bad event is {tuesday}" in page


def test_a_rewritten_day_shows_against_the_checkpoint_after_it(client, auth, played, db):
    # An event of Monday edited and every hash after it recomputed: the chain
    # agrees with itself, but not with the checkpoint taken on Tuesday.
    sealed = next_day(played, db)
    with db.write() as session:
        session.execute(text("UPDATE events SET actor = 'someone else' WHERE id = 9"))
        rows = session.execute(
            text(
                "SELECT id, ts, kind, actor, slot, person_id, details FROM events"
                " WHERE id >= 9 ORDER BY id"
            )
        ).all()
        prev = session.execute(text("SELECT hash FROM events WHERE id = 8")).scalar()
        for row in rows:
            digest = event_hash(prev_hash=prev, **row._asdict())
            session.execute(
                text("UPDATE events SET prev_hash = :prev, hash = :digest WHERE id = :id"),
                {"prev": prev, "digest": digest, "id": row.id},
            )
            prev = digest
        session.commit()
    auth.login("viewer")
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    assert "Event log NOT verified" in page
    status = section(page, "verify-status", "</p>")
    # The Monday 17:00 checkpoint is the first to disagree.
    with db.read() as session:
        first_checkpoint = session.execute(
            text("SELECT min(event_id) FROM checkpoints WHERE kind = 'daily'")
        ).scalar()
    assert first_checkpoint < sealed
    assert f"The first bad event is {first_checkpoint}" in status
    assert "daily checkpoint" in status


def record_whole_check(db, at_time, report: VerifyReport) -> int:
    """Log a whole-log verification as the daemon does; the record's event id."""
    with db.write() as session:
        event = append(session, verified_entry(report, at_time), at_time)
        session.commit()
    return event.id


def test_the_report_says_when_the_whole_log_was_last_verified(client, auth, played, db):
    auth.login("viewer")
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    assert "The whole log has not been verified end to end yet." in section(
        page, "whole-status", "</p>"
    )
    assert "The whole log has not been verified end to end yet." in section(
        page, "verify-line", "</p>"
    )
    with db.read() as session:
        whole = verify(session)
    record_whole_check(db, at("16:30"), whole)
    record_whole_check(
        db, at("10:00"), VerifyReport(False, 3, 4, "its hash does not match", 3, "a" * 64)
    )
    # The newest record counts, though its time is earlier (a clock jump).
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    status = section(page, "whole-status", "</p>")
    assert (
        "last verified on Monday 5 January 2026 at 10:00 GMT and found broken at event"
        in " ".join(status.split())
    )
    assert "its hash does not match" in status
    assert "broken at event 4" in section(page, "verify-line", "</p>")

    record_whole_check(db, at("16:45"), whole)
    page = html.unescape(client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True))
    status = flat(section(page, "whole-status", "</p>"))
    assert (
        f"last verified on Monday 5 January 2026 at 16:45 GMT: intact, all {whole.checked} "
        f"events through event {whole.head_id}"
    ) in status
    line = flat(section(page, "verify-line", "</p>"))
    assert (
        "Whole log last verified Monday 5 January 2026 at 16:45 GMT: "
        f"intact through event {whole.head_id}"
    ) in line


def test_an_unreadable_whole_log_record_is_said_so(client, auth, played, db):
    record = record_whole_check(db, at("16:30"), VerifyReport(True, 1, None, "", 1, "b" * 64))
    with db.write() as session:
        session.execute(text("UPDATE events SET details = '{}' WHERE id = :id"), {"id": record})
        session.commit()
    auth.login("viewer")
    page = client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True)
    assert f"(event {record}) cannot be read" in page
    # And the day's own check names the edited record.
    assert f"The first bad event is {record}" in page


def test_a_day_without_anybody(client, auth, people):
    auth.login("viewer")
    page = client.get("/report?day=2026-02-01").get_data(as_text=True)
    assert 'data-testid="no-people"' in page
    assert 'data-testid="no-overrides"' in page and 'data-testid="no-checkpoint"' in page
    assert "Sunday 1 February 2026" in page


def test_names_in_the_pictures_are_escaped(client, auth, db, clock, people):
    name = '<script>alert("x")</script>'
    with db.write() as session:
        person = add_person(session, name, at=clock.now(), actor="test")
        set_shift(
            session, person.id, MONDAY, at("09:00"), at("15:00"), [], at=clock.now(), actor="t"
        )
        session.commit()
    auth.login("viewer")
    page = client.get(f"/report?day={MONDAY.isoformat()}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;: where the device was" in page


@pytest.mark.parametrize("day", ["2026-02-30", "monday", "2026-1-5", "<b>"])
def test_a_bad_day_is_named(client, auth, people, day):
    auth.login("viewer")
    response = client.get(f"/report?day={day}")
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.get_data(as_text=True)


def test_the_print_button_is_a_static_script(client, auth, people):
    auth.login("viewer")
    page = client.get("/report").get_data(as_text=True)
    assert 'data-testid="print"' in page
    assert '<script src="/static/report.js" defer></script>' in page
    assert "onclick" not in page and "<script>" not in page
    script = client.get("/static/report.js")
    assert b"window.print()" in script.data
    script.close()
    css = client.get("/static/report.css")
    assert b"@media print" in css.data and b"size: A4" in css.data
    css.close()


def flat(text: str) -> str:
    """``text`` with every run of white space one space, as a reader sees it."""
    return " ".join(text.split())


def section(page: str, testid: str, end: str = '<div class="person-day"') -> str:
    start = page.index(f'data-testid="{testid}"')
    stop = page.find(end, start + 1)
    return page[start : stop if stop > 0 else len(page)]
