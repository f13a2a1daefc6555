"""privacy: personal values beside the chain, legal holds, the old log re-chained

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 02:30:00

``personal_values`` keeps the names, card numbers, typed user names and notes
the log refers to, each with a random salt, outside the hashed chain;
``person_holds`` keeps the legal holds. An existing log is verified, sealed
(a ``seal`` checkpoint holds its old head) and re-chained with commitments in
place of its personal values, each event keeping its old hash as
``legacy_hash`` (``locker.log.legacy``, ``docs/log-migration.md``). A log that
does not verify is refused and nothing changes.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=24), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_values")),
    )
    op.create_index(
        op.f("ix_personal_values_event_id"), "personal_values", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_personal_values_person_id"), "personal_values", ["person_id"], unique=False
    )
    op.create_table(
        "person_holds",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_holds_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_holds")),
    )
    from locker.log.legacy import rechain_with_commitments

    session = Session(bind=op.get_bind())
    rechain_with_commitments(session, datetime.now(UTC))
    session.flush()


def downgrade() -> None:
    raise NotImplementedError("the log cannot be put back: its personal values left the chain")
