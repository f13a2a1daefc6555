"""Subject access: the export holds every row about the person, and nobody else's."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from locker import events as ev
from locker.account_links import link_account
from locker.accounts import add_account, create_token, start_session
from locker.config import HubConfig
from locker.decisions import LogEntry
from locker.log import append, verify
from locker.models import (
    Alert,
    Break,
    Custody,
    Event,
    Grant,
    Person,
    PersonHold,
    Shift,
    Slot,
)
from locker.people import add_person
from locker.privacy import forget_person
from locker.subject_access import (
    SECRET_COLUMNS,
    collect,
    file_name,
    person_columns,
    record_export,
    zip_bytes,
)
from locker.subject_access_page import notice_for
from tests.support.nursery import MONDAY, at, make_config


def _slot(session, person, now):
    session.add(Slot(number=1, kind="staff", since=now, occupant_id=person.id, state="held"))


def _shift(session, person, now):
    shift = Shift(person_id=person.id, day=MONDAY, start=now, end=now + timedelta(hours=8))
    shift.breaks.append(Break(start=now + timedelta(hours=3), end=now + timedelta(hours=4)))
    session.add(shift)


def _custody(session, person, now):
    session.add(Custody(slot_number=1, person_id=person.id, deposited_at=now))


def _grant(session, person, now):
    session.add(
        Grant(
            person_id=person.id,
            reason="outing",
            created_by="mary",
            created_at=now,
            valid_until=now + timedelta(hours=1),
        )
    )


def _alert(session, person, now):
    session.add(Alert(alert="overdue", slot=1, person_id=person.id, raised_at=now))


def _account(session, person, now):
    """A panel account named unlike the person, linked to them, with a login, a token and
    an action; and an account named like them but not theirs."""
    account = add_account(session, "room2.deputy", "manager", "pw-aisha-1", at=now, actor="t")
    link_account(session, account, person, at=now, actor="admin", client="10.0.0.7")
    start_session(session, account, client="10.0.0.9", at=now)
    create_token(session, "room2.deputy", at=now, actor="admin")
    details = {"what": "note", "person_id": person.id, "client": "10.0.0.9"}
    append(session, LogEntry(ev.CONFIG_CHANGED, "room2.deputy", None, None, details), now)
    add_account(session, "aisha.khan", "viewer", "pw-somebody", at=now, actor="t")


def _hold(session, person, now):
    session.add(PersonHold(person_id=person.id, reason="inspection", set_by="mary", set_at=now))


#: How to give a person a row in each table that refers to ``people.id``. A new
#: table with such a key needs a line here (the test below says so), so its rows
#: are checked to be in the export.
ROWS_IN = {
    "slots": _slot,
    "shifts": _shift,
    "custody": _custody,
    "grants": _grant,
    "alerts": _alert,
    "person_holds": _hold,
    "panel_accounts": _account,
    "badges": lambda session, person, now: None,  # add_person gave them one
}


@pytest.fixture
def aisha(db):
    """Aisha (with a row in every table about people, and a panel account) and Bob."""
    now = at(MONDAY, "07:30")
    with db.write() as session:
        aisha = add_person(session, "Aisha Khan", badge="A4B5C6D7", at=now, actor="mary")
        bob = add_person(session, "Bob", badge="B0B0B0B0", at=now, actor="mary")
        session.flush()
        for add in ROWS_IN.values():
            add(session, aisha, now)
            session.flush()  # the slot before the custody that names it
        _shift(session, bob, now)
        _alert(session, bob, now)
        twelve = {"what": "other", "person_id": aisha.id * 10 + 2}
        append(session, LogEntry(ev.CONFIG_CHANGED, "mary", None, None, twelve), now)
        session.commit()
        return aisha.id, bob.id


def _export(db, person_id, config=None):
    config = config or make_config()
    with db.read() as session:
        data = collect(session, person_id, notice=notice_for(config), at=at(MONDAY, "12:00"))
    return data, zipfile.ZipFile(io.BytesIO(zip_bytes(data)))


def _json(archive, name):
    return json.loads(archive.read(name))


def test_every_table_that_refers_to_people_is_in_the_export_with_the_persons_rows(db, aisha):
    aisha_id, _ = aisha
    columns = person_columns()
    assert {table.name for table, _ in columns} >= {"badges", "shifts", "custody", "grants"}
    _, archive = _export(db, aisha_id)
    with db.read() as session:
        for table, column in columns:
            assert table.name in ROWS_IN, (
                f"{table.name}.{column.name} refers to people.id: add a row builder to ROWS_IN "
                "so the export is checked to carry its rows"
            )
            key = list(table.primary_key.columns)[0].name
            expected = set(session.scalars(select(table.c[key]).where(column == aisha_id)))
            assert expected, f"the fixture gave Aisha no row in {table.name}"
            exported = {row[key] for row in _json(archive, f"{table.name}.json")}
            assert exported == expected, table.name


def test_the_export_holds_breaks_events_and_the_panel_account_but_no_secrets(db, aisha):
    aisha_id, bob_id = aisha
    _, archive = _export(db, aisha_id)
    assert _json(archive, "person.json")[0]["name"] == "Aisha Khan"
    with db.read() as session:
        breaks = session.scalars(
            select(Break.id).join(Shift).where(Shift.person_id == aisha_id)
        ).all()
    assert [b["id"] for b in _json(archive, "breaks.json")] == breaks
    events = _json(archive, "events.json")
    assert {e["kind"] for e in events} == {ev.CONFIG_CHANGED}
    assert any(e["person_id"] is None and e["details"]["person_id"] == aisha_id for e in events)
    # Details naming person 12 are not about person 1, nor is anything of Bob's.
    assert all(e["details"].get("person_id") in (None, aisha_id) for e in events)
    assert all(e["person_id"] in (None, aisha_id) for e in events)
    # The account linked to her, not the one that happens to be called like her.
    assert [a["username"] for a in _json(archive, "panel_accounts.json")] == ["room2.deputy"]
    assert _json(archive, "panel_sessions.json")[0]["client"] == "10.0.0.9"
    assert len(_json(archive, "api_tokens.json")) == 1
    panel = _json(archive, "panel_events.json")
    acted = [e for e in panel if e["actor"] == "@account"]
    assert [e["details_read"]["actor"] for e in acted] == ["room2.deputy"]
    assert acted[0]["details_read"]["client"] == "10.0.0.9"
    added = [e["details_read"] for e in panel if "added" in e["details_read"]["what"]]
    assert [d["username"] for d in added] == ["room2.deputy"]
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for secret in SECRET_COLUMNS:
        assert secret.encode() not in everything
    assert b"argon2" not in everything
    assert b'"name": "Bob"' not in everything


def test_summary_states_purposes_recipients_and_retention(db, aisha):
    aisha_id, _ = aisha
    config = dataclasses.replace(make_config(), hub=HubConfig(url="https://hub.group.example"))
    data, archive = _export(db, aisha_id, config)
    page = archive.read("summary.html").decode()
    assert "What Test Nursery holds about Aisha Khan" in page
    assert "Why we hold it" in page and "EYFS" in page
    assert "hub.group.example" in page
    assert "365 days" in page and "90 days" in page and "180 days" in page  # [retention]
    assert "A4B5C6D7" in page  # the badge, in the badges table
    assert page.count("<table>") >= len(data.records)
    about = _json(archive, "about.json")
    assert about["recipients"][-1].startswith("The group's hub at hub.group.example")
    assert set(about["files"]) <= set(archive.namelist())
    assert "Aisha" not in file_name(data)


def test_without_a_hub_the_hub_is_not_a_recipient(db, aisha):
    _, archive = _export(db, aisha[0])
    assert "hub" not in " ".join(_json(archive, "about.json")["recipients"])


def test_a_person_without_an_account_has_empty_account_files(db, aisha):
    _, archive = _export(db, aisha[1])
    assert _json(archive, "panel_accounts.json") == []
    assert _json(archive, "panel_events.json") == []
    assert _json(archive, "person.json")[0]["name"] == "Bob"


def test_the_export_is_logged_and_the_chain_still_verifies(db, aisha):
    aisha_id, _ = aisha
    with db.write() as session:
        record_export(session, aisha_id, actor="cli:sam", via="cli", at=at(MONDAY, "12:00"))
        session.commit()
    with db.read() as session:
        event = session.scalars(select(Event).order_by(Event.id.desc())).first()
        assert (event.kind, event.actor, event.person_id) == (ev.PERSON_EXPORTED, "cli:sam", 1)
        assert json.loads(event.details) == {"via": "cli"}
        assert verify(session).ok


def test_an_unknown_person_is_a_clear_error(db, aisha):
    from locker.errors import NotFound

    with db.read() as session, pytest.raises(NotFound, match="nobody with id 99"):
        collect(session, 99, notice=notice_for(make_config()), at=at(MONDAY, "12:00"))
    with db.read() as session:
        assert session.get(Person, 99) is None


def test_values_in_the_log_are_read_back_for_the_person_only(db, aisha):
    aisha_id, bob_id = aisha
    with db.write() as session:
        details = {"what": "pair", "name": "Aisha Khan", "manager": "Bob", "manager_id": bob_id}
        append(
            session,
            LogEntry(ev.CONFIG_CHANGED, "mary", None, aisha_id, details),
            at(MONDAY, "09:00"),
        )
        session.commit()
    _, archive = _export(db, aisha_id)
    last = _json(archive, "events.json")[-1]
    assert last["details_read"]["name"] == "Aisha Khan"
    assert last["details_read"]["manager"] == "(another person)"
    assert "Bob" not in json.dumps(last)
    values = _json(archive, "personal_values.json")
    assert "Aisha Khan" in {v["value"] for v in values}
    assert all("salt" not in v for v in values)


def test_after_forget_no_export_holds_the_name_or_the_card_number(db, aisha):
    aisha_id, _ = aisha
    with db.write() as session:
        session.execute(delete(PersonHold).where(PersonHold.person_id == aisha_id))
        session.execute(update(Slot).values(occupant_id=None, state="free"))
        session.execute(
            update(Custody).values(ended_at=at(MONDAY, "16:00"), end_reason="shift_end")
        )
        forget_person(session, aisha_id, actor="mary", at=at(MONDAY, "17:00"))
        session.commit()
    for person_id in aisha:
        _, archive = _export(db, person_id)
        for name in archive.namelist():
            content = archive.read(name)
            for secret in (
                b"Aisha",
                b"Khan",
                b"A4B5C6D7",
                bytes.fromhex("A4B5C6D7"),
                b"room2.deputy",
                b"10.0.0.9",
                b"10.0.0.7",
            ):
                assert secret not in content, (person_id, name, secret)
    _, archive = _export(db, aisha_id)
    assert _json(archive, "person.json")[0]["name"] == f"Former staff #{aisha_id}"
    with db.read() as session:
        assert verify(session).ok
