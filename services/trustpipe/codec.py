"""Avro codec: container files for batch, Confluent-framed single records for streams.

Framed records follow the Confluent wire format: magic byte ``0x00``, the writer schema's id as a
4-byte big-endian integer, then the Avro binary body. Readers always resolve the writer schema to
their own reader schema; parsed schemas and resolutions are cached per (writer id, reader).
"""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

import fastavro
from avro.errors import AvroException
from fastavro.read import HEADER_SCHEMA, SchemaResolutionError
from fastavro.schema import SchemaParseException, parse_schema

from trustpipe import compat, contracts, decodable
from trustpipe.bounded import ByteBoundedMemo
from trustpipe.contracts import Schema
from trustpipe.errors import PermanentError
from trustpipe.kinesis import KINESIS_MAX_RECORD_BYTES

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")
HEADER_SIZE = _HEADER.size
CONTAINER_MAGIC = b"Obj\x01"

Record = dict[str, Any]
SchemaLookup = Callable[[int], Schema]
"""Returns the writer schema registered under an id; raises KeyError (or UnknownSchemaIdError)."""


class CodecError(PermanentError, ValueError):
    """Avro data could not be encoded or decoded."""


class TruncatedRecordError(CodecError):
    """The data ends before the record (or file) does."""


class BadMagicByteError(CodecError):
    """The data does not start with the Avro/Confluent magic bytes."""


class UnknownSchemaIdError(CodecError):
    """The writer schema id is not known to the registry."""


class SchemaMismatchError(CodecError):
    """The bytes do not match the writer schema, or the reader cannot resolve the writer."""


class OversizeRecordError(CodecError):
    """An encoded record exceeds the transport's size limit."""


class UnboundedSchemaError(SchemaMismatchError):
    """The writer schema lets a count or a nesting claim work its bytes do not pay for."""


class CodecNotAllowedError(CodecError):
    """A container file compressed with a codec outside the reader's allow-list."""


class OversizeBlockError(CodecError):
    """A container block decompresses past the cap."""


class ItemCountError(CodecError):
    """A container block claims more records than its bytes can hold."""


class OversizeObjectError(CodecError):
    """A container file larger than the cap, stored or decompressed."""


class DecodeBudgetError(CodecError):
    """Decoding one object took longer than its time budget."""


_TRUNCATION = (EOFError, struct.error)
_GARBAGE = (IndexError, UnicodeDecodeError, KeyError, OverflowError, ValueError, TypeError, zlib.error)
"""What fastavro raises on bytes that are not what the schema says (zlib's: a corrupt deflate block)."""


MiB = 1024 * 1024
SENSOR_CODECS = frozenset({"deflate", "null"})
"""The sensors write deflate (the simulator and fastavro's default for ``container_bytes``);
``null`` (uncompressed) expands nothing. Both are the Avro specification's required codecs."""


@dataclass(frozen=True)
class ContainerLimits:
    """What one container file may cost its reader; past any of these it is refused whole."""

    codecs: frozenset[str] = SENSOR_CODECS
    """Codecs read (each must be one this module decompresses with a bound: null, deflate)."""
    max_object_bytes: int = 128 * MiB
    """The file as stored: a sensor's quarter-hour drop is a few MiB at the busiest tenant."""
    max_header_bytes: int = 512 * 1024
    """The header: the writer schema (the registry's cap is 256 KiB) and a few metadata entries."""
    max_block_bytes: int = 256 * 1024
    """One block decompressed: writers close a block past 16 KB (fastavro, Avro C) or 64 KB (Java),
    so four times Java's. It bounds what one record can hold: 256 KiB of minimal attachments
    decode to about 17 MiB of Python objects (bench/p11_hostile.py), the most a block costs."""
    max_decoded_bytes: int = 1024 * MiB
    """Every block decompressed, in all: a file of small blocks that each inflate to the cap."""
    seconds: float = 60.0
    """Time to read the whole file; an ordinary drop takes well under a second."""


