"""Lag samples and their history.

``flow_lag_latest`` keeps each flow's newest sample whole; ``lag_points`` keeps per-partition
samples for a short while and per-topic roll-ups for longer (``mirror.lag.TIERS``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "flow_lag_latest",
        sa.Column("flow", sa.String(length=255), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("flow", name=op.f("pk_flow_lag_latest")),
    )
    op.create_table(
        "lag_points",
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("flow", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at_s", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tier", "flow", "topic", "partition", "at_s", name=op.f("pk_lag_points")),
    )
    op.create_index("ix_lag_points_tier_flow_at_s", "lag_points", ["tier", "flow", "at_s"])


def downgrade() -> None:
    op.drop_index("ix_lag_points_tier_flow_at_s", table_name="lag_points")
    op.drop_table("lag_points")
    op.drop_table("flow_lag_latest")
