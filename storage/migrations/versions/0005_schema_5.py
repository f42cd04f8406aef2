"""Schema 5, the baseline: the legacy steps on SQLite, the same tables on PostgreSQL.

Revision ID: 0005
Revises: (none)

See `storage.migrations` for why the first revision is numbered 5. Frozen like every released
revision: what it creates is written out here, never read from `storage.schema`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import legacy

revision: str = "0005"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger()
_SECONDS: sa.Double[float] = sa.Double()
_FLAG = sa.Boolean(create_constraint=False)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        legacy.run_steps(connection)  # those after the database's user_version; see above
        return
    op.create_table(
        "jobs",
        sa.Column("id", _ID, sa.Identity(), primary_key=True),
        sa.Column("chat_id", _ID, nullable=False),
        sa.Column("request_message_id", _ID, nullable=False),
        sa.Column("photo_message_id", _ID, nullable=False),
        sa.Column("thread_id", _ID),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("prompt_optimizer", _FLAG, nullable=False),
        sa.Column("file_id", sa.Text, nullable=False),
        sa.Column("image_sha256", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("generation_id", sa.Text),
        sa.Column("api_status", sa.Text),
        sa.Column("status_message_id", _ID),
        sa.Column("created_at", _SECONDS, nullable=False),
        sa.Column("updated_at", _SECONDS, nullable=False),
        sa.Column("submitted_at", _SECONDS),
        sa.Column("next_poll_at", _SECONDS),
        sa.Column("poll_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("poll_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("video_url", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("completed_at", _SECONDS),
        sa.Column("delivered_at", _SECONDS),
        sa.Column("image_fix", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("retry_of", _ID),
        sa.Column("status_text", sa.Text),
        sa.Column("status_edited_at", _SECONDS),
        sa.Column("video_message_id", _ID),
        sa.Column("endpoint", sa.Text),
        sa.Column("video_seconds", _SECONDS),
        sa.Column("usage_amount", _SECONDS),
        sa.Column("usage_unit", sa.Text),
        sa.Column("busy_since", _SECONDS),
        sa.Column("retry_at", _SECONDS),
        sa.Column("submit_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unanswered_sends", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pending_status", sa.Text),
        sa.Column("status_chat_id", _ID),
        sa.Column("api_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="jobs_pkey"),
        sa.UniqueConstraint("generation_id", name="jobs_generation_id_key"),
        sa.UniqueConstraint(
            "chat_id", "request_message_id", name="jobs_chat_id_request_message_id_key"
        ),
    )
    op.create_index(
        "jobs_due", "jobs", ["next_poll_at"], postgresql_where=sa.text("next_poll_at IS NOT NULL")
    )
    op.create_index("jobs_by_user", "jobs", ["user_id", sa.text("created_at DESC")])
    op.create_index("jobs_by_state", "jobs", ["state", "created_at"])
    op.create_table(
        "album_notices",
        sa.Column("chat_id", _ID, nullable=False),
        sa.Column("media_group_id", sa.Text, nullable=False),
        sa.Column("created_at", _SECONDS, nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "media_group_id", name="album_notices_pkey"),
    )
    op.create_table(
        "access_overrides",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("allowed", _FLAG, nullable=False),
        sa.Column("changed_by", _ID),
        sa.Column("changed_at", _SECONDS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="access_overrides_pkey"),
    )
    op.create_table(
        "line_places",
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("place", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="line_places_pkey"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="line_places_job_id_fkey"),
    )
    op.create_table(
        "user_prefs",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("prompt_optimizer", _FLAG),
        sa.Column("updated_at", _SECONDS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="user_prefs_pkey"),
    )
    op.create_table(
        "chat_moves",
        sa.Column("old_chat_id", _ID, nullable=False),
        sa.Column("new_chat_id", _ID, nullable=False),
        sa.Column("moved_at", _SECONDS, nullable=False),
        sa.PrimaryKeyConstraint("old_chat_id", name="chat_moves_pkey"),
    )


def downgrade() -> None:
    raise NotImplementedError("schema 5 is where every database starts: there is no before")
