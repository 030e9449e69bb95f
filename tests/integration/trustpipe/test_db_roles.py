"""Each service's PostgreSQL role (migration 0008) on a real PostgreSQL of the module's own, its
roles logging in with passwords as RDS roles log in with tokens: each can do what its service
does and not more; and Airflow's metadata engine asks for a password per new connection, so a
rotated one is used without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.harness.databases import own_database
from tests.harness.scored import BASE, scored
from trustpipe.db import migrate, partitions, roles
from trustpipe.db.partitions import DayPartitions, apply_retention, partition_name
from trustpipe_importer.load import SCORED_MESSAGE, TARGETS, upsert
from trustpipe_orchestration import metadata
from trustpipe_stack.servers import Postgres

PASSWORDS = {roles.IMPORTER: "importer-1", roles.AIRFLOW: "airflow-1", roles.REVIEW: "review-1"}
DAY = BASE.date()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """The stack's PostgreSQL, its service roles held to their passwords (the rest trusted)."""
    pg = Postgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    try:
        hba = pg.data_dir / "pg_hba.conf"
        own = "".join(f"host all {role} 127.0.0.1/32 scram-sha-256\n" for role in roles.LOGINS)
        hba.write_text(own + hba.read_text())
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def store(server: Postgres) -> Iterator[str]:
    """A database of the test's own at head, the roles' passwords set: the admin's URL."""
    with own_database(server.url, "roles") as (url, admin):
        migrate.upgrade(url)
        for role, password in PASSWORDS.items():
            admin.execute(f"ALTER ROLE {role} PASSWORD '{password}'")
        yield url


def login(admin_url: str, role: str, password: str | None = None) -> psycopg.Connection[Any]:
    url = roles.as_user(admin_url, role)
    return psycopg.connect(url, password=password or PASSWORDS[role], autocommit=True)


def refused(conn: psycopg.Connection[Any], statement: str) -> bool:
    try:
        conn.execute(statement)  # autocommit: CREATE DATABASE runs in no transaction
    except errors.InsufficientPrivilege:
        return True
    return False


def test_the_roles_are_the_services_that_use_the_database_and_the_owner_cannot_log_in(store: str) -> None:
    with psycopg.connect(store) as conn:
        found = dict(
            conn.execute("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'trustpipe%'")
        )
        owner = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'scored_messages'"
        ).fetchone()
    assert found == {
        roles.IMPORTER: True,
        roles.AIRFLOW: True,
        roles.REVIEW: True,
        roles.PARTITION_OWNER: False,
    }
    assert owner == (roles.PARTITION_OWNER,)


def test_the_importer_loads_makes_days_and_records_but_changes_no_schema(store: str) -> None:
    rows = scored(3, "roles")
    with login(store, roles.IMPORTER) as conn:
        # WHEN the importer does what it does: a day made, a batch upserted, ledger and forwards
        assert DayPartitions(keep_days=10_000).ensure(conn, [DAY], today=DAY) == [DAY]
        with conn.transaction():
            assert upsert(conn, rows, TARGETS[SCORED_MESSAGE], source="k") == 3
        conn.execute(
            "INSERT INTO import_ledger (object_key, etag, bucket, outcome, records) "
            "VALUES ('k', 'e', 'b', 'stored', 3)"
        )
        conn.execute("UPDATE import_ledger SET outcome = 'imported' WHERE object_key = 'k'")
        conn.execute(
            "INSERT INTO import_errors (bucket, object_key, error_type, reason) VALUES ('b', 'x', 't', 'r')"
        )
        conn.execute("DELETE FROM import_forwards")
        # THEN it did, and the day is the owner's, not the importer's
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", (partition_name(DAY),))
        assert owner.fetchone() == (roles.PARTITION_OWNER,)
        # and it may not change the schema, make roles or databases, or write a table as its owner
        for statement in (
            "DROP TABLE import_ledger",
            "ALTER TABLE import_ledger ADD COLUMN x int",
            "CREATE TABLE mine (x int)",
            "DROP TABLE scored_messages",
            "TRUNCATE scored_messages",
            "CREATE ROLE intruder",
            "CREATE DATABASE intruder",
        ):
            assert refused(conn, statement), statement


