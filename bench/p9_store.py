"""P9: the importers' upsert into a store that already holds a window (20,000,000 rows over 30
day partitions) against the same upsert into an empty store, in the same run: partitioning by
day keeps a load's cost that of its own day's partition, not of the whole store.

The upsert is the one load path of both importers (`trustpipe_importer.load.upsert`: COPY into
a staging table, then the idempotent upsert keyed by enterprise, message id and received_at),
fed fresh rows of today, one transaction per batch. The two stores are two databases migrated
to head on one PostgreSQL server; the full one is filled on the server (``INSERT ... SELECT``
from ``generate_series``, one statement per day partition), not row by row from Python.
Measurements alternate between the stores (best of ``repeats``), the empty one emptied before
each.

Runs on a PostgreSQL server of its own, stopped by pid at the end; given the local stack (the
test suite's), in two databases of its own on its server, dropped at the end."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.harness import NOTHING, Result, Shared
from trustpipe.db import migrate, partitions
from trustpipe.db.partitions import DayPartitions
from trustpipe_importer.load import SCORED_MESSAGE, TARGETS, upsert
from trustpipe_stack.servers import Postgres

NEEDS: tuple[str, ...] = ("stack",)
ENTERPRISES = ("acme", "globex", "initech")


@dataclass(frozen=True)
class Size:
    stored_rows: int
    """Rows the full store holds before the measurements, spread evenly over ``days``."""
    days: int
    batch_rows: int
    """Rows of one measured upsert (one transaction)."""
    repeats: int


FULL = Size(stored_rows=20_000_000, days=30, batch_rows=100_000, repeats=5)
SMOKE = Size(stored_rows=30_000, days=30, batch_rows=2_000, repeats=2)

FILL_SQL = """
INSERT INTO {partition} (message_id, enterprise_id, received_at, scored_at, from_address,
  from_display_name, from_domain, reply_to, sending_ip, score, verdict, reasons, model_version,
  source, source_ref, sensor_schema_version)
SELECT '<fill-' || %(tag)s || '-' || lpad(g::text, 9, '0') || '@bench.example>', e.id,
  %(start)s::timestamptz + ((g - 1)::float8 / %(per)s) * interval '1 day',
  %(start)s::timestamptz + ((g - 1)::float8 / %(per)s) * interval '1 day' + interval '2 seconds',
  'u' || g || '@partner.com', 'User', 'partner.com', NULL, '198.51.100.7', (g %% 1000) / 1000.0,
  CASE WHEN g %% 33 = 0 THEN 'QUARANTINE' WHEN g %% 11 = 0 THEN 'LABEL' ELSE 'PASS_THROUGH' END,
  ARRAY['domain_reputation'], 'bench', 'BATCH', %(hour)s, 3
