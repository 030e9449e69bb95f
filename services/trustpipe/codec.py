"""Avro codec: container files for batch, Confluent-framed single records for streams.

Framed records follow the Confluent wire format: magic byte ``0x00``, the writer schema's id as a
4-byte big-endian integer, then the Avro binary body. Readers always resolve the writer schema to
their own reader schema; parsed schemas and resolutions are cached per (writer id, reader).
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, cast

import fastavro
from avro.errors import AvroException
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException, parse_schema

from trustpipe import contracts
from trustpipe.contracts import Schema
from trustpipe.errors import PermanentError

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


_TRUNCATION = (EOFError, struct.error)
_GARBAGE = (IndexError, UnicodeDecodeError, KeyError, OverflowError, ValueError, TypeError, zlib.error)
"""What fastavro raises on bytes that are not what the schema says (zlib's: a corrupt deflate block)."""


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

    def __init__(self, lookup: SchemaLookup, reader: Schema) -> None:
        self._lookup = lookup
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
        verdict = contracts.check(self._reader_json, writer)
        if not verdict.compatible:
            error = SchemaMismatchError(
                f"reader {self._reader_json.get('name')} cannot read writer schema id "
                f"{schema_id}: {'; '.join(verdict.messages)}"
            )
            self._failed[schema_id] = error
            raise error
        self._resolved[schema_id] = parse_schema(writer)


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
    """

    def __init__(self, fo: IO[bytes], reader: Schema | None = None) -> None:
        head = fo.read(len(CONTAINER_MAGIC))
        if head != CONTAINER_MAGIC:
            if len(head) < len(CONTAINER_MAGIC):
                raise TruncatedRecordError(f"file is {len(head)} bytes: too short for Avro")
            raise BadMagicByteError(f"not an Avro container file: starts with {head!r}")
        fo.seek(0)
        try:
            self._reader = fastavro.reader(fo, reader_schema=reader)
        except SchemaResolutionError as err:
            raise SchemaMismatchError(str(err)) from err
        except SchemaParseException as err:
            raise SchemaMismatchError(f"the file's writer schema is not a valid Avro schema: {err}") from err
        except (*_TRUNCATION, *_GARBAGE) as err:
            # The magic matched, so an unreadable header is one cut short (or overwritten).
            raise TruncatedRecordError(f"Avro header is cut short or corrupt: {err}") from err
        self.writer_schema = cast(Schema, self._reader.writer_schema)
        self.reader_schema = reader
        """The schema records are resolved to (None: read as written)."""
        self.metadata: dict[str, Any] = self._reader.metadata
        if reader is not None:
            try:
                verdict = contracts.check(reader, self.writer_schema)
            except AvroException as err:  # fastavro read it; Apache Avro's stricter parser did not
                raise SchemaMismatchError(
                    f"the file's writer schema is not a valid Avro schema: {err}"
                ) from err
            if not verdict.compatible:
                raise SchemaMismatchError(
                    f"reader {reader.get('name')} cannot read this file's writer schema: "
                    + "; ".join(verdict.messages)
                )

    def __iter__(self) -> Iterator[Record]:
        try:
            for record in self._reader:
                yield cast(Record, record)
        except _TRUNCATION as err:
            raise TruncatedRecordError("Avro data block ends early") from err
        except SchemaResolutionError as err:
            raise SchemaMismatchError(str(err)) from err
        except _GARBAGE as err:
            raise SchemaMismatchError(f"corrupt Avro data block: {err}") from err
