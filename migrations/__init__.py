"""Alembic migrations of the database, installed as ``nursery_locker_migrations``."""
