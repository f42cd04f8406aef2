"""The updates table: webhook updates kept before they are answered.

Revision ID: 0006
Revises: 0005

Frozen like every released revision: what it creates is written out here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "updates",
        sa.Column(
            "update_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("received_at", sa.Double().with_variant(sa.REAL(), "sqlite"), nullable=False),
        sa.Column("handled_at", sa.Double().with_variant(sa.REAL(), "sqlite")),
        sa.PrimaryKeyConstraint("update_id", name="updates_pkey"),
    )
    unhandled = sa.text("handled_at IS NULL")
    op.create_index(
        "updates_unhandled",
        "updates",
        ["received_at"],
        sqlite_where=unhandled,
        postgresql_where=unhandled,
    )


def downgrade() -> None:
    op.drop_index("updates_unhandled", table_name="updates")
    op.drop_table("updates")
