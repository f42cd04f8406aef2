"""The tables, defined once for both engines (SQLite and PostgreSQL).

Every statement in `storage` is built from these definitions, and the migrations in
`storage/migrations/` bring a database to them: `tests/unit/storage/test_schema.py` compares
a migrated database with this module on each engine.

Types are chosen for PostgreSQL and narrowed for SQLite where SQLite needs it:
- Telegram ids pass 2**31 (supergroups are -100…): BIGINT. A job's own id is SQLite's
  `INTEGER PRIMARY KEY` (the rowid, numbered by SQLite), a BIGSERIAL on PostgreSQL.
- Times are Unix seconds with fractions: DOUBLE PRECISION (PostgreSQL's REAL is 4 bytes,
  a second off today), REAL on SQLite, which is 8 bytes there.
- Flags are BOOLEAN; SQLite's legacy columns hold 0 and 1, which read back the same.
"""

from __future__ import annotations

import sqlalchemy as sa

#: A Telegram id, a message id, or a job's id referred to from elsewhere.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Unix seconds, with fractions.
Seconds: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")

metadata = sa.MetaData(
    # Named constraints: PostgreSQL reports and migrations refer to them by these names.
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "uq": "%(table_name)s_%(column_0_N_name)s_key",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
    }
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("chat_id", BigId, nullable=False),
    sa.Column("request_message_id", BigId, nullable=False),
    sa.Column("photo_message_id", BigId, nullable=False),
    sa.Column("thread_id", BigId),
    sa.Column("user_id", BigId, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("prompt_optimizer", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("file_id", sa.Text, nullable=False),
    sa.Column("image_sha256", sa.Text),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("generation_id", sa.Text, unique=True),
    sa.Column("api_status", sa.Text),
    sa.Column("status_message_id", BigId),
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("updated_at", Seconds, nullable=False),
    sa.Column("submitted_at", Seconds),
    sa.Column("next_poll_at", Seconds),
    sa.Column("poll_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("poll_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("video_url", sa.Text),
    sa.Column("reason", sa.Text),  # a storage.reasons.Reason code
    sa.Column("completed_at", Seconds),
    sa.Column("delivered_at", Seconds),
    sa.Column("image_fix", sa.Text),  # crop / pad / upscale chosen by the user
    sa.Column("language", sa.Text),  # the user's Telegram language_code
    sa.Column("retry_of", BigId),  # the job "Again"/"Try again" repeats
    sa.Column("status_text", sa.Text),  # what the status message shows now
    sa.Column("status_edited_at", Seconds),
    sa.Column("video_message_id", BigId),
    sa.Column("endpoint", sa.Text),  # where it was made; NULL: 'legacy'
    sa.Column("video_seconds", Seconds),
    sa.Column("usage_amount", Seconds),  # what the API says the job cost ...
    sa.Column("usage_unit", sa.Text),  # ... in 'credits' or 'tokens'
    sa.Column("busy_since", Seconds),
    sa.Column("retry_at", Seconds),
    sa.Column("submit_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unanswered_sends", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pending_status", sa.Text),
    sa.Column("status_chat_id", BigId),
    sa.Column("api_reason", sa.Text),  # the API's words for its failure, if any
    # The claim of the instance working on the job: the owner, and until when it holds unless
    # it renews the lease (`storage.leases`). Released: `lease_until` NULL, the owner kept as
    # the last to work on it.
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", Seconds),
    sa.Column("taken_over_from", sa.Text),  # the last owner whose lease ran out on this job
    # Paid with one of the user's video credits (`storage.ledger`); NULL: not paid so
    # (payments off, or an admin's). The credit stays used while the job counts against the
    # day's budget, and comes back whenever that count does.
    sa.Column("credit_used", sa.Boolean(create_constraint=False)),
    sa.UniqueConstraint("chat_id", "request_message_id"),
)
# The tick asks only for rows with work left: a partial index keeps that cheap however many
# finished jobs pile up.
_DUE = jobs.c.next_poll_at.is_not(None)
sa.Index("jobs_due", jobs.c.next_poll_at, sqlite_where=_DUE, postgresql_where=_DUE)
sa.Index("jobs_by_user", jobs.c.user_id, jobs.c.created_at.desc())
# Budgets and the line count jobs by state on every request.
sa.Index("jobs_by_state", jobs.c.state, jobs.c.created_at)
# The heartbeat renews, and a stopping instance releases, the leases an owner holds.
_LEASED = jobs.c.lease_until.is_not(None)
sa.Index("jobs_leased", jobs.c.lease_owner, sqlite_where=_LEASED, postgresql_where=_LEASED)

album_notices = sa.Table(
    "album_notices",
    metadata,
    sa.Column("chat_id", BigId, primary_key=True),
    sa.Column("media_group_id", sa.Text, primary_key=True),
    sa.Column("created_at", Seconds, nullable=False),
)

#: /allow and /deny at run time, on top of the settings' lists.
access_overrides = sa.Table(
    "access_overrides",
    metadata,
    sa.Column("user_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("allowed", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("changed_by", BigId),
    sa.Column("changed_at", Seconds, nullable=False),
)

#: The place in line last shown to each waiting job, so it is edited only when it changes.
line_places = sa.Table(
    "line_places",
    metadata,
    sa.Column("job_id", BigId, sa.ForeignKey("jobs.id"), primary_key=True, autoincrement=False),
    sa.Column("place", sa.Integer, nullable=False),
)

user_prefs = sa.Table(
    "user_prefs",
    metadata,
    sa.Column("user_id", BigId, primary_key=True, autoincrement=False),
    # NULL: the PROMPT_OPTIMIZER setting decides.
    sa.Column("prompt_optimizer", sa.Boolean(create_constraint=False)),
    sa.Column("updated_at", Seconds, nullable=False),
)

#: A group that became a supergroup: its jobs keep their chat and message ids; what is sent
#: for them goes to the new chat (JobStore.current_chat).
chat_moves = sa.Table(
    "chat_moves",
    metadata,
    sa.Column("old_chat_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("new_chat_id", BigId, nullable=False),
    sa.Column("moved_at", Seconds, nullable=False),
)

#: Updates Telegram posted to the webhook, kept before they are answered: one a row, so that
#: one posted twice (to this instance or another) is taken once, and one the process did not
#: finish handling is handled at the next start.
updates = sa.Table(
    "updates",
    metadata,
    sa.Column("update_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("body", sa.Text, nullable=False),  # Telegram's JSON, as posted
    sa.Column("received_at", Seconds, nullable=False),
    sa.Column("handled_at", Seconds),  # NULL: not handled to the end yet
    sa.Column("lease_owner", sa.Text),  # the instance handling it, as for jobs
    sa.Column("lease_until", Seconds),
)
_UNHANDLED = updates.c.handled_at.is_(None)
sa.Index(
    "updates_unhandled",
    updates.c.received_at,
    sqlite_where=_UNHANDLED,
    postgresql_where=_UNHANDLED,
)

#: What every instance must know alike of the paid API: the pace of its creates
#: (`bot.aimlapi.pacing`) and how many submissions in a row ended unconfirmed
#: (`bot.policy.alerts`). One row, `id` 1.
api_health = sa.Table(
    "api_health",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("creates_per_minute", Seconds),  # NULL: unlimited, until a 429 is seen
    sa.Column("rate_set_at", Seconds, nullable=False, server_default="0"),
    sa.Column("next_create_at", Seconds, nullable=False, server_default="0"),
    sa.Column("paused_until", Seconds, nullable=False, server_default="0"),
    sa.Column("unconfirmed_in_a_row", sa.Integer, nullable=False, server_default="0"),
)

#: The admins' alerts: each reason raised at most once an hour across all instances, and sent
#: once (`sent_at` set by the instance that sends it).
admin_alerts = sa.Table(
    "admin_alerts",
    metadata,
    sa.Column("reason", sa.Text, primary_key=True),  # a bot.policy.alerts.Alert
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("raised_at", Seconds, nullable=False),
    sa.Column("sent_at", Seconds),  # NULL: waiting to be sent
)

#: The users' video credits, one row per event: a grant of free videos, a purchase in
#: Telegram Stars, a spend on a job, a refund. A user's balance is what they were granted and
#: bought, less what was refunded, less the jobs paid with a credit that still count
#: (`storage.ledger.LedgerStore.balance_in`): a spend's credit comes back with the job's
#: place in the day's count, with no row to forget.
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("user_id", BigId, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # a storage.ledger.Entry
    sa.Column("videos", sa.Integer, nullable=False),  # + credits gained, - credits used
    sa.Column("stars", sa.Integer, nullable=False, server_default="0"),  # paid (+), refunded (-)
    sa.Column("charge_id", sa.Text),  # Telegram's telegram_payment_charge_id
    sa.Column("job_id", BigId),  # the job a spend or a return is for
    sa.Column("pack", sa.Text),  # the pack bought, as in STAR_PACKS: "5:250"
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("note", sa.Text),  # who refunded, and why (an admin's /refund)
    # Once per charge (a payment posted twice credits once; a charge refunded once), and a
    # spend once per job.
    sa.UniqueConstraint("kind", "charge_id"),
    sa.UniqueConstraint("kind", "job_id"),
)
sa.Index("ledger_by_user", ledger.c.user_id, ledger.c.created_at)
# One grant of free videos per user, however many instances see their first request at once.
_GRANT = ledger.c.kind == "grant"
sa.Index(
    "ledger_one_grant",
    ledger.c.user_id,
    unique=True,
    sqlite_where=_GRANT,
    postgresql_where=_GRANT,
)