LANDING_LIMITS = ContainerLimits()


def _schema_refusal(schema_json: str) -> str:
    """Why a writer schema (its JSON text) may not be decoded, or "" when it may; the first
    character says which error it is (``_REFUSALS``)."""
    try:
        parsed = compat.parse(json.loads(schema_json))
    except (AvroException, ValueError, TypeError) as err:
        return f"P{err}"
    except RecursionError:
        return "Pit nests too deeply to be read"
    reason = decodable.refusal(parsed)
    return f"U{reason}" if reason else ""


_REFUSALS: dict[str, tuple[type[SchemaMismatchError], str]] = {
    "P": (SchemaMismatchError, "the writer schema is not a valid Avro schema: "),
    "U": (UnboundedSchemaError, "writer schema refused: "),
}
_SCHEMA_REFUSALS = ByteBoundedMemo(_schema_refusal, max_bytes=4 * MiB, max_key_chars=256 * 1024)
"""A writer schema is judged once: every file of a sensor carries the same one."""


def check_decodable(writer: Schema) -> None:
    """Raises UnboundedSchemaError when ``writer`` lets a few bytes claim unbounded work (see
    ``trustpipe.decodable``), SchemaMismatchError when Apache Avro cannot parse it."""
    try:
        reason = _SCHEMA_REFUSALS(json.dumps(writer, sort_keys=True))
    except RecursionError:
        reason = "Pit nests too deeply to be read"
    if reason:
        error, prefix = _REFUSALS[reason[0]]
        raise error(prefix + reason[1:])


class FramedEncoder:
    """Encodes records with one writer schema into the Confluent wire format."""

    def __init__(self, schema_id: int, schema: Schema, max_bytes: int | None = None) -> None:
        self.schema_id = schema_id
        self._parsed = parse_schema(schema)
        self._header = _HEADER.pack(MAGIC_BYTE, schema_id)
        self._max_bytes = max_bytes

    def encode(self, record: Record) -> bytes:
        """One framed record; raises OversizeRecordError past ``max_bytes``."""
        buf = io.BytesIO()
        buf.write(self._header)
        fastavro.schemaless_writer(buf, self._parsed, record)
        data = buf.getvalue()
        if self._max_bytes is not None and len(data) > self._max_bytes:
            raise OversizeRecordError(f"encoded record is {len(data)} bytes; the limit is {self._max_bytes}")
        return data


