"""One scored object into PostgreSQL, in one transaction: COPY into a staging table, then an
idempotent upsert, the ledger row beside it, a row PostgreSQL refuses set aside alone. Then the
QUARANTINE/LABEL verdicts the upsert stored go to the alerters (from ``import_forwards``), and
only then is the object done. Memory is bounded by the COPY buffer, not the file."""

from __future__ import annotations

import hashlib
import io
import itertools
import operator
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, TypeVar

import psycopg
from botocore.exceptions import ClientError
from psycopg.rows import dict_row

from trustpipe import contracts
from trustpipe.announcements import ObjectCreated
from trustpipe.codec import CodecError, ContainerReader
from trustpipe.db.partitions import DayPartitions
from trustpipe.errors import PermanentError, TransientError
from trustpipe_importer.blocks import CopyData, DecodePool, with_repeated_arrays

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
    ("model_promotion", "int8"),
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
    """Where one kind of scored object goes, and when an incoming row replaces a stored one: when
    its ``rank`` columns, compared in order, are greater (or equal, with ``ties_replace``)."""

    contract: str
    table: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    rank: tuple[str, ...]
    ties_replace: bool = False
    forwards: bool = False
    """Whether its QUARANTINE/LABEL rows go to the alerters (through ``import_forwards``)."""

    @property
    def newer(self) -> str:
        """The upsert's condition for replacing a stored row."""
        incoming = ", ".join(f"EXCLUDED.{c}" for c in self.rank)
        stored = ", ".join(f"t.{c}" for c in self.rank)
        return f"({incoming}) {'>=' if self.ties_replace else '>'} ({stored})"

    @property
    def latest_first(self) -> str:
        """Rows of one key within a load, the one that would win first."""
        return ", ".join([*self.key, *(f"{c} DESC" for c in self.rank)])


