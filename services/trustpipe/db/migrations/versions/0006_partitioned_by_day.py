"""scored_messages keyed by (enterprise, message id, received_at), partitioned by UTC day of
received_at, with a default partition; every existing row kept

The table of 0005 is renamed aside, the partitioned table made in its image (its columns,
defaults and NOT NULLs), day partitions created for the days its rows fall on inside the window
(``partitions.DEFAULT_KEEP_DAYS`` back, ``partitions.DAYS_AHEAD`` ahead) and for the days around
today, rows of other days left to the default partition; then the rows are copied and the old
table dropped, all in the migration's one transaction.

Revision ID: 0006
Revises: 0005
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

from trustpipe.db import partitions

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = "scored_messages_0005"
QUARANTINE_INDEX = (
    "CREATE INDEX ix_scored_messages_quarantine ON scored_messages "
    "(enterprise_id, received_at DESC) WHERE verdict = 'QUARANTINE'"
)


def upgrade() -> None:
    bind = op.get_bind()
    _set_aside_old_table()
    op.execute(
        f"CREATE TABLE scored_messages (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        "PARTITION BY RANGE (received_at)"
    )
    op.execute(
        "ALTER TABLE scored_messages ADD CONSTRAINT pk_scored_messages "
        "PRIMARY KEY (enterprise_id, message_id, received_at)"
    )
    op.execute(QUARANTINE_INDEX)
    op.execute(f"CREATE TABLE {partitions.DEFAULT_PARTITION} PARTITION OF scored_messages DEFAULT")
    op.execute(
        f"CREATE INDEX ix_{partitions.DEFAULT_PARTITION}_received_at "
        f"ON {partitions.DEFAULT_PARTITION} (received_at)"
    )
    for day in _days(bind):
        start, end = partitions.day_bounds(day)
        op.execute(
            f"CREATE TABLE {partitions.partition_name(day)} PARTITION OF scored_messages "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    op.execute(f"INSERT INTO scored_messages SELECT * FROM {OLD}")  # noqa: S608
    op.execute(f"DROP TABLE {OLD}")


def _set_aside_old_table() -> None:
    op.execute(f"ALTER TABLE scored_messages RENAME TO {OLD}")
    op.execute(f"ALTER INDEX pk_scored_messages RENAME TO pk_{OLD}")
    op.execute(f"ALTER INDEX ix_scored_messages_quarantine RENAME TO ix_{OLD}_quarantine")


def _days(bind: sa.Connection) -> list[date]:
    """The days present in the old table inside the window, and the days around today."""
    today = partitions.today_utc()
    first, last = partitions.window(today, partitions.DEFAULT_KEEP_DAYS)
    present = bind.execute(
        sa.text(
            f"SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM {OLD} "  # noqa: S608
            "WHERE received_at >= :start AND received_at < :end"
        ),
        {"start": partitions.day_bounds(first)[0], "end": partitions.day_bounds(last)[1]},
    ).scalars()
    return sorted(set(present) | set(partitions.ahead(today)))


def downgrade() -> None:
    """Back to one table keyed by message id: where a Message-ID is stored at several
    enterprises, only the newest verdict stays (the old key cannot hold more)."""
    op.execute(f"CREATE TABLE {OLD} (LIKE scored_messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    op.execute(
        f"INSERT INTO {OLD} SELECT DISTINCT ON (message_id) * FROM scored_messages "  # noqa: S608
        "ORDER BY message_id, model_version DESC, scored_at DESC"
    )
    op.execute("DROP TABLE scored_messages")
    op.execute(f"ALTER TABLE {OLD} RENAME TO scored_messages")
    op.execute("ALTER TABLE scored_messages ADD CONSTRAINT pk_scored_messages PRIMARY KEY (message_id)")
    op.execute(QUARANTINE_INDEX)
