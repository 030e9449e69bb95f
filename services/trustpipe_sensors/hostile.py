"""What a careless or hostile sensor can write: landing objects and framed records that are valid
Avro (or nearly) and cost their reader far more than their bytes. The tests of bounded decoding
and its benchmark (``bench/p11_hostile.py``) build them here.

Each is built without holding what it decodes to: a 200 MB string is compressed a MiB at a time.
A field the v4 reader lacks (``padding``, ``nothing``) is added to the v3 writer schema, so the
file stays one the pipeline's reader resolves: the reader skips the field, but must decode it.
"""

from __future__ import annotations

import bz2
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import fastavro
from fastavro.read import HEADER_SCHEMA
from fastavro.schema import parse_schema

from trustpipe import contracts
from trustpipe.codec import HEADER_SIZE, MAGIC_BYTE, long_bytes

SYNC = b"trustpipe-hostil"
CHUNK = 1024 * 1024
NULL_ARRAY = {"name": "nothing", "type": {"type": "array", "items": "null"}}
PADDING = {"name": "padding", "type": "string"}


def record(message_id: str = "m-1", enterprise_id: str = "acme") -> dict[str, Any]:
    """An ordinary v3 record."""
    return {
        "message_id": message_id,
        "enterprise_id": enterprise_id,
        "received_at": datetime(2026, 11, 26, 13, tzinfo=UTC),
        "from_address": "alice@example.com",
        "from_display_name": "Alice",
        "return_path": "alice@example.com",
        "sending_ip": "192.0.2.1",
        "recipient_count": 1,
        "subject_length": 12,
        "size_bytes": 2048,
        "spf": "PASS",
        "dkim": "PASS",
        "dmarc": "PASS",
        "url_count": 0,
        "attachment_count": 0,
        "reply_to": None,
        "dkim_domain": None,
        "urls": [],
        "attachments": [],
        "in_known_thread": False,
    }


def with_field(field: dict[str, Any]) -> contracts.Schema:
    """The v3 writer schema with ``field`` appended (a field the v4 reader does not have)."""
    schema = contracts.email_metadata(3)
    return {**schema, "fields": [*schema["fields"], field]}


def record_bytes(rec: dict[str, Any] | None = None) -> bytes:
    """A v3 record's Avro binary body."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parse_schema(contracts.email_metadata(3)), rec or record())
    return buf.getvalue()


def container(schema: contracts.Schema, blocks: Iterable[tuple[int, Iterable[bytes]]], codec: str) -> bytes:
    """A container file of ``blocks`` (each a record count and its bytes, in pieces), compressed
    with ``codec`` (null, deflate or bzip2) a piece at a time."""
    out = io.BytesIO()
    header = {
        "magic": b"Obj\x01",
        "meta": {"avro.schema": json.dumps(schema).encode(), "avro.codec": codec.encode()},
        "sync": SYNC,
    }
    fastavro.schemaless_writer(out, parse_schema(HEADER_SCHEMA), header)
    for count, pieces in blocks:
        data = b"".join(_compress(pieces, codec))
        out.write(long_bytes(count) + long_bytes(len(data)) + data + SYNC)
    return out.getvalue()


def _compress(pieces: Iterable[bytes], codec: str) -> Iterator[bytes]:
    if codec == "null":
        yield from pieces
        return
    compressor: Any = zlib.compressobj(9, zlib.DEFLATED, -15) if codec == "deflate" else bz2.BZ2Compressor(9)
    for piece in pieces:
        yield compressor.compress(piece)
    yield compressor.flush()


def long_string(n_bytes: int, codec: str = "deflate") -> bytes:
    """One record whose extra string field holds ``n_bytes`` (the issue's: 200 MB in bzip2, 3 KB)."""

    def pieces() -> Iterator[bytes]:
        yield record_bytes() + long_bytes(n_bytes)
        whole, rest = divmod(n_bytes, CHUNK)
        chunk = b"x" * CHUNK
        for _ in range(whole):
            yield chunk
        yield chunk[:rest]

    return container(with_field(PADDING), [(1, pieces())], codec)


def null_array(count: int = 2**62, codec: str = "deflate") -> bytes:
    """One record whose extra ``array<null>`` field claims ``count`` items in a few bytes."""
    return container(with_field(NULL_ARRAY), [(1, [record_bytes(), _null_items(count)])], codec)


def _null_items(count: int) -> bytes:
    return long_bytes(count) + long_bytes(0)


def huge_count(count: int = 2**40) -> bytes:
    """A block of one ordinary record that claims ``count`` records."""
    return container(contracts.email_metadata(3), [(count, [record_bytes()])], "deflate")


def framed_null_array(schema_id: int, count: int = 2**62) -> tuple[contracts.Schema, bytes]:
    """A framed record (Confluent wire format) whose extra ``array<null>`` field claims ``count``
    items, and the writer schema to register for it (compatible with the v4 reader)."""
    rec = record(message_id="", enterprise_id="")
    for name in ("from_address", "from_display_name", "return_path", "sending_ip"):
        rec[name] = ""
    header = bytes([MAGIC_BYTE]) + schema_id.to_bytes(HEADER_SIZE - 1, "big")
    return with_field(NULL_ARRAY), header + record_bytes(rec) + _null_items(count)
