"""verdicts ordered by model promotion; stored verdicts waiting to be forwarded to the alerters;
the position of a row PostgreSQL refused

``scored_messages.model_promotion``: the promotion number of the model that produced the
verdict (``trustpipe.model.artifact.promote``; 0 for verdicts from before it). The importers'
upsert compares it first, so a model promoted again by a rollback replaces the verdicts of the
model it rolled back.

``import_forwards``: a QUARANTINE/LABEL verdict an upsert stored, in the upsert's transaction,
until it is on the imported stream (then deleted): a forward that fails after the commit leaves
it here to be forwarded again, never a stored verdict that no alerter hears of.

``import_errors.row_position``: a row of an object that PostgreSQL refused is set aside alone,
by its place in the object (from 0); null for a whole object or a stream record.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "scored_messages",
        sa.Column("model_promotion", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "import_forwards",
        sa.Column("enterprise_id", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "message_id", "received_at", name="pk_import_forwards"),
    )
    op.create_index("ix_import_forwards_source_key", "import_forwards", ["source_key"])
    op.add_column("import_errors", sa.Column("row_position", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("import_errors", "row_position")
    op.drop_index("ix_import_forwards_source_key", table_name="import_forwards")
    op.drop_table("import_forwards")
    op.drop_column("scored_messages", "model_promotion")