class FramedDecoder:
    """Decodes Confluent-framed records of any known writer schema into one reader schema."""

    def __init__(
        self, lookup: SchemaLookup, reader: Schema, max_bytes: int = KINESIS_MAX_RECORD_BYTES
    ) -> None:
        self._lookup = lookup
        self.max_bytes = max_bytes
        """A longer record is refused unread (framing has no compression: what is decoded is
        these bytes, and with unbounded schemas refused no count can claim more)."""
        self._reader = parse_schema(reader)
        self._reader_json = reader
        self._resolved: dict[int, Any] = {}
        self._failed: dict[int, CodecError] = {}
        self._lock = threading.Lock()

    def schema_id(self, data: bytes) -> int:
        """The writer schema id in a framed record's header (checks the header only)."""
        if len(data) < HEADER_SIZE:
            raise TruncatedRecordError(
                f"framed record is {len(data)} bytes; its header alone is {HEADER_SIZE}"
            )
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise BadMagicByteError(f"first byte is 0x{data[0]:02x}, expected 0x00 (Confluent wire format)")
        return int(schema_id)

    def decode(self, data: bytes) -> Record:
        """The record resolved to the reader schema; raises a CodecError subclass on bad input."""
        if len(data) > self.max_bytes:
            raise OversizeRecordError(f"record is {len(data)} bytes; the limit is {self.max_bytes}")
        schema_id = self.schema_id(data)
        writer = self._writer(schema_id)
        buf = io.BytesIO(data)
        buf.seek(HEADER_SIZE)
        try:
            record = cast(Record, fastavro.schemaless_reader(buf, writer, self._reader))
        except _TRUNCATION as err:
            raise TruncatedRecordError(
                f"record of {len(data)} bytes ends early for writer schema id {schema_id}"
            ) from err
        except SchemaResolutionError as err:
            raise SchemaMismatchError(f"writer schema id {schema_id}: {err}") from err
        except _GARBAGE as err:
            raise SchemaMismatchError(f"bytes do not match writer schema id {schema_id}: {err}") from err
        if buf.tell() != len(data):
            raise SchemaMismatchError(
                f"{len(data) - buf.tell()} bytes left after the record: "
                f"not written with schema id {schema_id}"
            )
        return record

    def _writer(self, schema_id: int) -> Any:
        resolved = self._resolved.get(schema_id)
        if resolved is not None:
            return resolved
        with self._lock:
            if schema_id in self._failed:
                raise self._failed[schema_id]
            if schema_id not in self._resolved:
                self._resolve(schema_id)
            return self._resolved[schema_id]

    def _resolve(self, schema_id: int) -> None:
        try:
            writer = self._lookup(schema_id)
        except (KeyError, UnknownSchemaIdError) as err:
            # Not cached here: the id may be registered later by a new producer (the registry
            # client remembers a definite "not found" only for UNKNOWN_ID_SECONDS).
            raise UnknownSchemaIdError(f"schema id {schema_id} is not registered") from err
        error = self._refusal(schema_id, writer)
        if error is not None:
            self._failed[schema_id] = error
            raise error
        self._resolved[schema_id] = parse_schema(writer)

    def _refusal(self, schema_id: int, writer: Schema) -> CodecError | None:
        verdict = contracts.check(self._reader_json, writer)
        if not verdict.compatible:
            return SchemaMismatchError(
                f"reader {self._reader_json.get('name')} cannot read writer schema id "
                f"{schema_id}: {'; '.join(verdict.messages)}"
            )
        try:
            check_decodable(writer)
        except SchemaMismatchError as err:
            return type(err)(f"schema id {schema_id}: {err}")
        return None


class InMemorySchemas:
    """A SchemaLookup over a fixed id -> schema map (tests, and producers' own schemas)."""

    def __init__(self, schemas: Mapping[int, Schema] | None = None) -> None:
        self._schemas = dict(schemas or {})

    def add(self, schema_id: int, schema: Schema) -> None:
        self._schemas[schema_id] = schema

    def __call__(self, schema_id: int) -> Schema:
        return self._schemas[schema_id]


def write_container(
    fo: IO[bytes],
    schema: Schema,
    records: Iterable[Record],
    *,
    codec: str = "deflate",
    metadata: Mapping[str, str] | None = None,
    sync_marker: bytes | None = None,
) -> None:
    """Write an Avro container file (schema in the header).

    A fixed 16-byte ``sync_marker`` makes the bytes reproducible (the default is random).
    """
    fastavro.writer(
        fo,
        parse_schema(schema),
        records,
        codec=codec,
        metadata=dict(metadata or {}),
        sync_marker=sync_marker,  # type: ignore[arg-type]  # None means random, as documented
    )


def container_bytes(
    schema: Schema,
    records: Iterable[Record],
    *,
    codec: str = "deflate",
    sync_marker: bytes | None = None,
) -> bytes:
    """An Avro container file in memory."""
    buf = io.BytesIO()
    write_container(buf, schema, records, codec=codec, sync_marker=sync_marker)
    return buf.getvalue()


