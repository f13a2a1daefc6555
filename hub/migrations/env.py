"""Alembic environment of the hub: runs on the engine ``hub.db.migrate`` hands in."""

from alembic import context

from hub.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection, target_metadata=Base.metadata, version_table="hub_alembic_version"
    )
    with context.begin_transaction():
        context.run_migrations()
