"""One scored object into PostgreSQL, in one transaction: COPY into a staging table, then an
idempotent upsert, the ledger row beside it. Memory is bounded by the COPY buffer, not the file."""

from __future__ import annotations

import io
import itertools
import operator
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, TypeVar

import psycopg
from botocore.exceptions import ClientError

from trustpipe import contracts
from trustpipe.codec import CodecError, ContainerReader
from trustpipe.db.partitions import DayPartitions
from trustpipe.errors import PermanentError
from trustpipe_importer.blocks import CopyData, DecodePool, tapped, with_repeated_arrays
from trustpipe_importer.events import ObjectCreated

Connect = Callable[[], psycopg.Connection[Any]]
T = TypeVar("T")

SCORED_COLUMNS = (
    ("message_id", "text"),
    ("enterprise_id", "text"),
    ("received_at", "timestamptz"),
    ("scored_at", "timestamptz"),
    ("from_address", "text"),
    ("from_display_name", "text"),
    ("from_domain", "text"),
    ("reply_to", "text"),
    ("sending_ip", "text"),
    ("score", "float8"),
    ("verdict", "text"),
    ("reasons", "text[]"),
    ("model_version", "text"),
    ("source", "text"),
    ("source_ref", "text"),
    ("sensor_schema_version", "int4"),
)
STATS_COLUMNS = (
    ("enterprise_id", "text"),
    ("hour", "text"),
    ("model_version", "text"),
    ("messages", "int8"),
    ("quarantined", "int8"),
    ("labelled", "int8"),
    ("passed", "int8"),
    ("set_aside", "int8"),
    ("mean_score", "float8"),
    ("computed_at", "timestamptz"),
    ("score_histogram", "int8[]"),
)


@dataclass(frozen=True)
class Target:
    """Where one kind of scored object goes, and when an incoming row replaces a stored one."""

    contract: str
    table: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    newer: str


SCORED_MESSAGE = "io.trustpipe.scoring.ScoredMessage"
TARGETS = {
    SCORED_MESSAGE: Target(
        contracts.SCORED_MESSAGE,
        "scored_messages",
        SCORED_COLUMNS,
        ("enterprise_id", "message_id", "received_at"),
        "(EXCLUDED.model_version, EXCLUDED.scored_at) > (t.model_version, t.scored_at)",
    ),
    "io.trustpipe.scoring.ScoringStats": Target(
        contracts.SCORING_STATS,
        "scoring_stats",
        STATS_COLUMNS,
        ("enterprise_id", "hour"),
        "EXCLUDED.computed_at >= t.computed_at",
    ),
}


class UnimportableObjectError(PermanentError, ValueError):
    """An object that can never be imported (missing, not Avro, truncated, of an unknown schema):
    it is set aside with its reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind

    @classmethod
    def from_codec(cls, err: CodecError) -> UnimportableObjectError:
        return cls(type(err).__name__, str(err))


@dataclass(frozen=True)
class Outcome:
    outcome: str  # imported | duplicate
    records: int


@contextmanager
def downloaded(s3: Any, event: ObjectCreated) -> Iterator[IO[bytes]]:
    """The object in a temporary file (streamed, not held in memory)."""
    try:
        body = s3.get_object(Bucket=event.bucket, Key=event.key)["Body"]
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
            raise UnimportableObjectError(
                "MissingObject", f"s3://{event.bucket}/{event.key} does not exist"
            ) from err
        raise
    with tempfile.TemporaryFile() as fo:
        shutil.copyfileobj(body, fo, 1 << 20)
        fo.seek(0)
        yield fo


def _upsert_sql(table: str, columns: tuple[tuple[str, str], ...], key: tuple[str, ...], newer: str) -> str:
    names = [c for c, _ in columns]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in key)
    # Identifiers come from this module's constants, never from input.
    return (
        f"INSERT INTO {table} AS t ({', '.join(names)}) "  # noqa: S608
        f"SELECT DISTINCT ON ({', '.join(key)}) {', '.join(names)} FROM staging "
        f"ORDER BY {', '.join(key)} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {newer}"
    )


Forward = Callable[[list[dict[str, Any]]], None]
"""Hands an imported object's QUARANTINE/LABEL verdicts to the alerters, after the commit."""


