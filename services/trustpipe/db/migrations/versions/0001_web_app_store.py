"""web app store: scored messages, stats, import ledger and errors

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_errors",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("error_type", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message_body", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_errors")),
    )
    op.create_table(
        "import_ledger",
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("object_key", "etag", name=op.f("pk_import_ledger")),
    )
    op.create_table(
        "scored_messages",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("enterprise_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_address", sa.Text(), nullable=False),
        sa.Column("from_display_name", sa.Text(), nullable=False),
        sa.Column("from_domain", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("sending_ip", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("sensor_schema_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_scored_messages")),
    )
    op.create_index(
        "ix_scored_messages_quarantine",
        "scored_messages",
        ["enterprise_id", sa.literal_column("received_at DESC")],
        unique=False,
        postgresql_where=sa.text("verdict = 'QUARANTINE'"),
    )
    op.create_table(
        "scoring_stats",
        sa.Column("enterprise_id", sa.Text(), nullable=False),
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("labelled", sa.BigInteger(), nullable=False),
        sa.Column("passed", sa.BigInteger(), nullable=False),
        sa.Column("set_aside", sa.BigInteger(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "hour", name=op.f("pk_scoring_stats")),
    )


def downgrade() -> None:
    op.drop_table("scoring_stats")
    op.drop_index(
        "ix_scored_messages_quarantine",
        table_name="scored_messages",
        postgresql_where=sa.text("verdict = 'QUARANTINE'"),
    )
    op.drop_table("scored_messages")
    op.drop_table("import_ledger")
    op.drop_table("import_errors")
