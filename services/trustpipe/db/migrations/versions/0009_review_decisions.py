"""reviewers' decisions, appended: who decided what of which message, when, over which verdict

``review_decisions``: one row per decision a reviewer of an enterprise took through the review
API (release, confirm_malicious, mark_safe), never updated but for ``acted_at`` (when its acts
were all done: the search document, the release action, the label) and ``answer`` (what the API
answered, returned again to a replay). The idempotency key is unique per enterprise: a replay
finds the first row instead of deciding twice.

``trustpipe_review`` (the review API) logs in to insert and read them; Airflow reads them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REVIEW, AIRFLOW = "trustpipe_review", "trustpipe_airflow"


def upgrade() -> None:
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("previous_verdict", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", JSONB, nullable=True),
        sa.UniqueConstraint("enterprise_id", "idempotency_key", name="uq_review_decisions_key"),
    )
    op.create_index(
        "ix_review_decisions_message", "review_decisions", ["enterprise_id", "message_id", "decided_at"]
    )
    op.execute(f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{REVIEW}') THEN
    BEGIN
      CREATE ROLE {REVIEW} LOGIN;
    EXCEPTION WHEN duplicate_object THEN NULL;
    END;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO {REVIEW};
  END IF;
END $$""")  # noqa: S608 (the module's own role name)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {REVIEW}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON review_decisions TO {REVIEW}")
    op.execute(f"GRANT USAGE ON SEQUENCE review_decisions_id_seq TO {REVIEW}")
    op.execute(f"GRANT SELECT ON review_decisions TO {AIRFLOW}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON SEQUENCE review_decisions_id_seq FROM {REVIEW}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {REVIEW}")
    op.drop_table("review_decisions")