def import_object(
    connect: Connect,
    s3: Any,
    event: ObjectCreated,
    forward: Forward | None = None,
    decode: DecodePool | None = None,
    days: DayPartitions | None = None,
) -> Outcome:
    """Import one object atomically, then ``forward`` its actionable verdicts (and note that in
    the ledger, so a redelivery after a crash in between forwards them then); a large object is
    decoded by ``decode``'s processes when given. UnimportableObjectError for input that can
    never be imported.

    ``days`` keeps the store's day partitions: the days around today are made ready before the
    load, and days the load reached without a partition (their rows went to the default
    partition) get theirs after it, outside the load's transaction."""
    days = days if days is not None else DayPartitions()
    with connect() as conn:
        days.ensure_ahead(conn)
        done = conn.execute(
            "SELECT outcome, forwarded_at FROM import_ledger WHERE object_key = %s AND etag = %s",
            (event.key, event.etag),
        ).fetchone()
        if done and not (forward and done[0] == "imported" and done[1] is None):
            return Outcome("duplicate", 0)
        with downloaded(s3, event) as fo:
            size = fo.seek(0, io.SEEK_END)
            fo.seek(0)
            reader, target = _open(fo)
            actionable: list[dict[str, Any]] = []
            tap = forward is not None and target.table == "scored_messages"
            records = tapped(reader, actionable) if tap else reader
            if done:  # imported before, its verdicts not yet forwarded
                count = sum(1 for _ in records)
            else:
                with conn.transaction():
                    resolved = reader.reader_schema is not None  # the decode workers read as written
                    if decode and decode.wanted(size) and conn.info.encoding == "utf-8" and not resolved:
                        chunks = decode.chunks(fo, target.columns, CHUNK_ROWS, tap)
                        count = load(conn, _collected(_codec_errors(chunks), actionable), target)
                    else:
                        count = upsert(conn, records, target)
                    conn.execute(
                        "INSERT INTO import_ledger (object_key, etag, bucket, outcome, records) "
                        "VALUES (%s, %s, %s, 'imported', %s)",
                        (event.key, event.etag, event.bucket, count),
                    )
        conn.commit()  # the verdicts are stored before anyone is told of them
        if forward:
            forward(actionable)
            conn.execute(
                "UPDATE import_ledger SET forwarded_at = now() WHERE object_key = %s AND etag = %s",
                (event.key, event.etag),
            )
            conn.commit()
        if not done and target.table == "scored_messages":
            days.sweep(conn)
    return Outcome("duplicate" if done else "imported", 0 if done else count)


def _collected(chunks: Iterator[CopyData], actionable: list[dict[str, Any]]) -> Iterator[CopyData]:
    for chunk in chunks:
        actionable.extend(chunk.actionable)
        yield chunk


def _open(fo: IO[bytes]) -> tuple[ContainerReader, Target]:
    """The object's reader and where its rows go; UnimportableObjectError unless it is a kind we import."""
    try:
        reader = ContainerReader(fo)
    except CodecError as err:
        raise UnimportableObjectError.from_codec(err) from err
    fullname = _fullname(reader.writer_schema)
    target = TARGETS.get(fullname)
    if target is None:
        raise UnimportableObjectError(
            "SchemaMismatchError", f"{fullname} is neither ScoredMessage nor ScoringStats"
        )
    contract = contracts.load(target.contract)
    check = contracts.check(contract, reader.writer_schema)
    if not check.compatible:
        raise UnimportableObjectError("SchemaMismatchError", "; ".join(check.messages))
    if contracts.fingerprint(reader.writer_schema) != contracts.fingerprint(contract):
        # an earlier version of the contract (stats from before a field): read through today's,
        # so the fields it lacks take their defaults
        fo.seek(0)
        return ContainerReader(fo, contract), target
    return reader, target


def _fullname(schema: dict[str, Any]) -> str:
    name, namespace = str(schema.get("name", "")), schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