SCORED_MESSAGE = "io.trustpipe.scoring.ScoredMessage"
TARGETS = {
    SCORED_MESSAGE: Target(
        contracts.SCORED_MESSAGE,
        "scored_messages",
        SCORED_COLUMNS,
        ("enterprise_id", "message_id", "received_at"),
        # the model's promotion first: a rollback's model, promoted again, outranks the one it
        # replaced; the version (verdicts from before promotions were numbered), then the time
        ("model_promotion", "model_version", "scored_at"),
        forwards=True,
    ),
    "io.trustpipe.scoring.ScoringStats": Target(
        contracts.SCORING_STATS,
        "scoring_stats",
        STATS_COLUMNS,
        ("enterprise_id", "hour"),
        ("computed_at",),
        ties_replace=True,
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


ACTIONABLE = ", ".join(f"'{v}'" for v in sorted(contracts.ACTIONABLE_VERDICTS))
FORWARD_KEY = ("enterprise_id", "message_id", "received_at")


def _upsert_sql(target: Target, forwards: bool) -> str:
    """The staging table's rows into the target's table, the newest of each key, replacing a
    stored row only when newer; the number of rows stored. With ``forwards``, the QUARANTINE and
    LABEL rows it stored are also noted in ``import_forwards`` under ``%(source)s``, in the same
    statement (so in the same transaction): only what was stored is forwarded, and a forward that
    fails after the commit finds them there."""
    names = [c for c, _ in target.columns]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in target.key)
    # Identifiers come from this module's constants, never from input.
    upsert = (
        f"INSERT INTO {target.table} AS t ({', '.join(names)}) "  # noqa: S608
        f"SELECT DISTINCT ON ({', '.join(target.key)}) {', '.join(names)} FROM staging "
        f"ORDER BY {target.latest_first} "
        f"ON CONFLICT ({', '.join(target.key)}) DO UPDATE SET {updates} WHERE {target.newer} "
    )
    if not forwards:
        return f"WITH stored AS ({upsert} RETURNING 1) SELECT count(*) FROM stored"  # noqa: S608
    key = ", ".join(FORWARD_KEY)
    return (
        f"WITH stored AS ({upsert} RETURNING {key}, verdict), "  # noqa: S608
        f"pending AS (INSERT INTO import_forwards ({key}, source_key) "
        f"SELECT {key}, %(source)s FROM stored WHERE verdict IN ({ACTIONABLE}) "
        f"ON CONFLICT ({key}) DO UPDATE SET source_key = EXCLUDED.source_key, stored_at = now()) "
        "SELECT count(*) FROM stored"
    )


Forward = Callable[[list[dict[str, Any]]], None]
"""Hands stored QUARANTINE/LABEL verdicts to the alerters, after the commit."""


class ForwardPendingError(TransientError):
    """An object's rows are stored but its QUARANTINE/LABEL verdicts could not be forwarded (for
    whatever reason: they wait in ``import_forwards`` and its ledger row says ``stored``, not
    ``imported``): its message is retried, and after the queue's receives goes to the DLQ, from
    which a redrive forwards them."""


@dataclass(frozen=True)
class Outcome:
    outcome: str  # imported | duplicate
    records: int
    refused: int = 0
    """Rows PostgreSQL refused (each in import_errors with its position)."""
    stored: int = 0
    """Rows new to the store or newer than the stored ones (the rest left as they were)."""
    forwarded: int = 0


OBJECT_LOCK = 0x7472_7573  # "trus": the advisory lock class of one object version's import
"""Two importers given the same object version (a duplicate notification) take turns: the second
finds it done, or forwards what the first could not."""


def source_key(event: ObjectCreated) -> str:
    """How ``import_forwards`` names the object version whose import stored a verdict (as
    :func:`forward_all_pending` builds it in SQL from a ledger row)."""
    return f"s3://{event.bucket}/{event.key}?etag={event.etag}"


def import_object(
    connect: Connect,
    s3: Any,
    event: ObjectCreated,
    forward: Forward | None = None,
    decode: DecodePool | None = None,
    days: DayPartitions | None = None,
) -> Outcome:
    """Import one object atomically, then ``forward`` the QUARANTINE/LABEL verdicts the import
    stored; the object is ``imported`` in the ledger only once they are forwarded (a forward
    that fails leaves them in ``import_forwards`` and raises ForwardPendingError; a redelivery
    forwards them then). A row PostgreSQL refuses is set aside alone (import_errors, with its
    position); UnimportableObjectError for an object that can never be imported. A large object
    is decoded by ``decode``'s processes when given.

    ``days`` keeps the store's day partitions: the days around today are made ready before the
    load, and days the load reached without a partition (their rows went to the default
    partition) get theirs after it, outside the load's transaction."""
    days = days if days is not None else DayPartitions()
    with connect() as conn:
        days.ensure_ahead(conn)
        _lock(conn, event)  # held until the connection closes
        done = conn.execute(
            "SELECT outcome FROM import_ledger WHERE object_key = %s AND etag = %s", (event.key, event.etag)
        ).fetchone()
        conn.commit()
        if done and not (forward and done[0] == "stored"):
            return Outcome("duplicate", 0)
        loaded = None if done else _import(conn, s3, event, forward is not None, decode)
        forwarded = _forward_pending(conn, event, forward) if forward else 0
        if loaded and loaded.sweep:
            days.sweep(conn)
    if loaded is None:
        return Outcome("duplicate", 0, forwarded=forwarded)
    return Outcome("imported", loaded.rows, len(loaded.refused), loaded.stored, forwarded)


def _lock(conn: psycopg.Connection[Any], event: ObjectCreated) -> None:
    digest = hashlib.blake2b(f"{event.key}\n{event.etag}".encode(errors="replace"), digest_size=4).digest()
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (OBJECT_LOCK, int.from_bytes(digest, "big", signed=True)))


