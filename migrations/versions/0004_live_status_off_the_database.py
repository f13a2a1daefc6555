"""the daemon's live status leaves the database

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:20:00

The heartbeat, outputs and last unknown card now live in the daemon's live
status file (``run_dir``), so no SD card write happens every few seconds;
the ``daemon_status`` table is no longer written or read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("daemon_status")


def downgrade() -> None:
    op.create_table(
        "daemon_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("clock_synchronised", sa.Boolean(), nullable=False),
        sa.Column("reader_ok", sa.Boolean(), nullable=False),
        sa.Column("controller_now", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_unknown_uid", sa.String(length=20), nullable=True),
        sa.Column("last_unknown_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemon_status")),
    )