CHUNK_ROWS = 5_000
"""Rows decoded, copied and upserted at a time: the server upserts one chunk while the next is
decoded (a decode worker's share is a group of blocks of at least this many rows)."""


def upsert(conn: psycopg.Connection[Any], records: Iterable[dict[str, Any]], target: Target) -> int:
    """COPY ``records`` into a staging table and upsert them into the target's table, inside the
    caller's transaction: the one load path of the batch (a scored object) and the stream (a
    batch of records) importers. A row already stored stays unless the incoming one is newer."""
    rows = _codec_errors(map(operator.itemgetter(*(c for c, _ in target.columns)), records))
    return load(conn, iter(lambda: list(itertools.islice(rows, CHUNK_ROWS)), []), target)


Chunk = list[tuple[Any, ...]] | CopyData
"""Rows to COPY, or COPY data a decode worker made of them."""


def load(conn: psycopg.Connection[Any], chunks: Iterator[Chunk], target: Target) -> int:
    """The chunks (rows, or COPY data a decode worker made) through the staging table into the
    target's table; the number of rows.

    Each chunk's upsert is sent in pipeline mode and runs on the server while this process takes
    the next chunk (decodes it, or waits for a decode worker), instead of the whole upsert waiting
    for the whole decode and the other way round. Memory stays bounded by the chunks in hand."""
    with_repeated_arrays(conn.adapters)
    conn.execute(f"CREATE TEMP TABLE staging (LIKE {target.table} INCLUDING DEFAULTS) ON COMMIT DROP")
    sql = _upsert_sql(target.table, target.columns, target.key, target.newer)
    chunk = next(chunks, None)
    count = 0
    while chunk is not None:
        count += _copy(conn, chunk, target.columns)
        with conn.pipeline():
            conn.execute(sql)
            conn.execute("TRUNCATE staging")
            chunk = next(chunks, None)  # decoded while the server upserts
    return count


def _codec_errors(items: Iterator[T]) -> Iterator[T]:
    """``items``; a record the codec cannot read sets the whole object aside."""
    try:
        yield from items
    except CodecError as err:
        raise UnimportableObjectError.from_codec(err) from err


def _copy(
    conn: psycopg.Connection[Any],
    chunk: list[tuple[Any, ...]] | CopyData,
    columns: tuple[tuple[str, str], ...],
) -> int:
    names = ", ".join(c for c, _ in columns)
    with conn.cursor() as cur, cur.copy(f"COPY staging ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        if isinstance(chunk, CopyData):
            copy.write(chunk.data)
            return chunk.rows
        copy.set_types([t for _, t in columns])
        for row in chunk:
            copy.write_row(row)
    return len(chunk)


def record_set_aside(
    connect: Connect, event: ObjectCreated | None, error_type: str, reason: str, body: str | None = None
) -> None:
    """Set an input aside: a row in the error table with the reason (and in the ledger, so a
    redelivery is skipped)."""
    with connect() as conn, conn.transaction():
        conn.execute(
            "INSERT INTO import_errors (bucket, object_key, etag, error_type, reason, message_body) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                event.bucket if event else "",
                event.key if event else "",
                event.etag if event else None,
                error_type,
                reason,
                body[:10_000] if body else None,
            ),
        )
        if event is not None:
            conn.execute(
                "INSERT INTO import_ledger (object_key, etag, bucket, outcome, records) "
                "VALUES (%s, %s, %s, 'set_aside', 0) ON CONFLICT DO NOTHING",
                (event.key, event.etag, event.bucket),
            )


IMPORTED_SQL = (
    "SELECT object_key, etag FROM import_ledger WHERE object_key = ANY(%(keys)s) AND outcome = 'imported'"
)
"""What the ledger holds of some keys (rows: key, ETag); with :func:`current_versions`, what is left."""


def current_versions(s3: Any, bucket: str, keys: list[str]) -> set[tuple[str, str]]:
    """(key, ETag) of each object as it is now: a rewritten object is a new version to import."""
    return {(k, s3.head_object(Bucket=bucket, Key=k)["ETag"].strip('"')) for k in keys}
