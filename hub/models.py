"""The hub's tables: sites, their shipped events and snapshots, alerts, accounts.

Events are keyed by ``(site_id, seq)`` (``seq`` is the site's own event id),
so a site's log page and a resume from its head are index range reads whose
cost does not grow with the number of events stored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

GROUP_ADMIN = "group_admin"
AREA_MANAGER = "area_manager"
HUB_ROLES = (GROUP_ADMIN, AREA_MANAGER)


class Base(DeclarativeBase):
    """The hub's declarative base (its own metadata, apart from a site's)."""

    # Every time is stored with its zone: the hub serves sites in any zone.
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Site(Base):
    """One nursery that ships its log to the hub."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    #: SHA-256 of the site's token (the token itself is shown once).
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    #: The last time the site was heard from (a batch or a snapshot).
    last_seen: Mapped[datetime | None] = mapped_column(default=None)
    #: The site's newest stored event id and hash: the next batch must continue it.
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The site's newest status snapshot, as sent.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    snapshot_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The time zone the site's day totals (:mod:`hub.totals`) were counted in:
    #: when the snapshots name another, they are counted again.
    totals_tz: Mapped[str] = mapped_column(String(64), default="UTC")


class SiteEvent(Base):
    """One event of a site's chain, exactly as the site hashed it."""

    __tablename__ = "site_events"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    slot: Mapped[int | None]
    person_id: Mapped[int | None]
    #: Canonical JSON as hashed; NULL for a sealed event (see hub.ingest).
    details: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    @property
    def id(self) -> int:
        """The site's own event id (so the panel's log helpers read a shipped event)."""
        return self.seq

    # Two partial indexes on override events (ts; site_id, ts) are in the
    # migration h0001: the overrides page reads them newest first. The index
    # (site_id, ts) of h0002 gives the reports a site's day as one range.


class HubAlert(Base):
    """Something a group admin must look at: a broken chain, a silent site, a gap."""

    __tablename__ = "hub_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: ``chain`` (the log does not continue), ``offline`` or ``gap`` (purged unshipped).
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The group admin who acknowledged a ``chain`` alert, and their note
    #: (an ``offline`` alert resolves itself when the site ships again).
    resolved_by: Mapped[str | None] = mapped_column(String(80), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class SiteShift(Base):
    """A person's shift at a site, as the site's status snapshots send its rota."""

    __tablename__ = "site_shifts"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    #: The site's local day the shift belongs to.
    day: Mapped[date] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    start: Mapped[datetime]
    end: Mapped[datetime]
    #: ``[[start, end], ...]`` as ISO times in UTC.
    breaks: Mapped[list[list[str]]] = mapped_column(JSONB)


class HubAccount(Base):
    """A person of the nursery group: a group admin, or an area manager of some sites."""

    __tablename__ = "hub_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class AccountSite(Base):
    """An area manager's site."""

    __tablename__ = "hub_account_sites"

    account_id: Mapped[int] = mapped_column(ForeignKey("hub_accounts.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)


class HubSession(Base):
    """A logged-in browser: the cookie holds a key, the hub only its SHA-256."""

    __tablename__ = "hub_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("hub_accounts.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class HubToken(Base):
    """An API token of a hub account (``locker hub token create``)."""

    __tablename__ = "hub_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("hub_accounts.id"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class SiteDayCount(Base):
    """How many events of one measure a site logged on one of its local days.

    ``measure`` is ``events`` (all of them), ``deposit``, ``release`` (``key``:
    the release kind) or ``override`` (``key``: the reason in words). Kept at
    ingest in the batch's transaction (:mod:`hub.totals`), so the weekly report
    sums a few rows a site instead of reading its week of events.
    """

    __tablename__ = "site_day_counts"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True, default="")
    n: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_site_day_counts_day", "day"),)


class SiteDayMinutes(Base):
    """A site's minutes on shift, and of those without a device, on one local day."""

    __tablename__ = "site_day_minutes"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    on_shift: Mapped[int]
    without_device: Mapped[int]
    #: The minutes count up to this time (the batch or snapshot that counted them).
    counted_at: Mapped[datetime]

    __table_args__ = (Index("ix_site_day_minutes_day", "day"),)


class SiteAlertSpan(Base):
    """One alert a site raised, and when it was acknowledged or resolved (if it was)."""

    __tablename__ = "site_alert_spans"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    #: The ``alert.raised`` event.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The site's alert id, which its acknowledgement or resolution names.
    alert_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    raised_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_site_alert_spans_day", "day"),
        Index("ix_site_alert_spans_alert", "site_id", "alert_id"),
    )


class SitePersonalValue(Base):
    """A person's name a site's events refer to, kept beside the chain (not in it).

    The event carries ``{"ref", "c"}`` with ``c = sha256(salt || value)``
    (:mod:`locker.log.personal`); the hub checks the value against ``c``
    before it keeps it, and deletes it when the site forgets the person.
    """

    __tablename__ = "site_personal_values"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    ref: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int | None]
    field: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(Text)
    salt: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_site_personal_values_person", "site_id", "person_id"),)
