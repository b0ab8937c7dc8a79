"""Calls as first-class objects: the current version and every version before it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from loket_messaging.schema_ops import drop_append_only, make_append_only

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString


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
    make_append_only("gw_call_version")  # a record: the database refuses to change it


def downgrade() -> None:
    op.drop_table("gw_call_version")
    op.drop_table("gw_call")
    drop_append_only("gw_call_version")
