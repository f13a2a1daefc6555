"""Forgetting a leaver and legal holds: erased everywhere, the log still verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, Tick
from locker.errors import NotFound, PersonHasDevice, PersonOnHold
from locker.log import paper_mismatch, verify, write_checkpoint
from locker.log.personal import PERSON_ACTOR, Resolver
from locker.models import Badge, Command, Event, Person, PersonalValue
from locker.privacy import find_person, forget_person, holds, set_hold, wipe_free_pages
from tests.support.nursery import MONDAY, at

NAME = "Alice"
UID = "A1A1A1A1"
NOTE = "Dentist appointment for Alice"


@pytest.fixture
def aisha(people):
    """Alice of the controller tests: a shift today, her badge, Mary the manager."""
    return people["alice"]


def a_day_in_the_locker(controller, db, clock, aisha) -> None:
    """Aisha deposits, gets a grant with a note, collects at the end of her shift."""
    controller.handle(BadgeRead(UID))
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, True))
    controller.handle(DoorChanged(1, False))
    with db.write() as session:
        command = Command(
            kind="grant",
            payload={"person_id": aisha, "reason": "other", "note": NOTE},
            account="mary",
            created_at=clock.now(),
        )
        session.add(command)
        session.commit()
    controller.run_command(command.id)
    clock.advance((at(MONDAY, "16:01") - clock.now()).total_seconds())
    controller.handle(Tick())
    controller.handle(BadgeRead(UID))
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, False))
    controller.handle(DoorChanged(1, False))
    controller.handle(Tick())


def test_the_chain_holds_commitments_not_names(db, controller, clock, aisha):
    a_day_in_the_locker(controller, db, clock, aisha)
    with db.read() as session:
        stored = [(e.actor, e.details) for e in session.scalars(select(Event))]
        assert not [s for s in stored if NAME in s[0] + s[1] or UID in s[0] + s[1]]
        assert f"{PERSON_ACTOR}{aisha}" in {actor for actor, _ in stored}
        granted = session.scalars(select(Event).where(Event.kind == ev.GRANT_CREATED)).one()
        resolver = Resolver(session)
        resolver.load([granted.details])
        import json

        assert resolver.details(json.loads(granted.details), aisha)["note"] == NOTE


def test_forget_erases_the_person_everywhere_and_the_log_still_verifies(
    db, controller, clock, aisha, tmp_path
):
    a_day_in_the_locker(controller, db, clock, aisha)
    with db.write() as session:
        printed = write_checkpoint(session, clock.now())
        session.commit()
        printed = (printed.event_id, printed.hash)
    with db.write() as session:
        forget_person(session, aisha, actor="cli:root", at=clock.now())
        session.commit()
    wipe_free_pages(db.engine)
    with db.read() as session:
        person = session.get(Person, aisha)
        assert person.name == f"Former staff #{aisha}" and not person.active
        assert all(
            b.revoked_at is not None
            for b in session.scalars(select(Badge)).all()
            if b.person_id == aisha
        )
        assert (
            session.scalars(select(PersonalValue).where(PersonalValue.person_id == aisha)).all()
            == []
        )
        assert verify(session).ok
        assert paper_mismatch(session, *printed) is None
        assert (
            session.scalars(select(Event.kind).order_by(Event.id.desc())).first()
            == ev.PERSON_FORGOTTEN
        )
    db.dispose()
    files = [db.path, db.path.with_name(db.path.name + "-wal")]
    for path in files:
        if path.exists():
            data = path.read_bytes()
            for secret in (NAME, UID, NOTE, "Dentist"):
                assert secret.encode() not in data, f"{secret!r} is still in {path.name}"


def test_forget_is_refused_while_the_device_is_in_a_slot(db, controller, clock, aisha):
    controller.handle(BadgeRead(UID))
    controller.handle(DoorChanged(1, True))
    controller.handle(DeviceChanged(1, True))
    controller.handle(DoorChanged(1, False))
    with db.write() as session, pytest.raises(PersonHasDevice, match="still in slot 1"):
        forget_person(session, aisha, actor="cli:root", at=clock.now())


def test_a_hold_blocks_forget_until_it_is_released(db, clock, aisha):
    with db.write() as session:
        set_hold(session, aisha, reason="allegation 2026-14", actor="cli:root", at=clock.now())
        session.commit()
    with db.write() as session:
        assert holds(session) == {aisha: "allegation 2026-14"}
        with pytest.raises(PersonOnHold, match="on legal hold"):
            forget_person(session, aisha, actor="cli:root", at=clock.now())
    with db.write() as session:
        set_hold(session, aisha, reason="", actor="cli:root", at=clock.now(), release=True)
        forget_person(session, aisha, actor="cli:root", at=clock.now())
        session.commit()
        kinds = session.scalars(select(Event.kind).order_by(Event.id)).all()
        assert kinds[-3:] == [ev.PERSON_HOLD, ev.PERSON_HOLD, ev.PERSON_FORGOTTEN]
        assert holds(session) == {}


@pytest.mark.parametrize(
    ("asked", "words"),
    [("77", "nobody with id 77"), ("Zed", "the name 'Zed'"), (" ", "by their id")],
)
def test_find_person_names_what_was_asked(db, aisha, asked, words):
    with db.read() as session:
        assert find_person(session, str(aisha)).name == NAME
        assert find_person(session, NAME).id == aisha
        with pytest.raises(NotFound, match=words):
            find_person(session, asked)


def test_a_grant_note_over_the_cap_is_refused_with_the_reason(db, controller, clock, aisha):
    with db.write() as session:
        command = Command(
            kind="grant",
            payload={"person_id": aisha, "reason": "other", "note": "x" * 201},
            account="mary",
            created_at=clock.now(),
        )
        session.add(command)
        session.commit()
    _outputs, result = controller.run_command(command.id)
    assert "at most 200 characters" in str(result) and "health details" in str(result)


def test_forget_reads_only_the_copies_that_name_the_person(db, clock):
    """The scrub is a bounded query: of 300 alerts and requests, only those holding the
    name (in any spelling the database stores, JSON's escaped one too) are loaded."""
    from sqlalchemy import event as orm_event

    from locker.models import Alert
    from locker.people import add_person

    name = "Zoë Ærøskøbing"
    now = clock.now()
    with db.write() as session:
        zoe = add_person(session, name, badge="2E0E0E0E", at=now, actor="cli:root").id
        for n in range(150):
            session.add(Alert(alert="overdue", slot=1, details={"message": f"n{n}"}, raised_at=now))
            session.add(Command(kind="reload", account="mary", created_at=now))
        late = {"message": f"{name} is late"}
        session.add(Alert(alert="overdue", slot=1, details=late, raised_at=now))
        payload = {"note": f"for {name}"}
        session.add(Command(kind="grant", payload=payload, account="mary", created_at=now))
        session.commit()
    loaded = []

    def count(target, _context):
        loaded.append(type(target).__name__)

    for model in (Alert, Command):
        orm_event.listen(model, "load", count)
    try:
        with db.write() as session:
            forget_person(session, zoe, actor="cli:root", at=clock.now())
            session.commit()
    finally:
        for model in (Alert, Command):
            orm_event.remove(model, "load", count)
    assert sorted(loaded) == ["Alert", "Command"]
    wipe_free_pages(db.engine)
    db.dispose()
    data = db.path.read_bytes()
    for spelling in (name, json.dumps(name)[1:-1]):
        assert spelling.encode() not in data, spelling
