"""Identities: applications belong to an organisation; an append-only audit trail.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from loket_messaging.schema_ops import drop_append_only, make_append_only

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString


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
    make_append_only("gw_audit")  # a record: the database refuses to change it


def downgrade() -> None:
    op.drop_table("gw_audit")
    drop_append_only("gw_audit")
    with op.batch_alter_table("gw_application") as batch:
        batch.drop_index(op.f("ix_gw_application_owner_org"))
        batch.drop_column("owner_org")
