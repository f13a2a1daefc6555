"""Alembic environment: runs migrations on the engine ``locker.db.migrate`` hands in."""

from alembic import context

from locker.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    # render_as_batch lets ALTERs run on SQLite by copying the table.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
