"""The programme's history: snapshots of budget and utilisation.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "gw_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", _STR(length=20), nullable=False),
        sa.Column("key", _STR(length=200), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_gw_snapshot_at"), "gw_snapshot", ["at"], unique=False)
    op.create_index(op.f("ix_gw_snapshot_kind"), "gw_snapshot", ["kind"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gw_snapshot_kind"), table_name="gw_snapshot")
    op.drop_index(op.f("ix_gw_snapshot_at"), table_name="gw_snapshot")
    op.drop_table("gw_snapshot")
