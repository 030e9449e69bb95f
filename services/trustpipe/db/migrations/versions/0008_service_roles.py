"""a PostgreSQL role per service, with only the grants it uses

``trustpipe_importer`` (the importers, batch and stream, and their forwarder) reads and writes
the store's tables; ``trustpipe_airflow`` (the Airflow host: the hour's checks, the store's
retention, its own metadata database) reads them. ``scored_messages`` and its day partitions are
owned by ``trustpipe_partitions`` (no login), of which both are members without inheriting its
rights: PostgreSQL lets only a partitioned table's owner create or drop its partitions, and the
code takes the role only for that (``trustpipe.db.partitions.act_as_owner``). Neither can
create roles, other tables or databases, nor alter the tables they write. The scorer and the
alerter have no role: they never touch the database.

The roles are the cluster's, shared by its databases: created unless they exist. On RDS they log
in with IAM tokens (``GRANT rds_iam``); elsewhere rds_iam does not exist and they get no
password here (a test or an operator sets one). The migrations themselves run as the user that
runs ``trustpipe db upgrade`` (the master user on RDS: the one-shot unit's), who owns the rest.

A later migration that adds a table grants on it to the roles that use it.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

IMPORTER, AIRFLOW, PARTITION_OWNER = "trustpipe_importer", "trustpipe_airflow", "trustpipe_partitions"
STORE = ("scored_messages", "scoring_stats", "import_ledger", "import_errors", "import_forwards")
PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'scored_messages'::regclass"
)


def _create_role(name: str, login: bool) -> str:
    return f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
    BEGIN
      CREATE ROLE {name} {"LOGIN" if login else "NOLOGIN"};
    EXCEPTION WHEN duplicate_object THEN NULL;  -- another database's migration made it meanwhile
    END;
  END IF;
  IF {str(login).lower()} AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO {name};
  END IF;
END $$"""  # noqa: S608 (the module's own role names)


def _owner_of_partitions(owner: str) -> str:
    return f"""
DO $$
DECLARE part text;
BEGIN
  ALTER TABLE scored_messages OWNER TO {owner};
  FOR part IN {PARTITIONS} LOOP
    EXECUTE format('ALTER TABLE %I OWNER TO {owner}', part);
  END LOOP;
END $$"""


def upgrade() -> None:
    op.execute(_create_role(PARTITION_OWNER, login=False))
    op.execute(_create_role(IMPORTER, login=True))
    op.execute(_create_role(AIRFLOW, login=True))
    # The migrating user hands scored_messages over and creates Airflow's database owned by its
    # role: PostgreSQL asks that it may act as both (on RDS the master user, their creator).
    op.execute(f"GRANT {PARTITION_OWNER}, {AIRFLOW} TO CURRENT_USER")
    # Not inherited: a service acts as the owner only by taking the role for a partition's
    # creation or drop (PostgreSQL 16's membership options; RDS runs 17).
    op.execute(f"GRANT {PARTITION_OWNER} TO {IMPORTER}, {AIRFLOW} WITH INHERIT FALSE, SET TRUE")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {IMPORTER}, {AIRFLOW}")
    op.execute(f"GRANT CREATE ON SCHEMA public TO {PARTITION_OWNER}")  # the day partitions
    op.execute(_owner_of_partitions(PARTITION_OWNER))
    tables = ", ".join(STORE)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {IMPORTER}")
    op.execute(f"GRANT USAGE ON SEQUENCE import_errors_id_seq TO {IMPORTER}")
    op.execute(f"GRANT SELECT ON {tables} TO {AIRFLOW}")


def downgrade() -> None:
    tables = ", ".join(STORE)
    op.execute(_owner_of_partitions("CURRENT_USER"))
    op.execute(f"REVOKE ALL ON {tables} FROM {IMPORTER}, {AIRFLOW}")
    op.execute(f"REVOKE ALL ON SEQUENCE import_errors_id_seq FROM {IMPORTER}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {PARTITION_OWNER}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {IMPORTER}, {AIRFLOW}")
    # The roles stay: they are the cluster's, and another database may still grant to them.
