"""Daily totals per site for the weekly report, and people's names beside the chain.

``site_day_counts``, ``site_day_minutes`` and ``site_alert_spans`` are kept at
ingest (:mod:`hub.totals`); a hub that already holds events gets them counted
here, site by site, from what it stores. ``site_personal_values`` holds the
names a site ships beside its events (:mod:`hub.people`), erased when the site
forgets the person.

Revision ID: h0003
Revises: h0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "h0003"
down_revision = "h0002"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def _site_id() -> sa.Column:
    return sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), primary_key=True)


def upgrade() -> None:
    op.add_column(
        "sites",
        sa.Column("totals_tz", sa.String(64), nullable=False, server_default="UTC"),
    )
    op.create_table(
        "site_day_counts",
        _site_id(),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_site_day_counts_day", "site_day_counts", ["day"])
    op.create_table(
        "site_day_minutes",
        _site_id(),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("on_shift", sa.Integer, nullable=False),
        sa.Column("without_device", sa.Integer, nullable=False),
        sa.Column("counted_at", TIME, nullable=False),
    )
    op.create_index("ix_site_day_minutes_day", "site_day_minutes", ["day"])
    op.create_table(
        "site_alert_spans",
        _site_id(),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("alert_id", sa.BigInteger),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("raised_at", TIME, nullable=False),
        sa.Column("ended_at", TIME),
    )
    op.create_index("ix_site_alert_spans_day", "site_alert_spans", ["day"])
    op.create_index("ix_site_alert_spans_alert", "site_alert_spans", ["site_id", "alert_id"])
    op.create_table(
        "site_personal_values",
        _site_id(),
        sa.Column("ref", sa.BigInteger, primary_key=True),
        sa.Column("person_id", sa.Integer),
        sa.Column("field", sa.String(24), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_site_personal_values_person", "site_personal_values", ["site_id", "person_id"]
    )
    _backfill()


def _backfill() -> None:
    """Count the totals of every site the hub already holds events of.

    It runs the hub's own counting (:func:`hub.totals.recount_site`), so the
    backfill and ingest cannot disagree; imported here, not at the top, so the
    other migrations do not load the hub's models.
    """
    from hub.models import Site
    from hub.totals import recount_site

    session = Session(bind=op.get_bind())
    for site in session.scalars(sa.select(Site).order_by(Site.id)):
        # Minutes count up to when the site was last heard from: what the hub knew.
        recount_site(session, site, site.last_seen or site.created_at)
    session.flush()


def downgrade() -> None:
    op.drop_table("site_personal_values")
    op.drop_table("site_alert_spans")
    op.drop_table("site_day_minutes")
    op.drop_table("site_day_counts")
    op.drop_column("sites", "totals_tz")
