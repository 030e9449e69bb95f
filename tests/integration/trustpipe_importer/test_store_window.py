"""The store keyed by (enterprise, message id) and partitioned by day, on a real PostgreSQL of the
module's own (each test in a database of its own): migration 0006 from the old table, the batch
load path's key, partitions made ahead and on demand (and concurrently), retention."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.harness.cli import run_cli
from tests.harness.databases import own_database
from tests.harness.scored import scored
from trustpipe.db import migrate, partitions
from trustpipe.db.partitions import DayPartitions, apply_retention, partition_name
from trustpipe.db.query import PostgresDatabase
from trustpipe_importer.load import SCORED_MESSAGE, TARGETS, upsert
from trustpipe_orchestration import hour
from trustpipe_stack.servers import Postgres

TODAY = partitions.today_utc()
OLD_ROWS_SQL = """
INSERT INTO scored_messages (message_id, enterprise_id, received_at, scored_at, from_address,
  from_display_name, from_domain, reply_to, sending_ip, score, verdict, reasons, model_version,
  source, source_ref, sensor_schema_version)
SELECT '<old-' || g || '@x>', (ARRAY['acme','globex','initech'])[1 + g %% 3],
  %(start)s::timestamptz + (g %% %(days)s) * interval '1 day' + (g %% 86400) * interval '1 second',
  now(), 'a@b.com', 'A', 'b.com', NULL, '198.51.100.1', (g %% 100) / 100.0,
  (ARRAY['QUARANTINE','LABEL','PASS_THROUGH'])[1 + g %% 3], ARRAY['spf_fail'], 'm1', 'BATCH',
  'h', 3
FROM generate_series(1, %(rows)s) g
"""
SNAPSHOT_SQL = (
    "SELECT md5(string_agg(r::text, '|' ORDER BY r::text)), count(*) "
    "FROM (SELECT to_jsonb(t) - 'model_promotion' AS r FROM scored_messages t) s"
)
"""The rows as they were before 0007 added the model's promotion."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    pg = Postgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def url(server: Postgres) -> Iterator[str]:
    """A database of the test's own, at no revision."""
    with own_database(server.url, "store") as (url, _admin):
        yield url


@pytest.fixture
def head(url: str) -> str:
    migrate.upgrade(url)
    return url


