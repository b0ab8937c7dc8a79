"""The read model keeps the terms on offer, as the stage events tell them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gw_application") as batch:
        batch.add_column(
            sa.Column("terms_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch.add_column(sa.Column("terms_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gw_application") as batch:
        batch.drop_column("terms_json")
        batch.drop_column("terms_sha256")
