"""Baseline: the charter schema as first released (before migrations existed).

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
        "charter_acceptance",
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("terms_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("template_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("template_version", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("accepted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("request_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("application_id", "terms_sha256"),
    )
    op.create_table(
        "charter_facility_terms",
        sa.Column("facility_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("safety_rules", sa.Text(), nullable=False),
        sa.Column("sample_handling", sa.Text(), nullable=False),
        sa.Column("local_law_notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id"),
    )
    op.create_table(
        "charter_terms",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("template_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("template_version", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("rendered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index(
        op.f("ix_charter_terms_application_id"), "charter_terms", ["application_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_charter_terms_application_id"), table_name="charter_terms")
    op.drop_table("charter_terms")
    op.drop_table("charter_facility_terms")
    op.drop_table("charter_acceptance")
    drop_messaging_tables()
