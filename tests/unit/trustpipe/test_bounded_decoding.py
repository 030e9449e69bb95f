"""Bounded decoding: a landing object that would cost its reader more than its caps allow is set
aside whole with one reason (the issue's reproductions among them, their strings 8 MiB here and
200 MB in ``bench/p11_hostile.py``), an ordinary one is read as before; writer schemas whose
counts or nesting are unbounded are refused before any data."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import fastavro
import pytest
from fastavro.read import HEADER_SCHEMA
from fastavro.schema import parse_schema

from trustpipe import compat, contracts, decodable, landing, layout
from trustpipe.codec import (
    LANDING_LIMITS,
    ContainerReader,
    FramedDecoder,
    InMemorySchemas,
    OversizeObjectError,
    OversizeRecordError,
    UnboundedSchemaError,
    container_bytes,
)
from trustpipe.landing import LandedFile, SetAside
from trustpipe_sensors import hostile
from trustpipe_sensors.sensor import to_version

KEY = layout.landing_key("acme", datetime(2026, 11, 26, 13, tzinfo=UTC))
MiB = 1024 * 1024
BLOCK_CAP = LANDING_LIMITS.max_block_bytes
SMALL = replace(LANDING_LIMITS, max_object_bytes=64 * 1024, max_decoded_bytes=3 * BLOCK_CAP)


def good() -> bytes:
    return container_bytes(contracts.email_metadata(3), [hostile.record(f"m-{i}") for i in range(50)])


def many_inflating_blocks() -> bytes:
    """Four blocks of one record each, each inflating to just under the block cap."""
    pad = BLOCK_CAP - 4096

    def block() -> tuple[int, list[bytes]]:
        return 1, [hostile.record_bytes() + hostile.long_bytes(pad) + b"x" * pad]

    return hostile.container(hostile.with_field(hostile.PADDING), [block() for _ in range(4)], "deflate")


def many_metadata_entries() -> bytes:
    """A header whose metadata map holds 300,000 small entries (about 2 MB of them)."""
    keys = (str(i).encode() for i in range(300_000))
    entries = b"".join(hostile.long_bytes(len(k)) + k + b"\x00" for k in keys)
    meta = hostile.long_bytes(-300_000) + hostile.long_bytes(len(entries)) + entries + b"\x00"
    return b"Obj\x01" + meta + hostile.SYNC


@pytest.mark.parametrize(
    ("build", "limits", "reason"),
    [
        (
            lambda: hostile.long_string(8 * MiB, "bzip2"),
            LANDING_LIMITS,
            "CodecNotAllowedError: codec 'bzip2'",
        ),
        (lambda: hostile.long_string(8 * MiB), LANDING_LIMITS, "OversizeBlockError: block 0 decompresses"),
        (hostile.null_array, LANDING_LIMITS, "UnboundedSchemaError: writer schema refused: array at nothing"),
        (hostile.huge_count, LANDING_LIMITS, "ItemCountError: block 0 claims 1099511627776 records"),
        (many_inflating_blocks, SMALL, "OversizeObjectError: the file decompresses past"),
        (lambda: good() + bytes(SMALL.max_object_bytes), SMALL, "OversizeObjectError: the object is"),
        (good, replace(LANDING_LIMITS, seconds=-1.0), "DecodeBudgetError: reading the file took over"),
        (many_metadata_entries, LANDING_LIMITS, "OversizeObjectError: the file's header is over"),
    ],
    ids=[
        "bzip2-long-string",
        "deflate-block-over-cap",
        "array-of-null",
        "huge-count",
        "inflating-blocks",
        "object-over-cap",
        "time-budget",
        "header-over-cap",
    ],
)
def test_a_hostile_landing_object_is_set_aside_with_its_reason(
    build: Callable[[], bytes], limits: landing.ContainerLimits, reason: str
) -> None:
    # GIVEN a hostile object of a few KB and an ordinary one
    body = build()
    # WHEN each is judged
    judged, ordinary = landing.judge(KEY, body, limits=limits), landing.judge(KEY, good(), limits=SMALL)
    # THEN the hostile one is set aside with its one reason, the ordinary one read whole
    assert isinstance(judged, SetAside), judged
    assert judged.reason.startswith(reason), judged.reason
    assert isinstance(ordinary, LandedFile) and ordinary.records == 50


def test_under_the_caps_the_bounded_reader_reads_what_the_plain_one_does() -> None:
    # GIVEN files of every sensor version, several blocks each, deflate and null
    for version in contracts.SENSOR_VERSIONS:
        for codec in ("deflate", "null"):
            records = [to_version(hostile.record(f"m-{i}"), version) for i in range(2000)]
            schema = contracts.email_metadata(version)
            body = container_bytes(schema, records, codec=codec)
            # WHEN read with and without the limits THEN the records are the same
            plain = list(ContainerReader(io.BytesIO(body), contracts.reader_schema()))
            bounded = ContainerReader(io.BytesIO(body), contracts.reader_schema(), LANDING_LIMITS)
            assert list(bounded) == plain, (version, codec)
            assert bounded.metadata["avro.codec"] == codec


def test_a_long_string_under_the_block_cap_is_read() -> None:
    # a record is not refused for its size alone: the block cap is what bounds it
    judged = landing.judge(KEY, hostile.long_string(BLOCK_CAP - 4096))
    assert isinstance(judged, LandedFile) and judged.records == 1


def test_a_block_cut_short_or_without_its_sync_marker_is_truncation() -> None:
    body = good()
    judged = landing.judge(KEY, body[:-3])
    assert isinstance(judged, SetAside) and judged.reason.startswith("TruncatedRecordError")


@pytest.mark.parametrize(
    ("schema", "refused"),
    [
        ({"type": "array", "items": "null"}, "array at the top has items of null"),
        (
            {"type": "map", "values": {"type": "array", "items": {"type": "fixed", "name": "F", "size": 0}}},
            "array at values has items of F",
        ),
        (
            hostile.with_field(
                {
                    "name": "xs",
                    "type": {
                        "type": "array",
                        "items": {"type": "record", "name": "Z", "fields": [{"name": "q", "type": "null"}]},
                    },
                }
            ),
            "array at xs has items of io.trustpipe.sensor.Z",
        ),
        (
            {"type": "record", "name": "N", "fields": [{"name": "next", "type": ["null", "N"]}]},
            "record N holds itself",
        ),
        ({"type": "record", "name": "E", "fields": []}, "a value of E encodes in zero bytes"),
        ("null", "a value of null encodes in zero bytes"),
    ],
    ids=[
        "array-of-null",
        "array-of-empty-fixed-in-a-map",
        "array-of-empty-records",
        "recursive",
        "empty-record",
        "null",
    ],
)
def test_unbounded_writer_schemas_are_refused_with_the_reason(schema: object, refused: str) -> None:
    # WHEN a decoder judges the schema THEN it is refused, naming where
    reason = decodable.refusal(compat.parse(schema))
    assert reason is not None and reason.startswith(refused), reason
    # AND the registry refuses only the zero-size array items (Confluent accepts the rest)
    registry = decodable.count_refusal(compat.parse(schema))
    assert (registry is not None) == refused.startswith("array"), registry


def test_the_pipelines_own_contracts_are_decodable() -> None:
    for name in (contracts.SCORED_MESSAGE, contracts.ACTION, contracts.SCORING_STATS):
        assert decodable.refusal(compat.parse(contracts.load(name))) is None, name
    for version in (*contracts.SENSOR_VERSIONS, 4):
        assert decodable.min_record_bytes(compat.parse(contracts.email_metadata(version))) > 0


def test_a_framed_record_of_a_registered_unbounded_schema_is_refused_at_once() -> None:
    # GIVEN the 58-byte record whose array<null> claims 2^62 items, its schema registered
    schema, data = hostile.framed_null_array(9)
    decoder = FramedDecoder(InMemorySchemas({9: schema}), contracts.reader_schema())
    # WHEN decoded THEN it is refused for its schema, before any item is read
    with pytest.raises(UnboundedSchemaError, match="schema id 9: writer schema refused: array at nothing"):
        decoder.decode(data)
    assert len(data) < 64


def test_a_framed_record_over_the_decoders_cap_is_refused_unread() -> None:
    decoder = FramedDecoder(InMemorySchemas({}), contracts.reader_schema(), max_bytes=1024)
    with pytest.raises(OversizeRecordError, match="record is 1025 bytes; the limit is 1024"):
        decoder.decode(b"\x00" * 1025)


def test_a_container_read_from_a_stream_is_held_to_the_object_cap() -> None:
    # GIVEN a file larger than the cap, read as a stream (its size not known beforehand)
    records = [hostile.record(f"m-{i}") for i in range(2000)]
    body = container_bytes(contracts.email_metadata(3), records, codec="null")
    assert len(body) > SMALL.max_object_bytes
    # WHEN read within the limits THEN it is refused as it passes the cap
    with pytest.raises(OversizeObjectError, match="the file is over 65536 bytes"):
        list(ContainerReader(io.BytesIO(body), None, SMALL))


def test_a_header_whose_schema_nests_thousands_deep_is_a_schema_mismatch() -> None:
    # GIVEN a file whose header's schema is 3,000 arrays deep (about 90 KB of JSON)
    text = '{"type":"array","items":' * 3000 + '"int"' + "}" * 3000
    header = {"magic": b"Obj\x01", "meta": {"avro.schema": text.encode()}, "sync": hostile.SYNC}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parse_schema(HEADER_SCHEMA), header)
    # WHEN judged THEN it is set aside with its reason (Python's recursion limit escaped before)
    judged = landing.judge(KEY, out.getvalue())
    assert isinstance(judged, SetAside)
    assert judged.reason == "SchemaMismatchError: the file's writer schema nests too deeply to be read"