@dataclass
class Loaded:
    """What a load did: rows sent, rows stored (new or newer), rows PostgreSQL refused."""

    rows: int = 0
    stored: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    sweep: bool = False


@dataclass(frozen=True)
class RefusedRow:
    position: int
    """The row's place in its object, from 0."""
    error: psycopg.Error
    row: tuple[Any, ...]


def _import(
    conn: psycopg.Connection[Any], s3: Any, event: ObjectCreated, forwards: bool, decode: DecodePool | None
) -> Loaded:
    """The object's rows stored and its ledger row written, in one transaction (committed)."""
    with downloaded(s3, event) as fo:
        size = fo.seek(0, io.SEEK_END)
        fo.seek(0)
        reader, target = _open(fo)
        forwards = forwards and target.forwards
        source = source_key(event) if forwards else None
        with conn.transaction():
            resolved = reader.reader_schema is not None  # the decode workers read as written
            if decode and decode.wanted(size) and conn.info.encoding == "utf-8" and not resolved:
                try:
                    with conn.transaction():
                        chunks = decode.chunks(fo, target.columns, CHUNK_ROWS)
                        loaded = load(conn, _codec_errors(chunks), target, source)
                except RowsRefusedError:  # the worker-made COPY data cannot be split: row by row here
                    fo.seek(0)
                    reader, target = _open(fo)
                    loaded = load(conn, _rows(reader, target), target, source, isolate=True)
            else:
                loaded = load(conn, _rows(reader, target), target, source, isolate=True)
            _set_rows_aside(conn, event, loaded.refused)
            conn.execute(
                "INSERT INTO import_ledger (object_key, etag, bucket, outcome, records) "
                "VALUES (%s, %s, %s, %s, %s)",
                (event.key, event.etag, event.bucket, "stored" if forwards else "imported", loaded.rows),
            )
    loaded.sweep = target.table == "scored_messages"
    return loaded


def _rows(reader: ContainerReader, target: Target) -> Iterator[list[tuple[Any, ...]]]:
    rows = _codec_errors(map(operator.itemgetter(*(c for c, _ in target.columns)), reader))
    return iter(lambda: list(itertools.islice(rows, CHUNK_ROWS)), [])


def _set_rows_aside(conn: psycopg.Connection[Any], event: ObjectCreated, refused: list[RefusedRow]) -> None:
    for r in refused:
        conn.execute(
            "INSERT INTO import_errors "
            "(bucket, object_key, etag, row_position, error_type, reason, message_body) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                event.bucket,
                event.key,
                event.etag,
                r.position,
                type(r.error).__name__,
                f"row {r.position} refused by PostgreSQL: {_first_line(r.error)}",
                ascii(r.row)[:MAX_ROW_SHOWN],  # escaped: a NUL or bad surrogate stays printable
            ),
        )


MAX_ROW_SHOWN = 2_000
"""Characters of a refused row kept in import_errors (escaped)."""


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:500]


def _forward_pending(conn: psycopg.Connection[Any], event: ObjectCreated, forward: Forward) -> int:
    """Forward the stored verdicts the object's import noted (those still QUARANTINE/LABEL: a
    newer verdict may have replaced one since), then drop the notes and mark the object imported,
    in one transaction; ForwardPendingError if the forward failed (all stays as it was)."""
    source = source_key(event)
    with conn.transaction():
        rows = _pending(conn, "f.source_key = %(source)s", {"source": source})
        try:
            forward(rows)
        except Exception as err:  # whatever refused them, they wait in import_forwards
            raise ForwardPendingError(
                f"{len(rows)} stored verdicts of s3://{event.bucket}/{event.key} not forwarded "
                f"(kept in import_forwards): {type(err).__name__}: {err}"
            ) from err
        conn.execute("DELETE FROM import_forwards WHERE source_key = %s", (source,))
        conn.execute(
            "UPDATE import_ledger SET outcome = 'imported', forwarded_at = now() "
            "WHERE object_key = %s AND etag = %s",
            (event.key, event.etag),
        )
    return len(rows)


