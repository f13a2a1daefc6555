"""The hub's reports, rebuilt from shipped events: a site's day, the group's week,
minutes on shift without a device, and acknowledging a chain alert."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from hub.accounts import find_site
from hub.alerts import open_alert
from hub.models import HubAlert
from locker.shipping import next_batch
from tests.support.hub import send, utc

DAY = "2026-03-02"  # a Monday; Europe/London is on UTC then


def shift(person: int, name: str, start: str, end: str, breaks=()) -> dict:
    return {
        "day": DAY,
        "id": person,
        "name": name,
        "start": utc(f"{DAY}T{start}").isoformat(),
        "end": utc(f"{DAY}T{end}").isoformat(),
        "breaks": [
            [utc(f"{DAY}T{a}").isoformat(), utc(f"{DAY}T{b}").isoformat()] for a, b in breaks
        ],
    }


def at(site, hhmm: str, kind: str, person=None, slot=None, **details):
    site.log_at(utc(f"{DAY}T{hhmm}"), kind, person, slot, **details)


@pytest.fixture
def oak_day(hub_app, sites, site_factory, clock):
    """oak's Monday: Ann deposits 20 minutes into her shift, Ben never does (on a break
    for 15 minutes of his hour); a manager releases Ann's slot; an overdue alert stays
    open 25 minutes. The events and the shifts are shipped."""
    oak = site_factory("oak")
    at(oak, "09:20", "deposit.confirmed", person=1, slot=1)
    at(oak, "10:00", "alert.raised", person=2, alert="overdue", alert_id=7, message="Ben late")
    at(oak, "10:25", "alert.acknowledged", person=2, alert="overdue", alert_id=7)
    at(oak, "11:00", "release.manager", person=1, slot=1, reason="=family call", note="sister")
    at(oak, "11:01", "slot.unlocked", person=1, slot=1, reason="manager")
    at(oak, "11:02", "device.removed", person=1, slot=1)
    with oak.db.read() as session:
        batch = next_batch(session, 0, 100)
    client = hub_app.test_client()
    assert send(client, sites["oak"], "/api/ingest/events", batch).status_code == 200
    snapshot = {
        "timezone": "Europe/London",
        "shift_days": [DAY, DAY],
        "shifts": [
            shift(1, "Ann", "09:00", "12:00"),
            shift(2, "Ben", "09:00", "10:00", [("09:30", "09:45")]),
        ],
    }
    assert send(client, sites["oak"], "/api/ingest/status", snapshot).status_code == 204
    clock.advance(7 * 24 * 3600)  # a week on: the whole week is past
    return client


def test_a_sites_day_is_rebuilt_from_its_shipped_events(oak_day, hub_accounts):
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    page = oak_day.get(f"/sites/oak/report?day={DAY}", headers=admin).get_data(as_text=True)
    assert "Monday 2 March 2026" in page
    # Ann: in from 09:20 to 11:02 of 09:00-12:00 -> 20 + 58 minutes without her phone.
    assert "<td>Ann (#1)</td><td>09:00-12:00</td><td>180</td><td>78</td>" in page
    # Ben: 45 minutes on shift (the break left out), none of them with his phone in.
    assert "<td>Ben (#2)</td><td>09:00-10:00</td><td>45</td><td>45</td>" in page
    assert "Devices deposited: 1" in page
    assert "Slot released by a manager" in page and "=family call" in page
    assert "Device overdue" in page and "acknowledged 10:25 by daemon" in page
    # The alert's message names Ben: it stays at the site, the row names him by id.
    assert "Ben late" not in page and "(kept at the site)" in page and "'ref'" not in page
    bad = oak_day.get("/sites/oak/report?day=Monday", headers=admin)
    assert bad.status_code == 400 and "day must be a date as YYYY-MM-DD" in bad.get_data(
        as_text=True
    )


def test_the_weekly_report_counts_each_site_and_marks_days_it_cannot_vouch_for(
    oak_day, hub_db, hub_accounts
):
    with hub_db.session() as s:
        s.add(
            HubAlert(
                site_id=find_site(s, "oak").id,
                kind="chain",
                message="test",
                opened_at=utc("2026-03-04T10:00"),
                resolved_at=utc("2026-03-04T11:00"),
            )
        )
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    answer = oak_day.get("/reports/week.csv?week=2026-03-04", headers=admin)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = {r["site"]: r for r in csv.DictReader(io.StringIO(answer.get_data(as_text=True)))}
    assert set(rows) == {"elm", "oak"}
    oak = rows["oak"]
    assert oak["week_from"] == DAY
    assert oak["overrides"] == "1" and oak["overrides_by_reason"] == "'=family call: 1"
    assert oak["alerts"] == "1" and oak["alerts_still_open"] == "0"
    assert oak["alerts_by_kind"] == "Device overdue: 1 (open 25 min in all, 25 at most)"
    assert (oak["minutes_on_shift"], oak["minutes_without_device"]) == ("225", "123")
    assert oak["days_chain_broken"] == "2026-03-04"
    assert oak["days_without_data"].split() == [f"2026-03-0{d}" for d in range(3, 9)]
    assert rows["elm"]["days_without_data"].split() == [f"2026-03-0{d}" for d in range(2, 9)]
    page = oak_day.get("/reports/week?week=2026-03-02", headers=admin).get_data(as_text=True)
    assert "Device overdue: 1 (open 25 min in all, 25 at most)" in page
    area = {"Authorization": f"Bearer {hub_accounts['arthur']}"}
    only_oak = oak_day.get("/reports/week.csv?week=2026-03-02", headers=area).get_data(as_text=True)
    assert "elm" not in only_oak and "oak" in only_oak


def test_a_malformed_shift_is_refused_by_name(hub_app, sites):
    client = hub_app.test_client()
    bad = {
        "shift_days": [DAY, DAY],
        "shifts": [{**shift(1, "Ann", "09:00", "12:00"), "end": "noon"}],
    }
    answer = send(client, sites["oak"], "/api/ingest/status", bad)
    assert answer.status_code == 400 and "shifts[0].end" in answer.json["error"]
    outside = {
        "shift_days": ["2026-03-01", "2026-03-01"],
        "shifts": [shift(1, "A", "09:00", "10:00")],
    }
    answer = send(client, sites["oak"], "/api/ingest/status", outside)
    assert answer.status_code == 400 and "outside shift_days" in answer.json["error"]


def test_a_group_admin_acknowledges_a_chain_alert_with_a_note(
    hub_app, hub_db, sites, hub_accounts, clock
):
    with hub_db.session() as s:
        oak = find_site(s, "oak").id
        open_alert(s, oak, "chain", "site's log does not continue its history", clock.now())
        open_alert(s, oak, "offline", "oak is silent", clock.now())
    with hub_db.session() as s:
        chain, offline = (
            s.scalar(select(HubAlert.id).where(HubAlert.kind == k)) for k in ("chain", "offline")
        )
    client = hub_app.test_client()
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    area = {"Authorization": f"Bearer {hub_accounts['arthur']}"}
    path = f"/alerts/{chain}/acknowledge"
    assert client.post(path, data={"note": "checked"}, headers=area).status_code == 403
    empty = client.post(path, data={"note": " "}, headers=admin)
    assert empty.status_code == 400 and "a note is needed" in empty.get_data(as_text=True)
    wrong = client.post(f"/alerts/{offline}/acknowledge", data={"note": "x"}, headers=admin)
    assert wrong.status_code == 400 and "only a chain alert" in wrong.get_data(as_text=True)
    clock.advance(60)
    done = client.post(path, data={"note": "Pi restored from backup; checked"}, headers=admin)
    assert done.status_code == 302
    with hub_db.session() as s:
        alert = s.get(HubAlert, chain)
        assert (alert.resolved_at, alert.resolved_by) == (clock.now(), "gina")
        assert alert.note == "Pi restored from backup; checked"
    again = client.post(path, data={"note": "again"}, headers=admin)
    assert again.status_code == 409
    assert (
        client.post("/alerts/999/acknowledge", data={"note": "x"}, headers=admin).status_code == 404
    )
    listing = {r["name"]: r["chain_ok"] for r in client.get("/api/sites", headers=admin).json}
    assert listing["oak"] is True
