"""What a screening knew, kept for the de minimis check at the grant (pilot-2026-r2).

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


def upgrade() -> None:
    with op.batch_alter_table("vch_aid") as batch:
        batch.add_column(
            sa.Column("single_undertaking_json", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch.add_column(sa.Column("sme", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("excluded_json", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("vch_aid") as batch:
        batch.drop_column("excluded_json")
        batch.drop_column("sme")
        batch.drop_column("single_undertaking_json")
