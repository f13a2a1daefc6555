"""Panel accounts as personal data: linked to people, their names and addresses committed."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from locker import events as ev
from locker.account_links import likely_person, link_account
from locker.accounts import add_account, end_session, start_session
from locker.config_retention import RetentionConfig
from locker.decisions import LogEntry
from locker.errors import InvalidRequest
from locker.log import append, paper_mismatch, verify, write_checkpoint
from locker.log.personal import ACCOUNT_ACTOR, shown_events
from locker.models import (
    Event,
    LoginThrottle,
    PanelAccount,
    PanelSession,
    Person,
    PersonalValue,
)
from locker.people import add_person
from locker.privacy import forget_person, wipe_free_pages
from locker.retention import apply_retention
from tests.support.nursery import make_config

ACCOUNT = "room2.deputy"
ADDRESS = "203.0.113.9"
OTHER_ADDRESS = "198.51.100.4"
DAY = 24 * 3600


def log_in(session, account: PanelAccount, address: str, now) -> str:
    """What the panel does on a login (web/auth.py): a session, then ``auth.login``."""
    key = start_session(session, account, client=address, at=now)
    details = {"username": account.username, "client": address}
    append(session, LogEntry(ev.AUTH_LOGIN, account.username, details=details), now)
    return key


def log_out(session, account: PanelAccount, key: str, address: str, now) -> None:
    end_session(session, key, at=now)
    details = {"username": account.username, "client": address}
    append(session, LogEntry(ev.AUTH_LOGOUT, account.username, details=details), now)


@pytest.fixture
def aisha(db, clock):
    """Aisha Khan, and a panel account of hers whose name does not spell hers."""
    with db.write() as session:
        person = add_person(session, "Aisha Khan", badge="A4B5C6D7", at=clock.now(), actor="t")
        add_account(session, ACCOUNT, "manager", "pw-aisha-12", at=clock.now(), actor="cli:root")
        session.commit()
        return person.id


def the_account(session) -> PanelAccount:
    return session.scalars(select(PanelAccount).where(PanelAccount.username == ACCOUNT)).one()


def db_bytes(db) -> bytes:
    db.dispose()
    files = [db.path, db.path.with_name(db.path.name + "-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


def test_a_login_is_hashed_with_commitments_and_read_back_in_clear(db, clock, aisha):
    with db.write() as session:
        log_in(session, the_account(session), ADDRESS, clock.now())
        session.commit()
    with db.read() as session:
        (login,) = session.scalars(select(Event).where(Event.kind == ev.AUTH_LOGIN))
        assert login.actor == ACCOUNT_ACTOR
        assert ACCOUNT not in login.details and ADDRESS not in login.details
        (shown,) = shown_events(session, [login])
        assert shown.actor == ACCOUNT
        assert ADDRESS in shown.details and ACCOUNT in shown.details
        assert '"actor"' not in shown.details  # shown as the actor, not twice
        assert verify(session).ok


def test_retention_erases_a_logins_names_and_address_on_time_while_the_event_stays(
    db, clock, aisha
):
    with db.write() as session:
        append(  # an older custody event keeps the logins in the chain
            session,
            LogEntry(ev.BADGE_GRANTED, "daemon", 1, aisha, {"uid": "A4B5C6D7"}),
            clock.now(),
        )
        account = the_account(session)
        key = log_in(session, account, ADDRESS, clock.now())
        log_out(session, account, key, ADDRESS, clock.now())
        session.commit()
    clock.advance(100 * DAY)
    config = dataclasses.replace(
        make_config(), retention_days=400, retention=RetentionConfig(login_days=90)
    )
    with db.write() as session:
        apply_retention(session, config, clock.now(), "daemon")
        session.commit()
    with db.read() as session:
        logins = session.scalars(
            select(Event).where(Event.kind.in_([ev.AUTH_LOGIN, ev.AUTH_LOGOUT]))
        ).all()
        assert len(logins) == 2, "the purge cannot pass the custody event before them"
        assert [s.actor for s in shown_events(session, logins)] == ["(erased)", "(erased)"]
        ids = [e.id for e in logins]
        assert (
            session.scalars(select(PersonalValue).where(PersonalValue.event_id.in_(ids))).all()
            == []
        )
        assert verify(session).ok
    wipe_free_pages(db.engine)
    assert ADDRESS.encode() not in db_bytes(db)


def test_forget_erases_the_linked_accounts_name_and_addresses_and_the_log_verifies(
    db, clock, aisha
):
    with db.write() as session:
        account = the_account(session)
        key = log_in(session, account, OTHER_ADDRESS, clock.now())  # before the link
        log_out(session, account, key, OTHER_ADDRESS, clock.now())
        person = session.get(Person, aisha)
        link_account(session, account, person, at=clock.now(), actor="cli:root")
        log_in(session, account, ADDRESS, clock.now())
        details = {"what": "note", "client": ADDRESS}
        append(session, LogEntry(ev.CONFIG_CHANGED, ACCOUNT, None, None, details), clock.now())
        # Wrong passwords typed for the account are counted by its name. (An address's
        # own count names nobody; it goes with retention.login_days.)
        for key in (f"name:{ACCOUNT}", f"pair:{OTHER_ADDRESS} {ACCOUNT}"):
            session.add(LoginThrottle(key=key, failures=1, updated_at=clock.now()))
        printed = write_checkpoint(session, clock.now())
        paper = (printed.event_id, printed.hash)
        session.commit()
    with db.write() as session:
        forget_person(session, aisha, actor="cli:root", at=clock.now())
        session.commit()
    wipe_free_pages(db.engine)
    with db.read() as session:
        account = session.scalars(select(PanelAccount).where(PanelAccount.person_id == aisha)).one()
        assert (account.username, account.active) == (f"former-account-{account.id}", False)
        sessions = session.scalars(select(PanelSession)).all()
        assert all(s.ended_at is not None and s.client == "" for s in sessions)
        assert verify(session).ok
        assert paper_mismatch(session, *paper) is None
    data = db_bytes(db)
    for secret in (ACCOUNT, ADDRESS, OTHER_ADDRESS, "Aisha", "A4B5C6D7"):
        assert secret.encode() not in data, secret


def test_a_forgotten_person_cannot_be_linked_and_a_name_only_suggests(db, clock, aisha):
    with db.write() as session:
        add_account(session, "aisha.khan", "viewer", "pw-somebody", at=clock.now(), actor="t")
        assert likely_person(session, "aisha.khan").id == aisha
        assert likely_person(session, ACCOUNT) is None
        assert the_account(session).person_id is None  # a suggestion links nothing
        forget_person(session, aisha, actor="cli:root", at=clock.now())
        with pytest.raises(InvalidRequest, match="forgotten"):
            link_account(
                session, the_account(session), session.get(Person, aisha), at=clock.now(), actor="t"
            )