Key = tuple[str, str, datetime]
"""A stored verdict's key: (enterprise, message id, received_at)."""


def forward_pending_of(conn: psycopg.Connection[Any], keys: list[Key], forward: Forward) -> int:
    """Forward the verdicts noted in ``import_forwards`` under ``keys`` (those still
    QUARANTINE/LABEL), then drop their notes, in one transaction; how many. A forward that fails
    leaves the notes (the caller's batch is retried, or they wait for a later batch of theirs)."""
    columns = {"e": [k[0] for k in keys], "m": [k[1] for k in keys], "r": [k[2] for k in keys]}
    matching = (
        "(f.enterprise_id, f.message_id, f.received_at) IN "
        "(SELECT * FROM unnest(%(e)s::text[], %(m)s::text[], %(r)s::timestamptz[]))"
    )
    with conn.transaction():
        rows = _pending(conn, matching, columns)
        forward(rows)
        conn.execute(f"DELETE FROM import_forwards f WHERE {matching}", columns)  # noqa: S608
    return len(rows)


PENDING_BATCH = 10_000
"""Notes forwarded at a time by :func:`forward_all_pending`."""


def forward_all_pending(connect: Connect, forward: Forward, min_age_seconds: float = 300) -> int:
    """Forward every verdict noted in ``import_forwards`` at least ``min_age_seconds`` ago (those
    still QUARANTINE/LABEL) and drop the notes, then mark ``imported`` each object left ``stored``
    that has no note left; how many verdicts. The recovery of what no redelivery will forward: a
    stream record set aside after its rows were stored, an object whose message was lost."""
    forwarded = 0
    with connect() as conn:
        while keys := conn.execute(
            "SELECT enterprise_id, message_id, received_at FROM import_forwards "
            "WHERE stored_at <= now() - make_interval(secs => %s) ORDER BY stored_at LIMIT %s",
            (min_age_seconds, PENDING_BATCH),
        ).fetchall():
            conn.commit()
            forwarded += forward_pending_of(conn, [(e, m, r) for e, m, r in keys], forward)
        conn.execute(
            "UPDATE import_ledger l SET outcome = 'imported', forwarded_at = now() "
            "WHERE outcome = 'stored' AND NOT EXISTS (SELECT 1 FROM import_forwards f "
            "WHERE f.source_key = 's3://' || l.bucket || '/' || l.object_key || '?etag=' || l.etag)"
        )
        conn.commit()
    return forwarded


def _pending(conn: psycopg.Connection[Any], where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    names = [c for c, _ in SCORED_COLUMNS]
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {', '.join(f's.{c}' for c in names)} FROM import_forwards f "  # noqa: S608
            f"JOIN scored_messages s USING ({', '.join(FORWARD_KEY)}) "
            f"WHERE {where} AND s.verdict IN ({ACTIONABLE})",
            params,
        ).fetchall()


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


def upsert(
    conn: psycopg.Connection[Any],
    records: Iterable[dict[str, Any]],
    target: Target,
    source: str | None = None,
) -> int:
    """COPY ``records`` into a staging table and upsert them into the target's table, inside the
    caller's transaction (a row PostgreSQL refuses fails it: the stream importer's processor
    isolates the record); the number of rows. A row already stored stays unless the incoming one
    is newer; with ``source``, the QUARANTINE/LABEL rows stored are noted in ``import_forwards``."""
    rows = _codec_errors(map(operator.itemgetter(*(c for c, _ in target.columns)), records))
    chunks = iter(lambda: list(itertools.islice(rows, CHUNK_ROWS)), [])
    return load(conn, chunks, target, source).rows


Chunk = list[tuple[Any, ...]] | CopyData
"""Rows to COPY, or COPY data a decode worker made of them."""

