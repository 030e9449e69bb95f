"""A large scored object decoded on more than one core: its Avro blocks, in groups of about
``CHUNK_ROWS`` rows, go to worker processes that decode them straight to COPY BINARY data; the
importer's own process only frames the blocks and ships bytes to PostgreSQL.

An Avro container's blocks decode independently (each is a row count, a size, the data and the
file's sync marker), so a group of blocks behind the file's header is itself a valid container.
"""

from __future__ import annotations

import collections
import functools
import io
import multiprocessing
import operator
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import IO, Any

import fastavro
from fastavro.read import HEADER_SCHEMA
from psycopg import abc as pg_abc
from psycopg import postgres, pq
from psycopg._copy_base import BinaryFormatter  # Copy.write_row's encoder, used without a connection
from psycopg.adapt import AdaptersMap, Transformer

from trustpipe.codec import ContainerReader, SchemaMismatchError, TruncatedRecordError
from trustpipe.errors import TransientError

SYNC_SIZE = 16
PARALLEL_MIN_BYTES = 1 << 20
"""Smaller objects (tens of thousands of scored rows at most) decode in the importer's own
process: the workers' start and the round trip of their bytes would cost more than they save."""


@dataclass(frozen=True)
class CopyData:
    """One group of blocks as COPY BINARY data (signature to trailer) and its row count."""

    data: bytes
    rows: int


class DecodeWorkerLostError(TransientError):
    """A decode worker process died mid-object: the object is retried on a fresh pool."""


class DecodePool:
    """``processes`` worker processes (spawned on first use, stopped by :meth:`close`)."""

    def __init__(self, processes: int, min_bytes: int = PARALLEL_MIN_BYTES) -> None:
        if processes < 2:
            raise ValueError(f"a decode pool needs at least 2 processes, not {processes}")
        self.processes, self.min_bytes = processes, min_bytes
        self._executor: ProcessPoolExecutor | None = None

    def wanted(self, size: int) -> bool:
        return size >= self.min_bytes

    def chunks(self, fo: IO[bytes], columns: tuple[tuple[str, str], ...], rows: int) -> Iterator[CopyData]:
        """``fo``'s blocks as COPY data for ``columns``, in file order, at most two groups per
        process in flight (memory stays bounded by them); CodecError for a block that cannot be
        framed or decoded, DecodeWorkerLostError if a worker died."""
        executor = self._executor or self._start()
        names = tuple(c for c, _ in columns)
        types = tuple(t for _, t in columns)
        pending: collections.deque[Future[CopyData]] = collections.deque()
        try:
            for header, blocks in block_groups(fo, rows):
                pending.append(executor.submit(copy_data, header, blocks, names, types))
                if len(pending) >= 2 * self.processes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as err:  # on submit or on a result, whichever noticed first
            self.close()  # the next object starts a fresh pool
            raise DecodeWorkerLostError(f"a decode worker process died: {err}") from err
        finally:
            for future in pending:
                future.cancel()

    def _start(self) -> ProcessPoolExecutor:
        self._executor = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),  # not fork: the importer has threads
            initializer=_exit_with,
            initargs=(os.getpid(),),
        )
        return self._executor

    def close(self) -> None:
        """Stop the worker processes (waits for them)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _exit_with(parent: int) -> None:
    """In a worker: exit when the importer that started it is gone (a SIGKILLed importer leaves
    no decode worker behind)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def block_groups(fo: IO[bytes], rows: int) -> Iterator[tuple[bytes, bytes]]:
    """(header, blocks) pairs covering ``fo``'s blocks in order, each group at least ``rows``
    rows (the last one what is left): only the blocks' framing is read, nothing is decoded."""
    fo.seek(0)
    try:
        sync = fastavro.schemaless_reader(fo, HEADER_SCHEMA)["sync"]  # type: ignore[index,call-overload]
    except (EOFError, StopIteration, ValueError) as err:
        raise TruncatedRecordError(f"Avro header is cut short or corrupt: {err}") from err
    header_end = fo.tell()
    fo.seek(0)
    header = fo.read(header_end)
    start, count = header_end, 0
    while fo.read(1):
        fo.seek(-1, io.SEEK_CUR)
        block_rows, size = _long(fo), _long(fo)
        if block_rows < 0 or size < 0:
            raise SchemaMismatchError(f"corrupt Avro data block at byte {fo.tell()}: negative count or size")
        fo.seek(size, io.SEEK_CUR)
        marker = fo.read(SYNC_SIZE)
        if len(marker) < SYNC_SIZE:
            raise TruncatedRecordError("Avro data block ends early")
        if marker != sync:
            raise SchemaMismatchError(
                f"corrupt Avro data block: no sync marker at byte {fo.tell() - SYNC_SIZE}"
            )
        count += block_rows
        if count >= rows:
            yield header, _read(fo, start, fo.tell())
            start, count = fo.tell(), 0
    if fo.seek(0, io.SEEK_END) > start:
        yield header, _read(fo, start, fo.tell())


