"""Schema migrations: each service's database has its own Alembic history.

A service's history lives in its package (`loket_vouchers/migrations/versions/...`); every
service runs `upgrade(engine, "loket_vouchers")` at start, before it consumes anything. A
database made before migrations existed (tables, no `alembic_version`) is the baseline
revision: it is stamped, then upgraded like any other.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

BASELINE = "0001"
# Present in every Loket service database since the first release.
_BASELINE_MARKER = "msg_inbox"


def config(package: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", f"{package}:migrations")
    return cfg


def upgrade(engine: Engine, package: str, revision: str = "head") -> None:
    cfg = config(package)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if _BASELINE_MARKER in tables and "alembic_version" not in tables:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head(package: str) -> str | None:
    return ScriptDirectory.from_config(config(package)).get_current_head()


def run_env() -> None:
    """The body of every service's `migrations/env.py`: run on the caller's connection."""
    from alembic import context

    conn = context.config.attributes["connection"]
    context.configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