class ContainerReader:
    """Reads an Avro container file, resolving its writer schema to ``reader``.

    Errors surface as CodecError subclasses, on open (bad header) or while iterating (truncation).
    A writer schema that lets a count claim unbounded work is refused on open
    (``UnboundedSchemaError``). With ``limits`` the file is read through ``_BoundedBlocks``: its
    codec must be allowed, each block is decompressed with a cap and its record count checked
    against its bytes, and the whole read is held to a size and a time budget (``deadline``, in
    ``time.monotonic()`` seconds, when the caller's budget began earlier).
    """

    def __init__(
        self,
        fo: IO[bytes],
        reader: Schema | None = None,
        limits: ContainerLimits | None = None,
        deadline: float | None = None,
    ) -> None:
        head = fo.read(len(CONTAINER_MAGIC))
        if head != CONTAINER_MAGIC:
            if len(head) < len(CONTAINER_MAGIC):
                raise TruncatedRecordError(f"file is {len(head)} bytes: too short for Avro")
            raise BadMagicByteError(f"not an Avro container file: starts with {head!r}")
        fo.seek(0)
        source: Any = fo if limits is None else _BoundedBlocks(fo, limits, deadline)
        try:
            self._reader = fastavro.reader(source, reader_schema=reader)
        except CodecError:
            raise
        except SchemaResolutionError as err:
            raise SchemaMismatchError(str(err)) from err
        except SchemaParseException as err:
            raise SchemaMismatchError(f"the file's writer schema is not a valid Avro schema: {err}") from err
        except RecursionError as err:  # a header's schema nested thousands deep
            raise SchemaMismatchError("the file's writer schema nests too deeply to be read") from err
        except (*_TRUNCATION, *_GARBAGE) as err:
            # The magic matched, so an unreadable header is one cut short (or overwritten).
            raise TruncatedRecordError(f"Avro header is cut short or corrupt: {err}") from err
        self.writer_schema = cast(Schema, self._reader.writer_schema)
        self.reader_schema = reader
        """The schema records are resolved to (None: read as written)."""
        self.metadata: dict[str, Any] = getattr(source, "metadata", None) or self._reader.metadata
        if reader is not None:
            self._check_reader(reader)
        check_decodable(self.writer_schema)

    def _check_reader(self, reader: Schema) -> None:
        try:
            verdict = contracts.check(reader, self.writer_schema)
        except AvroException as err:  # fastavro read it; Apache Avro's stricter parser did not
            raise SchemaMismatchError(f"the file's writer schema is not a valid Avro schema: {err}") from err
        if not verdict.compatible:
            raise SchemaMismatchError(
                f"reader {reader.get('name')} cannot read this file's writer schema: "
                + "; ".join(verdict.messages)
            )

    def __iter__(self) -> Iterator[Record]:
        try:
            for record in self._reader:
                yield cast(Record, record)
        except CodecError:
            raise
        except _TRUNCATION as err:
            raise TruncatedRecordError("Avro data block ends early") from err
        except SchemaResolutionError as err:
            raise SchemaMismatchError(str(err)) from err
        except _GARBAGE as err:
            raise SchemaMismatchError(f"corrupt Avro data block: {err}") from err


_HEADER_SCHEMA = parse_schema(HEADER_SCHEMA)
SYNC_SIZE = 16


