"""Batch calls: holds queued for a call's round, and the rounds that ran.

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


def upgrade() -> None:
    op.create_table(
        "alloc_round_entry",
        sa.Column("application_id", _STR(length=200), nullable=False),
        sa.Column("call_id", _STR(length=64), nullable=False),
        sa.Column("status", _STR(length=20), nullable=False),
        sa.Column("hold_json", sa.Text(), nullable=False),
        sa.Column("queued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_index("ix_alloc_round_entry_call_id", "alloc_round_entry", ["call_id"])
    op.create_index("ix_alloc_round_entry_status", "alloc_round_entry", ["status"])
    op.create_table(
        "alloc_round",
        sa.Column("call_id", _STR(length=64), nullable=False),
        sa.Column("round_id", _STR(length=200), nullable=False),
        sa.Column("solved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("summary_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )


def downgrade() -> None:
    op.drop_table("alloc_round")
    op.drop_index("ix_alloc_round_entry_status", table_name="alloc_round_entry")
    op.drop_index("ix_alloc_round_entry_call_id", table_name="alloc_round_entry")
    op.drop_table("alloc_round_entry")
