"""indexes on custody, checkpoints and alerts, so the daily report reads only its day

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 08:15:00

The daily report asks which stays overlapped its day (deposited before the day
ended, not ended before it began). Without an index that read was a scan of
every stay ever kept (73k rows at a million events, ten times that at ten
million), which made ``/report`` grow with the log; with it, the read is the
open stays and those that ended on or after the day. The report's reads of the
checkpoints (the one that seals its day, those taken on it, those a slice of
the chain is held against) scanned the table too, which gains a row a day:
it is indexed by kind and time, and by event. The alerts raised, acknowledged
or resolved on the day were a scan of every alert: the three moments are indexed.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


#: The report reads the alerts raised, acknowledged or resolved on its day.
ALERT_MOMENTS = ("raised_at", "acknowledged_at", "resolved_at")


def upgrade() -> None:
    with op.batch_alter_table("custody", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_ended_at"), ["ended_at"], unique=False)
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        # Kind with time, not kind alone: nearly every row is "daily", and SQLite
        # (with no statistics) would prefer that equality to the time range.
        batch_op.create_index(
            "ix_checkpoints_kind_created_at", ["kind", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkpoints_event_id"), ["event_id"], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for column in ALERT_MOMENTS:
            batch_op.create_index(batch_op.f(f"ix_alerts_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for column in ALERT_MOMENTS:
            batch_op.drop_index(batch_op.f(f"ix_alerts_{column}"))
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoints_event_id"))
        batch_op.drop_index("ix_checkpoints_kind_created_at")
    with op.batch_alter_table("custody", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_ended_at"))