REFUSED = (psycopg.errors.DataError, psycopg.errors.IntegrityError, psycopg.errors.ProgramLimitExceeded)
"""What PostgreSQL says of a row it will not hold (a NUL in a string, a value out of range, a key
too long for its index): the row's fault, not the database's."""


class RowsRefusedError(PermanentError):
    """PostgreSQL refused a row of COPY data a decode worker made (it cannot be split there)."""


def load(
    conn: psycopg.Connection[Any],
    chunks: Iterator[Chunk],
    target: Target,
    source: str | None = None,
    isolate: bool = False,
) -> Loaded:
    """The chunks (rows, or COPY data a decode worker made) through the staging table into the
    target's table, inside the caller's transaction.

    Each chunk's upsert is sent in pipeline mode and runs on the server while this process takes
    the next chunk (decodes it, or waits for a decode worker), instead of the whole upsert waiting
    for the whole decode and the other way round. Memory stays bounded by the chunks in hand.
    Each chunk goes in under a savepoint: with ``isolate``, a chunk of rows PostgreSQL refuses is
    halved until the refused rows stand alone, and they are returned, the rest stored; without,
    the refusal is raised (RowsRefusedError for COPY data)."""
    with_repeated_arrays(conn.adapters)
    conn.execute(f"CREATE TEMP TABLE staging (LIKE {target.table} INCLUDING DEFAULTS) ON COMMIT DROP")
    sql = _upsert_sql(target, source is not None)
    params = {"source": source} if source is not None else None
    loaded = Loaded()
    chunk = next(chunks, None)
    while chunk is not None:
        following: object = _UNREAD
        try:
            with conn.transaction():
                _copy(conn, chunk, target.columns)
                with conn.pipeline():
                    cur = conn.execute(sql, params)
                    conn.execute("TRUNCATE staging")
                    following = next(chunks, None)  # decoded while the server upserts
            loaded.stored += _count(cur)
        except REFUSED as err:
            if isinstance(chunk, CopyData):
                raise RowsRefusedError(f"a row of a decoded block was refused: {_first_line(err)}") from err
            if not isolate:
                raise
            loaded.stored += _isolate(conn, sql, params, chunk, loaded.rows, target.columns, loaded.refused)
        loaded.rows += chunk.rows if isinstance(chunk, CopyData) else len(chunk)
        chunk = next(chunks, None) if following is _UNREAD else following  # type: ignore[assignment]
    return loaded


_UNREAD = object()


def _count(cur: psycopg.Cursor[Any]) -> int:
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _isolate(
    conn: psycopg.Connection[Any],
    sql: str,
    params: dict[str, Any] | None,
    rows: list[tuple[Any, ...]],
    first: int,
    columns: tuple[tuple[str, str], ...],
    refused: list[RefusedRow],
) -> int:
    """Rows stored of ``rows`` (from position ``first``), halved under savepoints until each row
    PostgreSQL refuses stands alone and is appended to ``refused``."""
    half = len(rows) // 2
    stored = 0
    for part, at in ((rows[:half], first), (rows[half:], first + half)):
        if not part:
            continue
        try:
            with conn.transaction():
                _copy(conn, part, columns)
                stored += _count(conn.execute(sql, params))
                conn.execute("TRUNCATE staging")
        except REFUSED as err:
            if len(part) == 1:
                refused.append(RefusedRow(at, err, part[0]))
            else:
                stored += _isolate(conn, sql, params, part, at, columns, refused)
    return stored


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
"""What the ledger holds as done of some keys (rows: key, ETag): stored, and its QUARANTINE/LABEL
verdicts forwarded; with :func:`current_versions`, what is left."""


def current_versions(s3: Any, bucket: str, keys: list[str]) -> set[tuple[str, str]]:
    """(key, ETag) of each object as it is now: a rewritten object is a new version to import."""
    return {(k, s3.head_object(Bucket=bucket, Key=k)["ETag"].strip('"')) for k in keys}
