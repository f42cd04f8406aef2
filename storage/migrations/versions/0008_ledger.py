"""The ledger of video credits (Telegram Stars), and which jobs a credit paid for.

Revision ID: 0008
Revises: 0007

Frozen like every released revision: what it creates is written out here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SECONDS: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("credit_used", sa.Boolean(create_constraint=False)))
    op.create_table(
        "ledger",
        sa.Column("id", _ID, sa.Identity(), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("videos", sa.Integer, nullable=False),
        sa.Column("stars", sa.Integer, nullable=False, server_default="0"),
        sa.Column("charge_id", sa.Text),
        sa.Column("job_id", _ID),
        sa.Column("pack", sa.Text),
        sa.Column("created_at", _SECONDS, nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", name="ledger_pkey"),
        sa.UniqueConstraint("kind", "charge_id", name="ledger_kind_charge_id_key"),
        sa.UniqueConstraint("kind", "job_id", name="ledger_kind_job_id_key"),
    )
    op.create_index("ledger_by_user", "ledger", ["user_id", "created_at"])
    grant = sa.text("kind = 'grant'")
    op.create_index(
        "ledger_one_grant",
        "ledger",
        ["user_id"],
        unique=True,
        sqlite_where=grant,
        postgresql_where=grant,
    )


def downgrade() -> None:
    op.drop_index("ledger_one_grant", table_name="ledger")
    op.drop_index("ledger_by_user", table_name="ledger")
    op.drop_table("ledger")
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_column("credit_used")
