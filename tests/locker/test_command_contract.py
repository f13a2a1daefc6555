"""The command contract: one typed payload per kind, one parser, errors that name the field;
and a daemon that reads each command row once."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from locker import commands as cmd
from locker.commands import CommandKind, parse_command, payload_of
from locker.controller import Controller
from locker.decisions import SensorReading
from locker.errors import CommandRejected, NoSuchSlot, NotFound
from locker.models import Command
from tests.support.nursery import make_config

#: Slots 1-2 staff, 3 visitor, 4 setting (``make_config(staff=2)``).
BANK = {1: "staff", 2: "staff", 3: "visitor", 4: "setting"}

GOOD = [
    (CommandKind.RELOAD, {}, cmd.Reload()),
    (
        CommandKind.GRANT,
        {"person_id": 7, "reason": "outing", "note": " zoo ", "return_minutes": 90},
        cmd.Grant(7, "outing", "zoo", False, 90),
    ),
    (
        CommandKind.GRANT,
        {"person_id": 7, "reason": "emergency", "open_now": True},
        cmd.Grant(7, "emergency", "", True, None),
    ),
    (
        CommandKind.RELEASE_SLOT,
        {"slot": 1, "reason": "sick child"},
        cmd.ReleaseSlot(1, "sick child"),
    ),
    (CommandKind.RELEASE_ALL, {"reason": "fire", "confirm": True}, cmd.ReleaseAll("fire")),
    (CommandKind.VISITOR_IN, {"name": "Ofsted"}, cmd.VisitorIn("Ofsted", None)),
    (CommandKind.VISITOR_IN, {"name": "Ofsted", "slot": 3}, cmd.VisitorIn("Ofsted", 3)),
    (CommandKind.VISITOR_OUT, {"slot": 3}, cmd.VisitorOut(3)),
    (CommandKind.STOCK, {"slot": 4}, cmd.Stock(4)),
    (CommandKind.SIM_BADGE, {"uid": "a1:a1:a1:a1"}, cmd.SimBadge("A1A1A1A1")),
    (CommandKind.SIM_SLOT, {"slot": 2, "door": "open"}, cmd.SimSlot(2, "open", None)),
    (CommandKind.SIM_SLOT, {"slot": 2, "device": False}, cmd.SimSlot(2, None, False)),
    (CommandKind.SIM_CLOCK, {"advance_s": 60}, cmd.SimClock(60)),
    (CommandKind.SIM_READER, {"fail": "bad_bcc"}, cmd.SimReader("bad_bcc")),
    (CommandKind.SIM_READER, {}, cmd.SimReader(None)),
]


@pytest.mark.parametrize(("kind", "payload", "parsed"), GOOD, ids=[str(g[0]) for g in GOOD])
def test_every_kind_parses_to_its_typed_payload_and_back(kind, payload, parsed):
    assert parse_command(kind, payload, BANK) == parsed
    # What the panel stores parses to the same thing on the daemon's side.
    assert parse_command(kind, payload_of(parsed), BANK) == parsed


def test_every_kind_has_a_parser():
    parsed = {type(p) for _, _, p in GOOD}
    assert {k for k, _, _ in GOOD} == set(CommandKind)
    assert len(parsed) == len(CommandKind)


BAD = [
    ("teleport", {}, "unknown command 'teleport'"),
    (CommandKind.RELOAD, [], "payload must be a JSON object"),
    (CommandKind.RELOAD, {"now": True}, "unknown field 'now' (expected: nothing)"),
    (CommandKind.GRANT, {"reason": "outing"}, "person_id must be a whole number"),
    (CommandKind.GRANT, {"person_id": True, "reason": "outing"}, "person_id must be a whole"),
    (CommandKind.GRANT, {"person_id": 0, "reason": "outing"}, "person_id must be between"),
    (CommandKind.GRANT, {"person_id": 1, "reason": "bored"}, "reason must be one of emergency"),
    (CommandKind.GRANT, {"person_id": 1, "reason": "other", "note": " "}, "'other' needs a note"),
    (
        CommandKind.GRANT,
        {"person_id": 1, "reason": "outing", "note": "x" * 201},
        "note: at most 200 characters; do not write health details here",
    ),
    (CommandKind.GRANT, {"person_id": 1, "reason": "outing", "note": "a\u202eb"}, "U+202E"),
    (CommandKind.GRANT, {"person_id": 1, "reason": "outing", "open_now": 1}, "open_now must be"),
    (
        CommandKind.GRANT,
        {"person_id": 1, "reason": "outing", "return_minutes": 1441},
        "return_minutes must be between 1 and 1440",
    ),
    (CommandKind.GRANT, {"person_id": 1, "reason": "x", "opennow": 1}, "unknown field 'opennow'"),
    (CommandKind.RELEASE_SLOT, {"slot": "1", "reason": "x"}, "slot must be a whole number"),
    (CommandKind.RELEASE_SLOT, {"slot": 1}, "reason is needed"),
    (CommandKind.RELEASE_SLOT, {"slot": 1, "reason": "y" * 501}, "reason is too long"),
    (CommandKind.RELEASE_ALL, {"reason": "fire"}, "confirm must be true"),
    (CommandKind.RELEASE_ALL, {"reason": "fire", "confirm": "yes"}, "confirm must be true"),
    (CommandKind.VISITOR_IN, {"name": "N" * 121}, "name is too long (at most 120"),
    (CommandKind.VISITOR_IN, {"name": "Ann", "slot": 1}, "slot 1 is not a visitor slot"),
    (CommandKind.VISITOR_OUT, {"slot": 4}, "slot 4 is not a visitor slot"),
    (CommandKind.STOCK, {"slot": 1}, "slot 1 is not a setting slot"),
    (CommandKind.STOCK, {}, "slot must be a whole number"),
    (CommandKind.SIM_BADGE, {"uid": ""}, "uid must be the card's UID"),
    (CommandKind.SIM_BADGE, {"uid": "ZZZZZZZZ"}, "uid: badge UID 'ZZZZZZZZ' is not 4, 7 or 10"),
    (CommandKind.SIM_BADGE, {"uid": "A1A1A1"}, "is not 4, 7 or 10 bytes of hex"),
    (CommandKind.SIM_BADGE, {"uid": "88EDD4D3"}, "no card's UID starts with 88"),
    (CommandKind.SIM_SLOT, {"slot": 1}, "send door"),
    (CommandKind.SIM_SLOT, {"slot": 1, "door": "ajar"}, 'door must be "open" or "closed"'),
    (CommandKind.SIM_SLOT, {"slot": 1, "device": "yes"}, "device must be true"),
    (CommandKind.SIM_CLOCK, {"advance_s": 0}, "advance_s must be above 0"),
    (CommandKind.SIM_CLOCK, {"advance_s": float("inf")}, "finite"),
    (CommandKind.SIM_CLOCK, {"advance_s": 10**400}, "at most 604800"),
    (CommandKind.SIM_READER, {"fail": "smoke"}, "fail must be null"),
]


@pytest.mark.parametrize(("kind", "payload", "error"), BAD, ids=[b[2] for b in BAD])
def test_a_bad_payload_is_rejected_naming_the_field(kind, payload, error):
    with pytest.raises(CommandRejected) as caught:
        parse_command(kind, payload, BANK)
    assert error in str(caught.value)


def test_a_slot_the_bank_does_not_have_is_not_found():
    with pytest.raises(NoSuchSlot, match="there is no slot 99") as caught:
        parse_command(CommandKind.RELEASE_SLOT, {"slot": 99, "reason": "x"}, BANK)
    # One error type for the callers, and a 404 for the panel's.
    assert isinstance(caught.value, CommandRejected) and isinstance(caught.value, NotFound)


def test_without_the_bank_only_the_type_of_a_slot_is_checked():
    assert parse_command(CommandKind.STOCK, {"slot": 99}) == cmd.Stock(99)


def test_the_daemon_reads_each_command_row_once(db, clock):
    config = make_config(staff=2)
    controller = Controller(config, db, clock)
    controller.start({s.number: SensorReading(False, False) for s in config.slots})
    with db.write() as session:
        for kind, payload in ((CommandKind.STOCK, {"slot": 4}), (CommandKind.RELOAD, {})):
            session.add(
                Command(
                    kind=kind,
                    payload=payload,
                    account="mary",
                    created_at=clock.now(),
                    requested_at=clock.now(),
                )
            )
        session.commit()
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", _record(statements))
    # What the daemon's loop does with the commands waiting (Daemon.run_commands).
    for queued in controller.waiting_commands():
        assert not controller.expire_if_stale(queued, clock.now())
        controller.run_command(queued)
    reads = [s for s in statements if s.startswith("SELECT") and "FROM commands" in s]
    writes = [s for s in statements if s.startswith("UPDATE commands")]
    assert len(reads) == 1 and len(writes) == 2
    with db.read() as session:
        assert [c.status for c in session.query(Command).order_by(Command.id)] == ["done"] * 2


def _record(statements: list[str]):
    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    return before
