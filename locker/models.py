"""The database: SQLAlchemy 2.0 typed models shared by the daemon, the panel and the CLI.

Only constructs PostgreSQL also supports are used, so a group of nurseries can
later share one central database. Times are stored in UTC. Schema changes go
through the migrations in ``migrations/``; the event log is insert-only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Named constraints so migrations can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Person(Base):
    """Somebody whose devices the bank holds: staff, a manager or deputy, or a visitor."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: ``staff``, ``manager`` or ``visitor``.
    role: Mapped[str] = mapped_column(String(16), default="staff")
    #: Their own slot when assignment is ``fixed``.
    slot_number: Mapped[int | None] = mapped_column(Integer, default=None)
    #: May check out the setting's own devices.
    setting_authorised: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    badges: Mapped[list[Badge]] = relationship(back_populates="person", order_by="Badge.id")
    shifts: Mapped[list[Shift]] = relationship(back_populates="person")


class Badge(Base):
    """An RFID card, by its UID in upper-case hex (the card's own bytes)."""

    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship(back_populates="badges")


class Slot(Base):
    """One slot of the bank and where it stands now (the daemon keeps this current)."""

    __tablename__ = "slots"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(40), default="")
    state: Mapped[str] = mapped_column(String(24), default="free")
    occupant_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: For a visitor slot, the visitor's name as signed in.
    visitor_name: Mapped[str | None] = mapped_column(String(120), default=None)
    since: Mapped[datetime]
    locked: Mapped[bool] = mapped_column(Boolean, default=True)
    door_open: Mapped[bool] = mapped_column(Boolean, default=False)
    device_present: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why the slot was opened or the device is out (``break``, ``grant``...).
    reason: Mapped[str | None] = mapped_column(String(24), default=None)
    #: When a device that is out is due back.
    return_due: Mapped[datetime | None] = mapped_column(default=None)

    occupant: Mapped[Person | None] = relationship()


