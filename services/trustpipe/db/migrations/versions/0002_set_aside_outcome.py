"""import ledger: input put aside is 'set_aside' (was 'rejected'), one word across the pipeline

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE import_ledger SET outcome = 'set_aside' WHERE outcome = 'rejected'")


def downgrade() -> None:
    op.execute("UPDATE import_ledger SET outcome = 'rejected' WHERE outcome = 'set_aside'")