FROM unnest(%(enterprises)s::text[]) AS e(id), generate_series(1, %(per)s) AS g
"""
"""One day partition's rows, in key order (an enterprise's ids ascending, as mail arrives)."""


def fill(url: str, days: list[date], rows: int) -> float:
    """``rows`` rows over ``days`` (their partitions made first), on the server; seconds taken."""
    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        DayPartitions(keep_days=len(days) + 1).ensure(conn, days, today=max(days))
        per = max(1, -(-rows // (len(days) * len(ENTERPRISES))))  # at least ``rows``
        for day in days:
            start = partitions.day_bounds(day)[0]
            conn.execute(
                FILL_SQL.format(partition=partitions.partition_name(day)),  # a module constant's name
                {
                    "tag": f"{day:%Y%m%d}",
                    "start": start,
                    "per": per,
                    "hour": f"{day:%Y-%m-%d}T00",
                    "enterprises": list(ENTERPRISES),
                },
            )
        conn.execute("VACUUM ANALYZE scored_messages")
    return time.perf_counter() - began


def batch(n: int, tag: str, today: date) -> list[dict[str, Any]]:
    """``n`` fresh rows of today, as the scored stream or a scored file carries them."""
    start = partitions.day_bounds(today)[0]
    scored_at = datetime.now(UTC)
    return [
        {
            "message_id": f"<{tag}-{i}@bench.example>",
            "enterprise_id": ENTERPRISES[i % 3],
            "received_at": start + timedelta(milliseconds=i * 7),
            "scored_at": scored_at,
            "from_address": f"u{i}@partner.com",
            "from_display_name": "User",
            "from_domain": "partner.com",
            "reply_to": None,
            "sending_ip": "198.51.100.7",
            "score": (i % 1000) / 1000,
            "verdict": "QUARANTINE" if i % 33 == 0 else "PASS_THROUGH",
            "reasons": ["domain_reputation"],
            "model_version": "bench",
            "model_promotion": 0,
            "source": "STREAM",
            "source_ref": "bench",
            "sensor_schema_version": 3,
        }
        for i in range(n)
    ]


def upsert_rate(url: str, rows: list[dict[str, Any]]) -> float:
    """Rows/s of one upsert of ``rows`` through the load path, committed."""
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        with conn.transaction():
            upsert(conn, rows, TARGETS[SCORED_MESSAGE])
        return len(rows) / (time.perf_counter() - began)


def stored(url: str) -> tuple[int, int]:
    """(rows, day partitions holding rows) of a store."""
    with psycopg.connect(url) as conn:
        sql = "SELECT tableoid, count(*) FROM scored_messages GROUP BY tableoid"
        counts = [int(n) for _, n in conn.execute(sql).fetchall()]
        return sum(counts), len(counts)


@contextmanager
def _server(shared: Shared, work: Path) -> Iterator[str]:
    """The URL of a server's ``postgres`` database: the shared stack's, or a server of its own."""
    if shared.stack is not None:
        url = shared.stack.settings().database_url
        assert url, "the local stack's settings"
        yield url.rsplit("/", 1)[0] + "/postgres"
        return
    pg = Postgres(work / "pg")
    pg.start()
    try:
        yield pg.url.rsplit("/", 1)[0] + "/postgres"
    finally:
        pg.stop()


@contextmanager
def _databases(admin_url: str, *names: str) -> Iterator[list[str]]:
    """Databases of this run's own on the server, migrated to head, dropped afterwards."""
    base, suffix = admin_url.rsplit("/", 1)[0], uuid.uuid4().hex[:8]
    made = [f"bench_p9_{n}_{suffix}" for n in names]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        try:
            for name in made:
                admin.execute(f'CREATE DATABASE "{name}"')
                migrate.upgrade(f"{base}/{name}")
            yield [f"{base}/{name}" for name in made]
        finally:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    today = partitions.today_utc()
    days = [today - timedelta(days=n) for n in range(size.days)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-p9-") as tmp,
        _server(shared, Path(tmp)) as admin,
        _databases(admin, "empty", "full") as (empty, full),
    ):
        fill_seconds = fill(full, days, size.stored_rows)
        held, day_partitions = stored(full)
        best = measure(empty, full, size, today)
    return [
        Result(
            "P9",
            f"upsert (COPY + upsert, batches of {size.batch_rows:,} rows) into a store of {held:,} rows "
            f"over {day_partitions} day partitions vs into an empty store",
            best["full"],
            best["empty"],
            ">= 0.8",
            "rows/s",
            {
                "stored_rows": held,
                "day_partitions": day_partitions,
                "fill_seconds": round(fill_seconds, 1),
                "fill_rows_per_s": round(held / fill_seconds) if fill_seconds else None,
                "batches_each": size.repeats,
            },
        )
    ]


def measure(empty: str, full: str, size: Size, today: date) -> dict[str, float]:
    """Best rows/s of each store over ``size.repeats`` alternating batches; the empty store is
    emptied before each of its own."""
    with psycopg.connect(empty, autocommit=True) as conn:
        DayPartitions().ensure(conn, [today])
    best = {"empty": 0.0, "full": 0.0}
    for r in range(size.repeats):
        with psycopg.connect(empty) as conn:
            conn.execute("TRUNCATE scored_messages")
        for name, url in (("empty", empty), ("full", full)):
            rows = batch(size.batch_rows, f"{name}-{r}", today)
            best[name] = max(best[name], upsert_rate(url, rows))
    return best