class Shift(Base):
    """One person's shift on one local day, from the rota or the panel."""

    __tablename__ = "shifts"
    __table_args__ = (UniqueConstraint("person_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    #: The local date the shift belongs to.
    day: Mapped[date] = mapped_column(Date, index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]

    person: Mapped[Person] = relationship(back_populates="shifts")
    breaks: Mapped[list[Break]] = relationship(
        back_populates="shift", cascade="all, delete-orphan", order_by="Break.start"
    )


class Break(Base):
    """A break window within a shift."""

    __tablename__ = "breaks"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id"), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]

    shift: Mapped[Shift] = relationship(back_populates="breaks")


class Custody(Base):
    """One stay of a device in a slot: from deposit to final collection."""

    __tablename__ = "custody"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_number: Mapped[int] = mapped_column(ForeignKey("slots.number"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    visitor_name: Mapped[str | None] = mapped_column(String(120), default=None)
    deposited_at: Mapped[datetime]
    #: Indexed: the daily report reads the stays that had not ended when its day began.
    ended_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    #: How custody ended: ``shift_end``, ``closing``, ``manager``, ``signed_out``...
    end_reason: Mapped[str | None] = mapped_column(String(24), default=None)


class Grant(Base):
    """A release a manager approved: used at the next badge, or at once with ``open_now``."""

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    open_now: Mapped[bool] = mapped_column(Boolean, default=False)
    return_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(80))
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    expired_at: Mapped[datetime | None] = mapped_column(default=None)
    return_due: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship()


class Alert(Base):
    """Something a manager must see; open until acknowledged."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert: Mapped[str] = mapped_column(String(24), index=True)
    slot: Mapped[int | None] = mapped_column(Integer, default=None)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The three moments are indexed: the daily report reads the alerts raised,
    #: acknowledged or resolved on its day.
    raised_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80), default=None)
    #: When its condition ended (the door shut, the device came back...): it leaves
    #: the open list but stays in history. Acknowledging is separate.
    resolved_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    resolved_why: Mapped[str | None] = mapped_column(String(200), default=None)


class NotifyMessage(Base):
    """One message for the manager's destinations, waiting in the outbox or sent.

    Alert messages are written in the same transaction as the alert's log
    entry; the panel process's sender drains them (never the controller loop).
    """

    __tablename__ = "notify_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    #: ``alert.raised``, ``alert.resolved``, ``test`` or ``summary``.
    topic: Mapped[str] = mapped_column(String(24))
    #: The alert kind (which destinations want it), for alert messages.
    alert: Mapped[str | None] = mapped_column(String(24), default=None)
    alert_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Written text (test and summary messages); alert messages are worded when sent.
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    #: Only this destination (a test message), or None: every destination that wants it.
    destination: Mapped[str | None] = mapped_column(String(80), default=None)
    #: Names of the destinations that have accepted it (each gets it once).
    delivered: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: The last failure, in the sender's words (never a URL or a secret).
    last_error: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    #: ``sent``, ``gave_up`` or ``nowhere`` (no destination wants it).
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)


class PanelAccount(Base):
    """A login to the panel: ``viewer``, ``manager`` or ``admin``."""

    __tablename__ = "panel_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    #: A deactivated account cannot log in; its sessions and tokens stop working.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The member of staff who uses it, if the account is somebody's: their access
    #: request then holds its logins and actions, and forgetting them erases its name.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None, index=True)


class PanelSession(Base):
    """One logged-in browser, checked on every request: it ends at logout, with a new
    password, a deactivation, or when an admin ends the account's sessions."""

    __tablename__ = "panel_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("panel_accounts.id"), index=True)
    #: SHA-256 of the random key the session cookie carries.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The address it logged in from.
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    #: ``logout``, ``new password``, ``deactivated`` or ``ended by <admin>``.
    end_reason: Mapped[str | None] = mapped_column(String(120), default=None)


class LoginThrottle(Base):
    """Wrong passwords in a row for one typed user name, one client address, or the two.

    Keyed by what was typed, not by account, so a name that does not exist is
    counted (and answered) exactly like one that does.
    """

    __tablename__ = "login_throttles"

    #: ``name:<user name>``, ``addr:<address>`` or ``pair:<address> <user name>``.
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    throttled_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(index=True)
    #: For an address: when its last ``auth.failed`` event was written, and the
    #: attempts since then that the next one will count.
    logged_at: Mapped[datetime | None] = mapped_column(default=None)
    unlogged: Mapped[int] = mapped_column(Integer, default=0)


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("panel_accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    account: Mapped[PanelAccount] = relationship()


class Event(Base):
    """One entry of the append-only, hash-chained event log."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    #: UTC, ISO 8601 with microseconds and ``Z``: the exact text that was hashed.
    ts: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(80), default="")
    slot: Mapped[int | None] = mapped_column(Integer, default=None)
    person_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    #: Canonical JSON of the details object (as hashed).
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Checkpoint(Base):
    """A remembered point of the chain: a daily checkpoint, or where a purge cut it."""

    __tablename__ = "checkpoints"
    # Indexed by kind and time, and by event: the daily report and a walk of a
    # slice find theirs without reading every day's checkpoint. (Kind alone would
    # mislead SQLite: nearly every row is ``daily``, yet it prefers an equality.)
    __table_args__ = (Index("ix_checkpoints_kind_created_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``daily`` or ``purge``.
    kind: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Command(Base):
    """A request to the daemon from the panel or the CLI (the panel never touches pins)."""

    __tablename__ = "commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    account: Mapped[str] = mapped_column(String(80), default="")
    client: Mapped[str] = mapped_column(String(64), default="")
    #: The controller's time when it was asked for (simulated in the demo), for the log.
    created_at: Mapped[datetime]
    #: Real (wall) UTC time when it was asked for: how old it is when the daemon
    #: reaches it (see ``locker.commands``). None on rows from before it was kept.
    requested_at: Mapped[datetime | None] = mapped_column(default=None)
    #: ``pending``, ``done``, ``failed`` or ``expired`` (``locker.commands.CommandStatus``).
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    done_at: Mapped[datetime | None] = mapped_column(default=None)


class IdempotentRequest(Base):
    """A state-changing panel request made with an idempotency key, and its first answer.

    The same key from the same account gets the stored answer instead of the
    request being carried out again (a double click, a retry after a timeout).
    """

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("account", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(128))
    #: SHA-256 of the method, path and body: a key reused for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
    #: The first answer, once there is one (None while it is being worked out).
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str] = mapped_column(String(100), default="")
    location: Mapped[str] = mapped_column(String(500), default="")


class PersonalValue(Base):
    """A personal value an event refers to, kept outside the hashed chain.

    The event's details carry ``{"ref": id, "c": sha256(salt || value)}``
    instead of the value (see :mod:`locker.log.personal`): deleting this row
    erases the value for good while every event hash still verifies.
    """

    __tablename__ = "personal_values"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The event whose details refer to it: it goes when retention purges that event,
    #: or erases the personal data of that event's category.
    event_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), default=None, index=True
    )
    #: Whose value it is (erased with them); None for a visitor's name or an unknown card.
    person_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    #: The details key it stands for: ``name``, ``uid``, ``visitor``, ``note``...
    field: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(Text)
    #: 16 random bytes, hex: without it the commitment cannot be tested against guesses.
    salt: Mapped[str] = mapped_column(String(32))


class PersonHold(Base):
    """A legal hold on one person (an allegation, an inspection): no erasure, no purge."""

    __tablename__ = "person_holds"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id"), primary_key=True, autoincrement=False
    )
    reason: Mapped[str] = mapped_column(String(200))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime]
