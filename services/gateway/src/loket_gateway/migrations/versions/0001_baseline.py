"""Baseline: the gateway schema as first released (before migrations existed).

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
        "gw_application",
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("stage_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("applicant_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("applicant_country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("priority_area", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("call_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column(
            "facility_countries", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("voucher_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_index(
        op.f("ix_gw_application_applicant_country"),
        "gw_application",
        ["applicant_country"],
        unique=False,
    )
    op.create_index(op.f("ix_gw_application_call_id"), "gw_application", ["call_id"], unique=False)
    op.create_index(
        op.f("ix_gw_application_priority_area"), "gw_application", ["priority_area"], unique=False
    )
    op.create_index(op.f("ix_gw_application_stage"), "gw_application", ["stage"], unique=False)
    op.create_index(
        op.f("ix_gw_application_submitted_at"), "gw_application", ["submitted_at"], unique=False
    )
    op.create_table(
        "gw_idempotency",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("request_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("workflow_input_json", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("gw_idempotency")
    op.drop_index(op.f("ix_gw_application_submitted_at"), table_name="gw_application")
    op.drop_index(op.f("ix_gw_application_stage"), table_name="gw_application")
    op.drop_index(op.f("ix_gw_application_priority_area"), table_name="gw_application")
    op.drop_index(op.f("ix_gw_application_call_id"), table_name="gw_application")
    op.drop_index(op.f("ix_gw_application_applicant_country"), table_name="gw_application")
    op.drop_table("gw_application")
    drop_messaging_tables()
