"""privacy: panel accounts linked to people, account names and addresses out of the chain

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:00:00

``panel_accounts.person_id`` names the member of staff who uses an account
(optional): their access request then holds its logins and actions, and
forgetting them erases its name. The log, already in the 0006 form, still held
panel user names (as actors and in ``username``/``account`` details), client
addresses and the names of former staff as actors in clear: they become
commitments as in 0006, re-hashed from the first event that changes, each
keeping its hash from before as ``hash_before_0007``
(``locker.log.legacy.rechain_accounts``). A log that does not verify is
refused and nothing changes.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Added in place, not by a batch copy of the table: sessions and tokens
        # refer to panel_accounts, and dropping the old copy under them fails
        # their foreign keys. SQLite adds a NULL column with a reference as is.
        op.execute(
            "ALTER TABLE panel_accounts ADD COLUMN person_id INTEGER "
            "CONSTRAINT fk_panel_accounts_person_id_people REFERENCES people (id)"
        )
    else:
        op.add_column("panel_accounts", sa.Column("person_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_panel_accounts_person_id_people"),
            "panel_accounts",
            "people",
            ["person_id"],
            ["id"],
        )
    op.create_index(op.f("ix_panel_accounts_person_id"), "panel_accounts", ["person_id"])
    from locker.log.legacy import rechain_accounts

    session = Session(bind=op.get_bind())
    rechain_accounts(session, datetime.now(UTC))
    session.flush()


def downgrade() -> None:
    raise NotImplementedError("the log cannot be put back: its account names left the chain")