def _long(fo: IO[bytes]) -> int:
    """One of a block's framing longs (Avro's zigzag varint)."""
    try:
        return int(fastavro.schemaless_reader(fo, "long"))  # type: ignore[arg-type]
    except (EOFError, StopIteration) as err:
        raise TruncatedRecordError("Avro data block ends early") from err


def _read(fo: IO[bytes], start: int, end: int) -> bytes:
    fo.seek(start)
    return fo.read(end - start)


def copy_data(header: bytes, blocks: bytes, names: tuple[str, ...], types: tuple[str, ...]) -> CopyData:
    """In a worker process: a group of blocks decoded to one COPY BINARY stream of ``names``."""
    records = iter(ContainerReader(io.BytesIO(header + blocks)))
    formatter = BinaryFormatter(_transformer(types))
    row_of = operator.itemgetter(*names)
    out = bytearray()
    rows = 0
    for record in records:
        out += formatter.write_row(row_of(record))
        rows += 1
    out += formatter.end()
    return CopyData(bytes(out), rows)


TEXT_ARRAY_OID = postgres.types.get_oid("text[]")
_TextArrayDumper = postgres.adapters.get_dumper_by_oid(TEXT_ARRAY_OID, pq.Format.BINARY)


class RepeatedTextArrayDumper(_TextArrayDumper):  # type: ignore[valid-type,misc]
    """psycopg's binary ``text[]`` dumper, each distinct list dumped once: a message's reasons are
    at most three of a few dozen feature names, and the generic array dumper (Python, per row)
    cost more than the other fifteen columns together."""

    MAX_KEPT = 4096

    def __init__(self, cls: type, context: pg_abc.AdaptContext | None = None) -> None:
        super().__init__(cls, context)
        self._dumped: dict[tuple[str, ...], pg_abc.Buffer | None] = {}  # per connection: its encoding

    def dump(self, obj: list[Any]) -> pg_abc.Buffer | None:
        key = tuple(obj)
        try:
            return self._dumped[key]
        except KeyError:
            dumped: pg_abc.Buffer | None = super().dump(obj)
            if len(self._dumped) < self.MAX_KEPT:
                self._dumped[key] = dumped
            return dumped
        except TypeError:  # a nested list (a 2-D array) has no key: dumped as it comes
            return super().dump(obj)  # type: ignore[no-any-return]


def with_repeated_arrays(adapters: AdaptersMap) -> AdaptersMap:
    """``adapters`` with :class:`RepeatedTextArrayDumper` for COPY's ``text[]`` columns (COPY
    looks its dumpers up by type, not by Python class)."""
    adapters.register_dumper(None, RepeatedTextArrayDumper)
    return adapters


@dataclass(frozen=True)
class _Context:
    adapters: AdaptersMap
    connection: None = None


@functools.cache
def _transformer(types: tuple[str, ...]) -> pg_abc.Transformer:
    """Binary dumpers for ``types`` from psycopg's default adapters (UTF-8 text: the importer
    only sends worker-made COPY data over a UTF-8 connection)."""
    transformer = Transformer(_Context(with_repeated_arrays(AdaptersMap(postgres.adapters))))
    transformer.set_dumper_types([postgres.types.get_oid(t) for t in types], pq.Format.BINARY)
    return transformer
