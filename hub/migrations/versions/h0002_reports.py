"""The hub's reports and alert resolution: the sites' shifts, a day index on events,
and who resolved a hub alert with which note.

Revision ID: h0002
Revises: h0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "h0002"
down_revision = "h0001"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Shifts come with the status snapshots (the rota is not in the log);
    # one row a person and day, replaced when the site's rota changes.
    op.create_table(
        "site_shifts",
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("person_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("start", TIME, nullable=False),
        sa.Column("end", TIME, nullable=False),
        sa.Column("breaks", JSONB, nullable=False),
    )
    # A site's day of events (the reports) is a range of this index.
    op.create_index("ix_site_events_site_ts", "site_events", ["site_id", "ts"])
    op.add_column("hub_alerts", sa.Column("resolved_by", sa.String(80)))
    op.add_column("hub_alerts", sa.Column("note", sa.Text))


def downgrade() -> None:
    op.drop_column("hub_alerts", "note")
    op.drop_column("hub_alerts", "resolved_by")
    op.drop_index("ix_site_events_site_ts", "site_events")
    op.drop_table("site_shifts")
