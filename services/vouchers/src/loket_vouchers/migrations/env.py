"""Alembic environment of this service's database (see loket_messaging.migrations)."""

from loket_messaging.migrations import run_env

run_env()
