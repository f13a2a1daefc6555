"""The status snapshot a site ships: who is on shift and whether their device is in."""

from __future__ import annotations

import json
from datetime import timedelta

from locker.models import Badge, Break, Person, Shift, Slot
from locker.shipping import status_snapshot
from tests.support.hub import send


def staff_day(site, now):
    """Ann (device in), Bob (on shift, nothing in), Cy (on a break), Di (shift later)."""
    tz = site.config.tz
    day = now.astimezone(tz).date()
    with site.db.write() as session:
        people = [Person(name=n, created_at=now) for n in ("Ann", "Bob", "Cy", "Di")]
        session.add_all(people)
        session.flush()
        session.add(Badge(uid="04A1B2C3D4", person_id=people[0].id, created_at=now))
        for person in people[:3]:
            session.add(
                Shift(
                    person_id=person.id,
                    day=day,
                    start=now - timedelta(hours=1),
                    end=now + timedelta(hours=6),
                )
            )
        session.add(
            Shift(
                person_id=people[3].id,
                day=day,
                start=now + timedelta(hours=2),
                end=now + timedelta(hours=8),
            )
        )
        session.flush()
        cy_shift = session.query(Shift).filter(Shift.person_id == people[2].id).one()
        session.add(
            Break(
                shift_id=cy_shift.id,
                start=now - timedelta(minutes=5),
                end=now + timedelta(minutes=25),
            )
        )
        slot = session.get(Slot, 1) or Slot(number=1, kind="staff", since=now)
        slot.state, slot.occupant_id = "held", people[0].id
        session.add(slot)
        session.commit()


def staffed_site(site_factory, clock):
    """Site ``oak`` with :func:`staff_day`'s rota and custody, and the time now."""
    site = site_factory("oak")
    now = clock.now()
    staff_day(site, now)
    return site, now


def test_the_snapshot_says_who_is_on_shift_with_their_device_and_no_card_numbers(
    site_factory, clock, hub_app, sites, hub_accounts
):
    site, now = staffed_site(site_factory, clock)
    with site.db.read() as session:
        snapshot = status_snapshot(
            session, {"controller_now": now.isoformat()}, now, site.config.tz
        )
    assert snapshot["on_shift"] == [
        {"id": 1, "name": "Ann", "device_in": True},
        {"id": 2, "name": "Bob", "device_in": False},
    ]
    assert "04A1B2C3D4" not in json.dumps(snapshot)
    client = hub_app.test_client()
    assert send(client, sites["oak"], "/api/ingest/status", snapshot).status_code == 204
    admin = {"Authorization": f"Bearer {hub_accounts['gina']}"}
    page = client.get("/", headers=admin).get_data(as_text=True)
    assert "1 of 2 (50 %)" in page
    one = client.get("/sites/oak", headers=admin).get_data(as_text=True)
    assert "Bob (#2): no device deposited" in one


def test_the_snapshot_carries_the_rota_and_the_hub_counts_minutes_from_it(
    site_factory, clock, hub_app, hub_db, sites
):
    site, now = staffed_site(site_factory, clock)
    with site.db.read() as session:
        snapshot = status_snapshot(session, None, now, site.config.tz)
        later = status_snapshot(
            session, None, now, site.config.tz, shifts_from=now.date() - timedelta(days=90)
        )
    today = now.astimezone(site.config.tz).date()
    assert snapshot["shift_days"] == [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    assert [(s["name"], len(s["breaks"])) for s in snapshot["shifts"]] == [
        ("Ann", 0),
        ("Bob", 0),
        ("Cy", 1),
        ("Di", 0),
    ]
    # A site back after months sends at most a month of shifts.
    assert later["shift_days"][0] == (today - timedelta(days=30)).isoformat()
    assert "04A1B2C3D4" not in json.dumps(snapshot["shifts"])
    client = hub_app.test_client()
    assert send(client, sites["oak"], "/api/ingest/status", snapshot).status_code == 204
    clock.advance(30 * 60)
    from hub.accounts import find_site
    from hub.shifts import shift_minutes

    with hub_db.session() as s:
        counted = {
            m.name: (m.on_shift, m.without_device)
            for m in shift_minutes(s, find_site(s, "oak"), today, today, clock.now())
        }
    # No deposit was shipped: everyone on shift so far is without a device, breaks aside.
    assert counted == {"Ann": (90, 90), "Bob": (90, 90), "Cy": (60, 60), "Di": (0, 0)}
