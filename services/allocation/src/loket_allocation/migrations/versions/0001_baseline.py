"""Baseline: the allocation schema as first released (before migrations existed).

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
        "alloc_delivery",
        sa.Column("facility_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("slot_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("units_delivered", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "sequence"),
    )
    op.create_index(
        op.f("ix_alloc_delivery_application_id"), "alloc_delivery", ["application_id"], unique=False
    )
    op.create_table(
        "alloc_facility",
        sa.Column("facility_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("site", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("legal_form", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("priority_areas", sa.Text(), nullable=False),
        sa.Column("profile_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id"),
    )
    op.create_index(op.f("ix_alloc_facility_country"), "alloc_facility", ["country"], unique=False)
    op.create_table(
        "alloc_hold",
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("applicant_country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("placed_json", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_index(op.f("ix_alloc_hold_expires_at"), "alloc_hold", ["expires_at"], unique=False)
    op.create_index(op.f("ix_alloc_hold_status"), "alloc_hold", ["status"], unique=False)
    op.create_table(
        "alloc_hold_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("facility_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("slot_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("delivered_units", sa.Integer(), nullable=False),
        sa.Column("market_price_eur", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_alloc_hold_line_application_id"),
        "alloc_hold_line",
        ["application_id"],
        unique=False,
    )
    op.create_table(
        "alloc_offering",
        sa.Column("facility_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("offering_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("service_type", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("market_price_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("access_modes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "offering_id"),
    )
    op.create_index(
        op.f("ix_alloc_offering_service_type"), "alloc_offering", ["service_type"], unique=False
    )
    op.create_table(
        "alloc_slot",
        sa.Column("facility_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("slot_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("offering_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("capacity_units", sa.Integer(), nullable=False),
        sa.Column("held_units", sa.Integer(), nullable=False),
        sa.Column("booked_units", sa.Integer(), nullable=False),
        sa.Column("published_sequence", sa.Integer(), nullable=False),
        sa.Column("withdrawn_sequence", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "slot_id"),
    )


def downgrade() -> None:
    op.drop_table("alloc_slot")
    op.drop_index(op.f("ix_alloc_offering_service_type"), table_name="alloc_offering")
    op.drop_table("alloc_offering")
    op.drop_index(op.f("ix_alloc_hold_line_application_id"), table_name="alloc_hold_line")
    op.drop_table("alloc_hold_line")
    op.drop_index(op.f("ix_alloc_hold_status"), table_name="alloc_hold")
    op.drop_index(op.f("ix_alloc_hold_expires_at"), table_name="alloc_hold")
    op.drop_table("alloc_hold")
    op.drop_index(op.f("ix_alloc_facility_country"), table_name="alloc_facility")
    op.drop_table("alloc_facility")
    op.drop_index(op.f("ix_alloc_delivery_application_id"), table_name="alloc_delivery")
    op.drop_table("alloc_delivery")
    drop_messaging_tables()
