"""Baseline: the eligibility schema as first released (before migrations existed).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from loket_messaging.schema_ops import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "elig_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("undertaking_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("sme_category", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("scheme_version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_elig_decision_application_id"), "elig_decision", ["application_id"], unique=False
    )
    op.create_index(
        op.f("ix_elig_decision_undertaking_id"), "elig_decision", ["undertaking_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_elig_decision_undertaking_id"), table_name="elig_decision")
    op.drop_index(op.f("ix_elig_decision_application_id"), table_name="elig_decision")
    op.drop_table("elig_decision")
    drop_messaging_tables()
