"""Leases on jobs and updates, and the state every instance shares: the API's pace, alerts.

Revision ID: 0007
Revises: 0006

Frozen like every released revision: what it creates is written out here. Rows of before
have no lease: an unfinished step of theirs is taken over at the first tick, as a restart
took it up before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_SECONDS: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("lease_owner", sa.Text))
        jobs.add_column(sa.Column("lease_until", _SECONDS))
        jobs.add_column(sa.Column("taken_over_from", sa.Text))
    leased = sa.text("lease_until IS NOT NULL")
    op.create_index(
        "jobs_leased", "jobs", ["lease_owner"], sqlite_where=leased, postgresql_where=leased
    )
    with op.batch_alter_table("updates") as updates:
        updates.add_column(sa.Column("lease_owner", sa.Text))
        updates.add_column(sa.Column("lease_until", _SECONDS))
    op.create_table(
        "api_health",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("creates_per_minute", _SECONDS),
        sa.Column("rate_set_at", _SECONDS, nullable=False, server_default="0"),
        sa.Column("next_create_at", _SECONDS, nullable=False, server_default="0"),
        sa.Column("paused_until", _SECONDS, nullable=False, server_default="0"),
        sa.Column("unconfirmed_in_a_row", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="api_health_pkey"),
    )
    op.execute("INSERT INTO api_health (id) VALUES (1)")
    op.create_table(
        "admin_alerts",
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("raised_at", _SECONDS, nullable=False),
        sa.Column("sent_at", _SECONDS),
        sa.PrimaryKeyConstraint("reason", name="admin_alerts_pkey"),
    )


def downgrade() -> None:
    op.drop_table("admin_alerts")
    op.drop_table("api_health")
    with op.batch_alter_table("updates") as updates:
        updates.drop_column("lease_until")
        updates.drop_column("lease_owner")
    op.drop_index("jobs_leased", table_name="jobs")
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_column("taken_over_from")
        jobs.drop_column("lease_until")
        jobs.drop_column("lease_owner")
