"""People at the hub: names shipped beside the chain and checked against it; a person
the site forgets is erased at the hub too (searched in every text column of every table)."""

from __future__ import annotations

import copy
from datetime import timedelta

from sqlalchemy import select

from hub.models import SiteEvent, SitePersonalValue
from locker.log import verify
from locker.models import Shift
from locker.people import add_person
from locker.privacy import forget_person
from locker.shipping import next_batch
from tests.support.hub import PASSWORD, every_text_at_the_hub, log_in, send, serving

NAME = "Zelda Quimby-Farthing"
MANAGER = "Mabel Okonkwo"
UID = "A9B8C7D6"
NOTE = "Zelda's hospital appointment"


def a_leaver(site, clock) -> tuple[int, int]:
    """Zelda (with a badge, a shift today) and Mabel her manager; a manager release with a
    note and an on-the-spot approval naming them both. Their ids."""
    now = clock.now()
    with site.db.write() as session:
        zelda = add_person(session, NAME, badge=UID, at=now, actor="cli:root").id
        mabel = add_person(session, MANAGER, role="manager", at=now, actor="cli:root").id
        day = now.astimezone(site.config.tz).date()
        session.add(Shift(person_id=zelda, day=day, start=now, end=now + timedelta(hours=8)))
        session.commit()
    site.log_at(now, "release.manager", zelda, 1, reason="family", note=NOTE)
    site.log_at(
        now, "approval.on_the_spot", zelda, 1, person=NAME, manager=MANAGER, manager_id=mabel
    )
    return zelda, mabel


def test_a_forgotten_person_is_erased_at_the_hub_and_its_pages_say_former_staff(
    hub_db, sites, site_factory, clock
):
    oak = site_factory("oak")
    zelda, mabel = a_leaver(oak, clock)
    with hub_db.session() as s:
        from hub.accounts import add_account

        add_account(s, "gina", "group_admin", PASSWORD, [], clock.now())
    with serving(hub_db, clock) as hub:
        worker = oak.worker(hub.url, sites["oak"])
        worker.run_once()
        client = hub.app.test_client()
        log_in(client, "gina", PASSWORD)
        page = client.get("/sites/oak").get_data(as_text=True)
        assert NAME in page and MANAGER in page  # names shipped and shown
        assert NOTE not in page and "(kept at the site)" in page  # notes stay at the site
        overrides = client.get("/overrides").get_data(as_text=True)
        assert NAME in overrides and MANAGER in overrides
        held = every_text_at_the_hub(hub_db)
        assert NAME in held and UID not in held and NOTE not in held

        with oak.db.read() as session:
            before = next_batch(session, 0, 100)  # names and all, as shipped before the erasure
        with oak.db.write() as session:
            forget_person(session, zelda, actor="cli:root", at=clock.now())
            session.commit()
        clock.advance(60)
        assert worker.run_once().shipped == 1  # person.forgotten
        # The old batch sent again (a lost answer, a replay) brings no name back.
        assert send(client, sites["oak"], "/api/ingest/events", before).json["stored"] == 0

        held = every_text_at_the_hub(hub_db)
        assert NAME not in held and "Zelda" not in held and "Quimby" not in held
        assert MANAGER in held  # only the forgotten person goes
        page = client.get("/sites/oak").get_data(as_text=True)
        assert NAME not in page and f"Former staff #{zelda}" in page
        overrides = client.get("/overrides").get_data(as_text=True)
        assert NAME not in overrides and f"Former staff #{zelda}" in overrides
    with oak.db.read() as session:
        assert verify(session).ok  # the site's chain is whole, and so is the hub's copy
    with hub_db.session() as s:
        assert (
            s.scalar(select(SitePersonalValue.ref).where(SitePersonalValue.person_id == zelda))
            is None
        )


def test_a_name_that_does_not_match_its_commitment_is_refused(
    hub_app, hub_db, sites, site_factory, clock
):
    oak = site_factory("oak")
    a_leaver(oak, clock)
    with oak.db.read() as session:
        batch = next_batch(session, 0, 100)
    assert {v["value"] for v in batch["values"]} == {NAME, MANAGER}
    assert all(v["field"] in {"name", "person", "manager"} for v in batch["values"])
    client = hub_app.test_client()
    forged = copy.deepcopy(batch)
    forged["values"][0]["value"] = "Someone Else"
    answer = send(client, sites["oak"], "/api/ingest/events", forged)
    assert answer.status_code == 400
    assert "does not match the event's commitment" in answer.json["error"]
    note = copy.deepcopy(batch)
    note["values"][0]["field"] = "note"
    answer = send(client, sites["oak"], "/api/ingest/events", note)
    assert answer.status_code == 400 and "only people's names" in answer.json["error"]
    with hub_db.session() as s:
        assert s.scalar(select(SiteEvent.seq).limit(1)) is None  # nothing of either was stored
    assert send(client, sites["oak"], "/api/ingest/events", batch).status_code == 200
    # Sent again, the batch brings no value back (none of its events is new).
    assert send(client, sites["oak"], "/api/ingest/events", batch).json["stored"] == 0