def test_airflow_reads_and_holds_the_window_but_writes_no_row(store: str) -> None:
    old = DAY - timedelta(days=30)
    with psycopg.connect(store, autocommit=True) as admin:
        DayPartitions(keep_days=10_000).ensure(admin, [old], today=DAY)
    with login(store, roles.AIRFLOW) as conn:
        # WHEN Airflow checks an hour and holds the store to its window
        for table in (
            "scored_messages",
            "scoring_stats",
            "import_ledger",
            "import_errors",
            "import_forwards",
        ):
            conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (the store's tables)
        dropped = apply_retention(conn, keep_days=7, today=DAY)
        assert partition_name(old) in dropped.dropped
        # THEN it writes no row of any table, and alters none
        for statement in (
            "INSERT INTO scoring_stats DEFAULT VALUES",
            "DELETE FROM scored_messages",
            "UPDATE import_ledger SET outcome = 'x'",
            "DELETE FROM import_forwards",
            "INSERT INTO import_errors (bucket, object_key, error_type, reason) VALUES ('b', 'x', 't', 'r')",
            "DROP TABLE import_ledger",
            "CREATE ROLE intruder",
        ):
            assert refused(conn, statement), statement


def test_the_partition_owner_is_taken_only_for_a_partition(store: str) -> None:
    with login(store, roles.AIRFLOW) as conn, conn.transaction():
        partitions.act_as_owner(conn)
        assert conn.execute("SELECT current_user").fetchone() == (roles.PARTITION_OWNER,)
    with login(store, roles.AIRFLOW) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (roles.AIRFLOW,)


def test_airflows_metadata_engine_survives_a_password_rotation_without_a_restart(store: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    # GIVEN Airflow's metadata URL with no password, and the listener its local settings install,
    # reading the password where it is kept now (on AWS: a fresh IAM token)
    kept = {roles.AIRFLOW: PASSWORDS[roles.AIRFLOW]}
    asked: list[tuple[str, int, str]] = []

    def password(host: str, port: int, user: str) -> str:
        asked.append((host, port, user))
        return kept[user]

    url = migrate.with_driver(roles.as_user(store, roles.AIRFLOW), "postgresql+psycopg2")
    metadata.install(host=url.split("@")[1].split(":")[0], token=password)
    engine = create_engine(url, pool_pre_ping=True)
    stale = create_engine(url.replace("@", f":{PASSWORDS[roles.AIRFLOW]}@", 1))  # built once, as before
    try:
        with engine.connect() as first:
            assert first.execute(text("SELECT current_user")).scalar() == roles.AIRFLOW
            # WHEN the password rotates (the role's on the server, and where it is kept)
            with psycopg.connect(store, autocommit=True) as admin:
                admin.execute(f"ALTER ROLE {roles.AIRFLOW} PASSWORD 'airflow-2'")
            kept[roles.AIRFLOW] = "airflow-2"
            # THEN a new connection of the same engine, in the same process, logs in
            with engine.connect() as second:
                assert second.execute(text("SELECT 1")).scalar() == 1
        assert len(asked) == 2 and asked[0][2] == roles.AIRFLOW
        # and a URL built once with the password of before does not
        with pytest.raises(OperationalError, match="password authentication failed"), stale.connect():
            pass
    finally:
        metadata.uninstall()
        engine.dispose()
        stale.dispose()
        with psycopg.connect(store, autocommit=True) as admin:
            admin.execute(f"ALTER ROLE {roles.AIRFLOW} PASSWORD '{PASSWORDS[roles.AIRFLOW]}'")


def test_the_review_api_appends_decisions_and_reads_nothing_else(store: str) -> None:
    with login(store, roles.REVIEW) as conn:
        conn.execute(
            "INSERT INTO review_decisions (enterprise_id, message_id, idempotency_key, decision, "
            "previous_verdict, reviewer, decided_at) VALUES ('acme', 'm', 'k', 'release', "
            "'QUARANTINE', 'r', now())"
        )
        assert conn.execute("SELECT count(*) FROM review_decisions").fetchone() == (1,)
        assert refused(conn, "SELECT count(*) FROM scored_messages")
        assert refused(conn, "DELETE FROM review_decisions")
        assert refused(conn, "CREATE TABLE mine (x int)")
