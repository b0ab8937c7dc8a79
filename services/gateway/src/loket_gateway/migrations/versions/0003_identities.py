"""Identities: applications belong to an organisation; an append-only audit trail.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
# The trail is append-only in the database itself, not only by the gateway's good manners.
_POSTGRES_GUARD = """
CREATE FUNCTION gw_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'gw_audit is append-only'; END $$;
CREATE TRIGGER gw_audit_no_change BEFORE UPDATE OR DELETE ON gw_audit
FOR EACH ROW EXECUTE FUNCTION gw_audit_append_only();
"""
_SQLITE_GUARDS = [
    f"CREATE TRIGGER gw_audit_no_{verb.lower()} BEFORE {verb} ON gw_audit "
    "BEGIN SELECT RAISE(ABORT, 'gw_audit is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    with op.batch_alter_table("gw_application") as batch:
        batch.add_column(sa.Column("owner_org", _STR(length=120), nullable=True))
        batch.create_index(op.f("ix_gw_application_owner_org"), ["owner_org"], unique=False)
    op.create_table(
        "gw_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("subject", _STR(length=200), nullable=False),
        sa.Column("name", _STR(length=200), nullable=False),
        sa.Column("roles", _STR(length=200), nullable=False),
        sa.Column("org", _STR(length=120), nullable=True),
        sa.Column("action", _STR(length=80), nullable=False),
        sa.Column("method", _STR(length=10), nullable=False),
        sa.Column("path", _STR(length=600), nullable=False),
        sa.Column("application_id", _STR(length=200), nullable=True),
        sa.Column("facility_id", _STR(length=200), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", _STR(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("at", "subject", "action", "application_id"):
        op.create_index(op.f(f"ix_gw_audit_{column}"), "gw_audit", [column], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_GUARD)
    else:
        for guard in _SQLITE_GUARDS:
            op.execute(guard)


def downgrade() -> None:
    op.drop_table("gw_audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gw_audit_append_only()")
    with op.batch_alter_table("gw_application") as batch:
        batch.drop_index(op.f("ix_gw_application_owner_org"))
        batch.drop_column("owner_org")
