"""Migration steps for the inbox and outbox tables, which every service database holds.

Each service's Alembic history calls these from its own revisions, so the messaging tables
evolve the same way everywhere while each history stays the service's own.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


def create_messaging_tables() -> None:
    """Revision 0001: inbox and outbox as first released."""
    op.create_table(
        "msg_inbox",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("processed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "msg_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("headers_json", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        op.f("ix_msg_outbox_published_at"), "msg_outbox", ["published_at"], unique=False
    )


def drop_messaging_tables() -> None:
    op.drop_index(op.f("ix_msg_outbox_published_at"), table_name="msg_outbox")
    op.drop_table("msg_outbox")
    op.drop_table("msg_inbox")


def add_outbox_failures() -> None:
    """Revision 0002: rows the broker can never take are marked failed, not retried forever;
    `caused_by` lets a service answer again when a sender asks again."""
    with op.batch_alter_table("msg_outbox") as batch:
        batch.add_column(
            sa.Column("caused_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch.add_column(sa.Column("failed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
        batch.create_index(op.f("ix_msg_outbox_caused_by"), ["caused_by"], unique=False)


def drop_outbox_failures() -> None:
    with op.batch_alter_table("msg_outbox") as batch:
        batch.drop_index(op.f("ix_msg_outbox_caused_by"))
        batch.drop_column("failure_reason")
        batch.drop_column("failed_at")
        batch.drop_column("caused_by")


def make_append_only(table: str) -> None:
    """The database itself refuses UPDATE and DELETE on `table` (a record, not a state):
    a trigger function on PostgreSQL, two triggers on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$;\n"
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}\n"
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only();"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def drop_append_only(table: str) -> None:
    """After the table is dropped (its triggers go with it): the PostgreSQL function."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
