"""Calls as first-class objects: the current version and every version before it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
# A call's versions are its record: the database refuses to change or delete one.
_POSTGRES_GUARD = """
CREATE FUNCTION gw_call_version_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'gw_call_version is append-only'; END $$;
CREATE TRIGGER gw_call_version_no_change BEFORE UPDATE OR DELETE ON gw_call_version
FOR EACH ROW EXECUTE FUNCTION gw_call_version_append_only();
"""
_SQLITE_GUARDS = [
    f"CREATE TRIGGER gw_call_version_no_{verb.lower()} BEFORE {verb} ON gw_call_version "
    "BEGIN SELECT RAISE(ABORT, 'gw_call_version is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_table(
        "gw_call",
        sa.Column("call_id", _STR(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", _STR(length=10), nullable=False),
        sa.Column("call_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_table(
        "gw_call_version",
        sa.Column("call_id", _STR(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("changed_by", _STR(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("call_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "version"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_GUARD)
    else:
        for guard in _SQLITE_GUARDS:
            op.execute(guard)


def downgrade() -> None:
    op.drop_table("gw_call_version")
    op.drop_table("gw_call")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gw_call_version_append_only()")