class _BoundedBlocks:
    """A container file as fastavro reads it, every block checked and decompressed here with a
    cap, and handed on as the ``null`` codec: fastavro decodes the records of one block at a time
    and never decompresses anything itself. Only ``read`` is called (fastavro's reader calls
    nothing else); each call hands out what was asked, producing the next block when needed."""

    def __init__(self, fo: IO[bytes], limits: ContainerLimits, deadline: float | None) -> None:
        self._fo, self._limits = fo, limits
        self._deadline = time.monotonic() + limits.seconds if deadline is None else deadline
        self._stored = self._decoded = self._blocks = 0
        header = self._read_header(fo, limits.max_header_bytes)
        self.metadata = {k: v.decode(errors="replace") for k, v in header["meta"].items()}
        self._codec = self.metadata.get("avro.codec", "null")
        if self._codec not in limits.codecs:
            raise CodecNotAllowedError(
                f"codec {self._codec[:64]!r} is not allowed; allowed: {', '.join(sorted(limits.codecs))}"
            )
        self._sync = header["sync"]
        out = io.BytesIO()
        header["meta"] = {**header["meta"], "avro.codec": b"null"}
        fastavro.schemaless_writer(out, _HEADER_SCHEMA, header)
        self._buf, self._pos, self._done = out.getvalue(), 0, False

    def _read_header(self, fo: IO[bytes], cap: int) -> dict[str, Any]:
        """The header, parsed from at most ``cap`` bytes (its map of metadata could otherwise
        hold a whole object's worth of entries); ``fo`` is left at the first block."""
        start = fo.tell()
        head = io.BytesIO(fo.read(cap))
        try:
            header = fastavro.schemaless_reader(head, _HEADER_SCHEMA)
        except _TRUNCATION as err:
            if head.getbuffer().nbytes >= cap:
                raise OversizeObjectError(f"the file's header is over {cap} bytes, the cap") from err
            raise TruncatedRecordError(f"Avro header is cut short or corrupt: {err}") from err
        except _GARBAGE as err:
            raise TruncatedRecordError(f"Avro header is cut short or corrupt: {err}") from err
        self._stored = head.tell()
        fo.seek(start + self._stored)
        return cast(dict[str, Any], header)

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buf) - self._pos < n):
            self._buf = self._buf[self._pos :] + self._next_block()
            self._pos = 0
        end = len(self._buf) if n < 0 else self._pos + n
        chunk = self._buf[self._pos : end]
        self._pos += len(chunk)
        return chunk

    def _next_block(self) -> bytes:
        try:
            count = _read_long(self._fo)
        except EOFError:
            self._done = True
            return b""
        size = _read_long(self._fo)
        self._check_budget()
        if count < 0 or size < 0:
            raise SchemaMismatchError(f"corrupt Avro data block: a negative count or size ({count}, {size})")
        self._stored += size + SYNC_SIZE
        if self._stored > self._limits.max_object_bytes:
            raise OversizeObjectError(f"the file is over {self._limits.max_object_bytes} bytes")
        data = self._fo.read(size)
        if len(data) < size or self._fo.read(SYNC_SIZE) != self._sync:
            raise TruncatedRecordError(f"Avro data block {self._blocks} ends early or lacks its sync marker")
        block = self._inflate(data)
        self._blocks += 1
        # Unbounded schemas are refused on open, so every record takes at least one byte.
        if count > len(block):
            raise ItemCountError(
                f"block {self._blocks - 1} claims {count} records in {len(block)} bytes; "
                "a record takes at least one byte"
            )
        return b"".join((long_bytes(count), long_bytes(len(block)), block, self._sync))

    def _inflate(self, data: bytes) -> bytes:
        cap = self._limits.max_block_bytes
        if self._codec == "null":
            block = data
        else:
            try:
                block = zlib.decompressobj(-15).decompress(data, cap + 1)
            except zlib.error as err:
                raise SchemaMismatchError(f"corrupt Avro data block: {err}") from err
        if len(block) > cap:
            raise OversizeBlockError(f"block {self._blocks} decompresses past {cap} bytes, the cap")
        self._decoded += len(block)
        if self._decoded > self._limits.max_decoded_bytes:
            raise OversizeObjectError(
                f"the file decompresses past {self._limits.max_decoded_bytes} bytes in all, the cap"
            )
        return block

    def _check_budget(self) -> None:
        if time.monotonic() > self._deadline:
            raise DecodeBudgetError(
                f"reading the file took over its budget of {self._limits.seconds:g} s "
                f"({self._blocks} blocks read)"
            )


def _read_long(fo: IO[bytes]) -> int:
    """One zig-zag varint (Avro's long); EOFError at the end of the data, before its first byte."""
    shift = result = 0
    while True:
        byte = fo.read(1)
        if not byte:
            if shift == 0:
                raise EOFError
            raise TruncatedRecordError("Avro data ends inside a block header")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7
        if shift > 63:
            raise SchemaMismatchError("corrupt Avro data block: a block header's varint is too long")


def long_bytes(n: int) -> bytes:
    """``n`` as Avro writes a long (zig-zag varint)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
