"""The audit log's resource holds any name: ``connectors/<name>`` with a 255-character name is
longer than VARCHAR(255), which PostgreSQL refused (SQLite never checked).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A batch: SQLite cannot change a column's type in place, so Alembic copies the table there.
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column(
            "resource", existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    # Longer resources would not fit back: they are cut to the old width, as the column allowed.
    op.execute(
        sa.text("UPDATE audit_log SET resource = substr(resource, 1, 255) WHERE length(resource) > 255")
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column(
            "resource", existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False
        )
