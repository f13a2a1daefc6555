"""The hub's first schema: sites, shipped events, alerts, accounts, sessions, tokens,
and the login throttle.

Revision ID: h0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "h0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
#: hub.overview.OVERRIDE_KINDS as this migration was written.
OVERRIDE_KINDS = (
    "grant.created",
    "grant.used",
    "approval.on_the_spot",
    "release.grant",
    "release.manager",
    "release.all",
)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen", TIME),
        sa.Column("head_seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("snapshot", JSONB),
        sa.Column("snapshot_at", TIME),
    )
    op.create_table(
        "site_events",
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("slot", sa.Integer),
        sa.Column("person_id", sa.Integer),
        sa.Column("details", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The overrides page reads override events newest first, across sites or for
    # some: partial indexes hold only those (about one event in fifty).
    overrides = sa.text("kind IN (" + ", ".join(f"'{k}'" for k in OVERRIDE_KINDS) + ")")
    op.create_index("ix_site_events_overrides", "site_events", ["ts"], postgresql_where=overrides)
    op.create_index(
        "ix_site_events_site_overrides",
        "site_events",
        ["site_id", "ts"],
        postgresql_where=overrides,
    )
    op.create_table(
        "hub_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME),
    )
    op.create_table(
        "hub_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "hub_account_sites",
        sa.Column("account_id", sa.Integer, sa.ForeignKey("hub_accounts.id"), primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), primary_key=True),
    )
    op.create_table(
        "hub_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_digest", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "account_id", sa.Integer, sa.ForeignKey("hub_accounts.id"), nullable=False, index=True
        ),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("ended_at", TIME),
    )
    op.create_table(
        "hub_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "account_id", sa.Integer, sa.ForeignKey("hub_accounts.id"), nullable=False, index=True
        ),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME),
    )

    # The panel's login throttle (web/throttle.py, locker.models.LoginThrottle), the
    # same table on the hub so the same code counts the hub's wrong passwords.
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("throttled_until", TIME),
        sa.Column("updated_at", TIME, nullable=False, index=True),
        sa.Column("logged_at", TIME),
        sa.Column("unlogged", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "login_throttles",
        "hub_tokens",
        "hub_sessions",
        "hub_account_sites",
        "hub_accounts",
        "hub_alerts",
        "site_events",
        "sites",
    ):
        op.drop_table(table)
