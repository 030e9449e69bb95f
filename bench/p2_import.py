"""P2: importer rows/s on a 1,000,000-row scored file, its blocks decoded by worker processes
that have started (a long-running importer's state after its first large object), against
fastavro's bare decode of the same file, and against row-at-a-time loads of the same rows, in the
same run. Beside it: the first object (the workers' start inside the timing) and the importer
decoding in its own process, which is what the row-at-a-time loads (a psycopg 3 loop of INSERTs,
psycopg2's own executemany and execute_values, each in one process) are compared with.
P6: the importer's peak RSS importing 1,000,000 rows against 100,000 rows (each in its own process).

Runs on its own moto server (S3) and PostgreSQL, stopped by pid at the end; given the local
stack (the test suite's), on its moto server in a bucket of its own and on its PostgreSQL server
in a database of its own, dropped at the end."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import psycopg

from bench.harness import NOTHING, Result, Shared, moto_client
from trustpipe import contracts
from trustpipe.announcements import ObjectCreated
from trustpipe.codec import write_container
from trustpipe.db import migrate
from trustpipe.db.partitions import DayPartitions
from trustpipe_importer.blocks import DecodePool
from trustpipe_importer.load import SCORED_COLUMNS, import_object
from trustpipe_stack.servers import MotoServer, Postgres

DECODE_PROCESSES = 2  # this machine's cores
BASE = datetime(2026, 11, 20, tzinfo=UTC)
NEEDS: tuple[str, ...] = ("stack",)


@dataclass(frozen=True)
class Size:
    rows: int
    small_rows: int
    middle_rows: int
    """P6 draws peak RSS over the three file sizes."""
    executemany_rows: int
    """Of the small file, loaded row at a time."""


FULL = Size(rows=1_000_000, small_rows=100_000, middle_rows=300_000, executemany_rows=20_000)
SMOKE = Size(rows=3_000, small_rows=1_000, middle_rows=2_000, executemany_rows=500)


def records(n: int, tag: str) -> Any:
    for i in range(n):
        yield {
            "message_id": f"<{tag}-{i}@bench>",
            "enterprise_id": ("acme", "globex", "initech")[i % 3],
            "received_at": BASE + timedelta(milliseconds=i),
            "scored_at": BASE,
            "from_address": f"u{i}@partner.com",
            "from_display_name": "User",
            "from_domain": "partner.com",
            "reply_to": None,
            "sending_ip": "198.51.100.7",
            "score": (i % 1000) / 1000,
            "verdict": "PASS_THROUGH",
            "reasons": ["domain_reputation"],
            "model_version": "bench",
            "source": "BATCH",
            "source_ref": "2026-11-20T00",
            "sensor_schema_version": 3,
        }


def scored_file(path: Path, n: int, tag: str) -> Path:
    with path.open("wb") as fo:
        write_container(fo, contracts.load(contracts.SCORED_MESSAGE), records(n, tag))
    return path


def import_rate(
    endpoint: str, url: str, path: Path, bucket: str, key: str, pool: DecodePool | None = None
) -> tuple[float, int]:
    """The importer's rows/s on ``path``; with ``pool``, its blocks decoded by the pool's worker
    processes (started on the pool's first use, inside the timing)."""
    s3 = moto_client("s3", endpoint)
    s3.upload_file(str(path), bucket, key)
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    began = time.perf_counter()
    outcome = import_object(
        lambda: psycopg.connect(url),
        s3,
        ObjectCreated(bucket, key, etag, path.stat().st_size),
        decode=pool,
    )
    return outcome.records / (time.perf_counter() - began), outcome.records


def decode_rate(path: Path) -> float:
    began = time.perf_counter()
    count = sum(1 for _ in fastavro.reader(io.BytesIO(path.read_bytes())))
    return count / (time.perf_counter() - began)


def executemany_rate(url: str, path: Path, limit: int) -> float:
    """What a psycopg2-era importer did: one parameterised INSERT per row."""
    names = [c for c, _ in SCORED_COLUMNS]
    sql = (
        f"INSERT INTO scored_messages ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) "
        "ON CONFLICT (enterprise_id, message_id, received_at) DO NOTHING"
    )
    rows = []
    with path.open("rb") as fo:
        for n, r in enumerate(fastavro.reader(fo)):
            if n >= limit:
                break
            rows.append([r[c] for c in names])
    began = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for row in rows:
            cur.execute(sql, row)
    return len(rows) / (time.perf_counter() - began)


def psycopg2_rates(url: str, path: Path, limit: int) -> dict[str, float]:
    """The card's row-at-a-time baselines with psycopg2 itself: ``executemany`` (one INSERT per
    row) and ``psycopg2.extras.execute_values`` (multi-row INSERTs, 1,000 rows a statement)."""
    import psycopg2
    from psycopg2.extras import execute_values

    names = [c for c, _ in SCORED_COLUMNS]
    insert = f"INSERT INTO scored_messages ({', '.join(names)}) VALUES "
    conflict = " ON CONFLICT (enterprise_id, message_id, received_at) DO NOTHING"
    rows = []
    with path.open("rb") as fo:
        for n, r in enumerate(fastavro.reader(fo)):
            if n >= limit:
                break
            rows.append(tuple(r[c] for c in names))
    out = {}
    for name, load in (
        (
            "executemany",
            lambda cur, batch: cur.executemany(
                insert + f"({', '.join(['%s'] * len(names))})" + conflict, batch
            ),
        ),
        (
            "execute_values",
            lambda cur, batch: execute_values(cur, insert + "%s" + conflict, batch, page_size=1000),
        ),
    ):
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("TRUNCATE scored_messages")
                conn.commit()
                began = time.perf_counter()
                load(cur, rows)
                conn.commit()
                out[name] = len(rows) / (time.perf_counter() - began)
        finally:
            conn.close()
    return out


def truncate(url: str) -> None:
    """Empty the table, so the next import inserts as the first did."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE scored_messages")


def peak_rss_mib(endpoint: str, url: str, path: Path, bucket: str, key: str) -> float:
    """Import in a fresh process (decoding in it) and report that process's peak RSS."""
    code = (
        "import json, resource, sys; from bench.p2_import import import_rate; "
        "import_rate(sys.argv[1], sys.argv[2], __import__('pathlib').Path(sys.argv[3]), *sys.argv[4:]); "
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, endpoint, url, str(path), bucket, key],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


@contextmanager
def _servers(shared: Shared, work: Path) -> Iterator[tuple[str, str]]:
    """(moto endpoint, database URL): the shared stack's, in a database of this run's own, or
    servers of its own."""
    if shared.stack is not None:
        settings = shared.stack.settings()
        assert settings.aws_endpoint and settings.database_url, "the local stack's settings"
        with _own_database(settings.database_url) as url:
            yield settings.aws_endpoint, url
        return
    moto, pg = MotoServer(work / "moto"), Postgres(work / "pg")
    moto.start()
    pg.start()
    try:
        yield moto.endpoint, pg.url
    finally:
        pg.stop()
        moto.stop()


@contextmanager
def _own_database(url: str) -> Iterator[str]:
    """A database of this run's own on ``url``'s server, dropped afterwards: the run truncates
    its table, which the server's other users may be reading."""
    name = f"bench_p2_{uuid.uuid4().hex[:8]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _own_bucket(endpoint: str) -> Iterator[str]:
    """A bucket of this run's own, emptied and deleted afterwards."""
    s3, name = moto_client("s3", endpoint), f"bench-scored-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-p2-") as tmp:
        work = Path(tmp)
        with _servers(shared, work) as (endpoint, url), _own_bucket(endpoint) as bucket:
            migrate.upgrade(url)
            with psycopg.connect(url) as conn:  # the rows' day ready, as the days around today are
                DayPartitions().ensure(conn, [BASE.date()])
            big = scored_file(work / "big.avro", size.rows, "big")
            small = scored_file(work / "small.avro", size.small_rows, "small")
            decoded = decode_rate(big)
            pool = DecodePool(DECODE_PROCESSES)
            try:
                cold, count = import_rate(endpoint, url, big, bucket, "scored/big-cold.avro", pool)
                truncate(url)
                imported, _ = import_rate(endpoint, url, big, bucket, "scored/big.avro", pool)
            finally:
                pool.close()
            truncate(url)
            in_process, _ = import_rate(endpoint, url, big, bucket, "scored/big-in-process.avro")
            truncate(url)
            one_by_one = executemany_rate(url, small, size.executemany_rows)
            with_psycopg2 = psycopg2_rates(url, small, size.executemany_rows)
            middle = scored_file(work / "middle.avro", size.middle_rows, "middle")
            files = {size.small_rows: small, size.middle_rows: middle, size.rows: big}
            rss = {
                rows: peak_rss_mib(endpoint, url, path, bucket, f"scored/rss-{rows}.avro")
                for rows, path in files.items()
            }
            rss_small, rss_big = rss[size.small_rows], rss[size.rows]
    return [
        Result(
            "P2",
            f"importer (COPY + upsert, {DECODE_PROCESSES} decode processes, started) on a {count:,}-row"
            " file vs fastavro bare decode",
            imported,
            decoded,
            ">= 0.7",
            "rows/s",
            {
                "first_object_rows_per_s": round(cold),
                "first_object_ratio": round(cold / decoded, 3),
                "in_process_rows_per_s": round(in_process),
                "in_process_ratio": round(in_process / decoded, 3),
                "executemany_rows_per_s": round(one_by_one),
                "vs_executemany": round(in_process / one_by_one, 1),
                "vs_executemany_goal": ">= 10",
                "psycopg2_executemany_rows_per_s": round(with_psycopg2["executemany"]),
                "vs_psycopg2_executemany": round(in_process / with_psycopg2["executemany"], 1),
                "psycopg2_execute_values_rows_per_s": round(with_psycopg2["execute_values"]),
                "vs_psycopg2_execute_values": round(in_process / with_psycopg2["execute_values"], 1),
            },
        ),
        Result(
            "P6",
            f"importer peak RSS, {size.rows:,} rows vs {size.small_rows:,} rows",
            rss_big,
            rss_small,
            "<= 1.5",
            "MiB",
            {"peak_rss_mib_by_rows": {str(rows): round(mib, 1) for rows, mib in rss.items()}},
        ),
    ]