def where(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows per partition."""
    rows = conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM scored_messages GROUP BY 1"
    ).fetchall()
    return dict(rows)


def day_start(day: date) -> datetime:
    return partitions.day_bounds(day)[0]


def test_migration_keeps_every_row_and_puts_each_in_its_day(url: str) -> None:
    # GIVEN the store at 0005 holding rows of the old schema over five recent days, and rows of
    # a day long past the window
    migrate.upgrade(url, "0005")
    first = TODAY - timedelta(days=4)
    with psycopg.connect(url) as conn:
        conn.execute(OLD_ROWS_SQL, {"start": day_start(first), "days": 5, "rows": 5_000})
        conn.execute(
            OLD_ROWS_SQL.replace("<old-", "<ancient-"),
            {"start": day_start(TODAY - timedelta(days=400)), "days": 1, "rows": 50},
        )
        before = conn.execute(SNAPSHOT_SQL).fetchone()
    # WHEN it is upgraded to head
    migrate.upgrade(url)
    # THEN every row is there, unchanged; each recent day's rows are in that day's partition,
    # the old day's in the default partition; the days ahead have theirs
    with psycopg.connect(url) as conn:
        assert conn.execute(SNAPSHOT_SQL).fetchone() == before
        assert conn.execute("SELECT DISTINCT model_promotion FROM scored_messages").fetchall() == [(0,)]
        placed = where(conn)
        assert placed == {
            **{partition_name(first + timedelta(days=n)): 1_000 for n in range(5)},
            partitions.DEFAULT_PARTITION: 50,
        }
        assert set(partitions.ahead(TODAY)) <= partitions.existing_days(conn)
        indexes = {
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'scored_messages'")
        }
        assert indexes == {"pk_scored_messages", "ix_scored_messages_quarantine"}
        assert conn.execute("SELECT to_regclass('scored_messages_0005')").fetchone() == (None,)


def test_the_same_message_id_at_two_enterprises_is_two_rows_and_a_redelivery_changes_nothing(
    head: str,
) -> None:
    # GIVEN a batch holding one Message-ID at acme and at globex (one campaign, two enterprises)
    rows = scored(2, "campaign")
    for r, enterprise in zip(rows, ("acme", "globex"), strict=True):
        r.update(message_id="<campaign@evil.example>", enterprise_id=enterprise)
    with psycopg.connect(head, autocommit=True) as conn:
        # WHEN it goes through the load path, twice (a redelivery)
        with conn.transaction():
            assert upsert(conn, rows, TARGETS[SCORED_MESSAGE]) == 2
        first = conn.execute(SNAPSHOT_SQL).fetchone()
        with conn.transaction():
            upsert(conn, rows, TARGETS[SCORED_MESSAGE])
        # THEN two rows, one per enterprise, and the second delivery changed nothing
        stored = conn.execute("SELECT enterprise_id FROM scored_messages ORDER BY 1").fetchall()
        assert stored == [("acme",), ("globex",)]
        assert conn.execute(SNAPSHOT_SQL).fetchone() == first


def test_one_message_id_at_two_enterprises_in_one_hour_passes_the_hourly_row_and_stats_checks(
    head: str,
) -> None:
    # GIVEN an hour whose scored file holds one Message-ID at two enterprises, imported with its
    # stats (one message per enterprise)
    rows = scored(2, "campaign")
    for r, enterprise in zip(rows, ("acme", "globex"), strict=True):
        r.update(message_id="<campaign@evil.example>", enterprise_id=enterprise, source_ref="2026-11-20T08")
    stats = [
        {
            "enterprise_id": e,
            "hour": "2026-11-20T08",
            "model_version": "m",
            "messages": 1,
            "quarantined": 0,
            "labelled": 0,
            "passed": 1,
            "set_aside": 0,
            "mean_score": 0.1,
            "computed_at": rows[0]["scored_at"],
            "score_histogram": [0] * 20,
        }
        for e in ("acme", "globex")
    ]
    with psycopg.connect(head, autocommit=True) as conn:
        with conn.transaction():
            upsert(conn, rows, TARGETS[SCORED_MESSAGE])
        with conn.transaction():
            upsert(conn, stats, TARGETS["io.trustpipe.scoring.ScoringStats"])
    # WHEN the hour's checks count its rows and stats against its manifest's two records
    db = PostgresDatabase(lambda: psycopg.connect(head))
    counted = hour.reconcile(db, {"hour": "2026-11-20T08", "records": 2})
    # THEN both rows are there and the hour passes
    assert counted == 2
    assert hour.rows_in_store(db, "2026-11-20T08") == (2, 2)


def test_a_newer_model_replaces_the_verdict_of_its_own_enterprise_only(head: str) -> None:
    # GIVEN one Message-ID stored at two enterprises
    rows = scored(2, "m", model="20261120T000000-a")
    for r, enterprise in zip(rows, ("acme", "globex"), strict=True):
        r.update(message_id="<same@x>", enterprise_id=enterprise, received_at=rows[0]["received_at"])
    with psycopg.connect(head, autocommit=True) as conn:
        with conn.transaction():
            upsert(conn, rows, TARGETS[SCORED_MESSAGE])
        # WHEN a newer model's verdict for acme's copy arrives
        newer = {**rows[0], "model_version": "20261121T000000-b", "verdict": "QUARANTINE"}
        with conn.transaction():
            upsert(conn, [newer], TARGETS[SCORED_MESSAGE])
        # THEN acme's row has it, globex's keeps its own
        got = dict(conn.execute("SELECT enterprise_id, model_version FROM scored_messages").fetchall())
    assert got == {"acme": "20261121T000000-b", "globex": "20261120T000000-a"}


def test_rows_of_any_time_are_stored_those_without_a_day_partition_in_the_default(head: str) -> None:
    # GIVEN rows at the edges of time (hostile but valid sensor clocks) and one of today
    rows = scored(3, "edge")
    for r, at in zip(
        rows,
        (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC), day_start(TODAY)),
        strict=True,
    ):
        r["received_at"] = at
    # WHEN they are loaded
    with psycopg.connect(head, autocommit=True) as conn:
        with conn.transaction():
            upsert(conn, rows, TARGETS[SCORED_MESSAGE])
        # THEN all are stored: today's in its day, the others in the default partition
        assert where(conn) == {partition_name(TODAY): 1, partitions.DEFAULT_PARTITION: 2}


def test_a_day_made_after_its_rows_arrived_takes_them_from_the_default(head: str) -> None:
    # GIVEN rows of a day inside the window that has no partition yet (they went to the default)
    day = TODAY - timedelta(days=20)
    rows = scored(30, "late")
    for n, r in enumerate(rows):
        r["received_at"] = day_start(day) + timedelta(minutes=n)
    with psycopg.connect(head, autocommit=True) as conn:
        with conn.transaction():
            upsert(conn, rows, TARGETS[SCORED_MESSAGE])
        assert where(conn) == {partitions.DEFAULT_PARTITION: 30}
        # WHEN the load path sweeps the default partition
        made = DayPartitions().sweep(conn)
        # THEN the day has its partition and its rows are in it
        assert made == [day]
        assert where(conn) == {partition_name(day): 30}


def test_retention_drops_one_old_day_and_leaves_the_others(head: str) -> None:
    # GIVEN four days of rows with their partitions, and default-partition rows of a day long
    # past and of a day far ahead
    days = [TODAY - timedelta(days=n) for n in (3, 2, 1, 0)]
    rows = scored(12, "kept")
    for n, r in enumerate(rows):
        r["received_at"] = day_start(days[n % 4]) + timedelta(hours=1)
    stray = scored(2, "stray")
    stray[0]["received_at"] = day_start(TODAY - timedelta(days=300))
    stray[1]["received_at"] = day_start(TODAY + timedelta(days=300))
    with psycopg.connect(head, autocommit=True) as conn:
        DayPartitions().ensure(conn, days)
        with conn.transaction():
            upsert(conn, rows + stray, TARGETS[SCORED_MESSAGE])
        # WHEN retention keeps three days
        gone = apply_retention(conn, keep_days=3)
        # THEN the oldest day's partition is dropped, the other days keep theirs and their rows;
        # of the default partition only the row older than the window went
        assert gone.dropped == (partition_name(days[0]),)
        assert gone.default_rows == 1
        assert where(conn) == {
            **{partition_name(d): 3 for d in days[1:]},
            partitions.DEFAULT_PARTITION: 1,
        }
        # AND a second run finds nothing more to drop
        assert apply_retention(conn, keep_days=3).dropped == ()


def test_retention_refuses_to_keep_no_day(head: str) -> None:
    with psycopg.connect(head) as conn, pytest.raises(ValueError, match="at least 1"):
        apply_retention(conn, keep_days=0)


def test_two_makers_at_once_make_each_day_once(head: str) -> None:
    # GIVEN two importers that both find ten days without partitions
    days = [TODAY - timedelta(days=n) for n in range(10, 20)]
    made: list[list[date]] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            with psycopg.connect(head, autocommit=True) as conn:
                made.append(DayPartitions().ensure(conn, days))
        except BaseException as err:
            errors.append(err)

    # WHEN both make them at once
    threads = [threading.Thread(target=make) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # THEN each day is made once, and neither fails
    assert errors == []
    assert sorted(d for m in made for d in m) == sorted(days)


def test_making_a_day_waits_for_an_upsert_in_flight_and_neither_deadlocks(head: str) -> None:
    """Measured: upserts of three loaders, each reaching days without partitions and making them
    (between its loads, never inside one), for 60 rounds; no deadlock, no failure, every row in
    its day's partition."""
    # GIVEN three loaders, each loading batches of two days that are new to the store
    errors: list[BaseException] = []
    rounds = 20

    def loader(k: int) -> None:
        keeper = DayPartitions()
        try:
            with psycopg.connect(head, autocommit=True) as conn:
                for n in range(rounds):
                    days = [TODAY - timedelta(days=2 + (n + k) % 40), TODAY - timedelta(days=2 + n % 40)]
                    rows = scored(200, f"l{k}-{n}")
                    for i, r in enumerate(rows):
                        r["received_at"] = day_start(days[i % 2]) + timedelta(seconds=i)
                    keeper.ensure(conn, days)
                    with conn.transaction():
                        upsert(conn, rows, TARGETS[SCORED_MESSAGE])
                        time.sleep(0.01)  # the transaction stays open a moment, as a large load's does
        except BaseException as err:
            errors.append(err)

    # WHEN they run at once
    threads = [threading.Thread(target=loader, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # THEN none failed (no deadlock, no lock timeout) and every row sits in its day's partition
    assert errors == []
    with psycopg.connect(head, autocommit=True) as conn:
        placed = where(conn)
    assert sum(placed.values()) == 3 * rounds * 200
    assert partitions.DEFAULT_PARTITION not in placed


def test_a_maker_that_cannot_get_the_table_gives_up_and_the_rows_wait_in_the_default(head: str) -> None:
    # GIVEN a load holding the table in an open transaction
    day = TODAY - timedelta(days=30)
    keeper = DayPartitions(lock_timeout="200ms")
    with psycopg.connect(head) as holder, psycopg.connect(head) as conn:
        holder.execute("SELECT count(*) FROM scored_messages")  # its transaction holds the table
        # WHEN another importer tries to make a day meanwhile
        made = keeper.ensure(conn, [day])
        # THEN it gives up for now (its rows would go to the default partition) ...
        assert made == []
        holder.rollback()
        # ... and makes the day once the table is free
        assert keeper.ensure(conn, [day]) == [day]


def test_db_retention_prints_what_it_dropped(head: str, tmp_path: Path) -> None:
    # GIVEN the store with a partition of a day 10 days back
    old = TODAY - timedelta(days=10)
    with psycopg.connect(head, autocommit=True) as conn:
        DayPartitions().ensure(conn, [old])
    settings = settings_file(tmp_path, head)
    # WHEN `trustpipe db retention --keep-days 5` runs
    done = run_cli("db", "retention", "--keep-days", "5", "--settings", str(settings))
    # THEN it says it dropped that day's partition, and it is gone
    assert done.returncode == 0, done.stderr
    assert partition_name(old) in done.stdout
    with psycopg.connect(head, autocommit=True) as conn:
        assert old not in partitions.existing_days(conn)


def test_db_retention_refuses_to_keep_no_day(tmp_path: Path, head: str) -> None:
    # GIVEN the store with yesterday's partition
    settings = settings_file(tmp_path, head)
    # WHEN retention is asked to keep no day, or something that is not a number of days
    for bad in ("0", "-3", "ninety"):
        done = run_cli("db", "retention", "--keep-days", bad, "--settings", str(settings))
        # THEN it refuses with the option named, and drops nothing
        assert done.returncode == 2, done.stdout
        assert "keep-days" in done.stderr
    with psycopg.connect(head, autocommit=True) as conn:
        assert TODAY - timedelta(days=1) in partitions.existing_days(conn)


def settings_file(tmp_path: Path, url: str) -> Path:
    """Settings naming only the database (the command reaches nothing else)."""
    import json

    names = (
        "landing_bucket scored_bucket archive_bucket scored_topic_arn importer_queue_url "
        "importer_dlq_url raw_stream_name scored_stream_name imported_stream_name registry_table_name"
    )
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"region": "us-east-1", **dict.fromkeys(names.split(), "x"), "database_url": url})
    )
    return path
