"""A scored object's Avro blocks framed into groups and decoded to COPY data (the decode workers'
share), without the processes: framing, order, counts, and bad input."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from trustpipe import contracts
from trustpipe.codec import SchemaMismatchError, TruncatedRecordError, container_bytes
from trustpipe_importer.blocks import DecodePool, block_groups, copy_data
from trustpipe_importer.load import SCORED_COLUMNS

SCHEMA = contracts.load(contracts.SCORED_MESSAGE)
NAMES = tuple(c for c, _ in SCORED_COLUMNS)
TYPES = tuple(t for _, t in SCORED_COLUMNS)
PGCOPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PGCOPY_TRAILER = b"\xff\xff"


def rows(n: int) -> list[dict[str, Any]]:
    at = datetime(2026, 11, 20, tzinfo=UTC)
    return [
        {
            "message_id": f"<m-{i}@x>",
            "enterprise_id": "acme",
            "received_at": at,
            "scored_at": at,
            "from_address": f"u{i}@partner.com",
            "from_display_name": "U",
            "from_domain": "partner.com",
            "reply_to": None,
            "sending_ip": "198.51.100.1",
            "score": i / n,
            "verdict": ("PASS_THROUGH", "QUARANTINE", "LABEL")[i % 3],
            "reasons": [],
            "model_version": "m",
            "source": "BATCH",
            "source_ref": "2026-11-20T00",
            "sensor_schema_version": 4,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def data() -> bytes:
    return container_bytes(SCHEMA, rows(1_000))  # fastavro's 16 KB blocks: about 8 of them


def decoded(groups: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    return [r for header, blocks in groups for r in fastavro.reader(io.BytesIO(header + blocks))]


def test_groups_cover_every_block_in_order_each_a_valid_container(data: bytes) -> None:
    groups = list(block_groups(io.BytesIO(data), 300))
    assert len(groups) > 2
    counts = [sum(1 for _ in fastavro.reader(io.BytesIO(h + b))) for h, b in groups]
    assert all(c >= 300 for c in counts[:-1]) and sum(counts) == 1_000
    assert [r["message_id"] for r in decoded(groups)] == [r["message_id"] for r in rows(1_000)]


def test_one_group_when_it_asks_for_more_rows_than_the_file_has(data: bytes) -> None:
    assert len(list(block_groups(io.BytesIO(data), 10_000))) == 1


def test_a_file_without_records_has_no_group() -> None:
    assert list(block_groups(io.BytesIO(container_bytes(SCHEMA, [])), 300)) == []


def test_a_file_cut_inside_a_block_is_truncated(data: bytes) -> None:
    with pytest.raises(TruncatedRecordError, match="ends early"):
        list(block_groups(io.BytesIO(data[: len(data) // 2]), 300))


def test_a_file_cut_inside_the_header_is_truncated(data: bytes) -> None:
    with pytest.raises(TruncatedRecordError, match="header"):
        list(block_groups(io.BytesIO(data[:40]), 300))


def test_a_block_without_its_sync_marker_is_corrupt(data: bytes) -> None:
    header_end = len(next(block_groups(io.BytesIO(data), 1))[0])
    first_marker = data.index(data[header_end - 16 : header_end], header_end)  # the header ends with it
    broken = data[:first_marker] + b"\x00" * 16 + data[first_marker + 16 :]
    with pytest.raises(SchemaMismatchError, match="no sync marker"):
        list(block_groups(io.BytesIO(broken), 300))


def test_a_negative_block_size_is_corrupt(data: bytes) -> None:
    header_end = len(next(block_groups(io.BytesIO(data), 1))[0])
    broken = data[:header_end] + b"\x02\x03" + data[header_end + 2 :]  # 1 record, size -2
    with pytest.raises(SchemaMismatchError, match="negative"):
        list(block_groups(io.BytesIO(broken), 300))


def test_copy_data_is_one_binary_copy_stream_of_the_group(data: bytes) -> None:
    (header, blocks), *_ = block_groups(io.BytesIO(data), 300)
    chunk = copy_data(header, blocks, NAMES, TYPES)
    expected = decoded([(header, blocks)])
    assert chunk.rows == len(expected)
    assert chunk.data.startswith(PGCOPY_SIGNATURE) and chunk.data.endswith(PGCOPY_TRAILER)
    first_tuple = chunk.data[len(PGCOPY_SIGNATURE) + 8 :]  # flags and header extension length
    assert struct.unpack(">h", first_tuple[:2]) == (len(NAMES),)


def test_copy_data_of_a_corrupt_block_raises_the_codec_error(data: bytes) -> None:
    (header, blocks), *_ = block_groups(io.BytesIO(data), 300)
    with pytest.raises(TruncatedRecordError):
        copy_data(header, blocks[: len(blocks) // 2], NAMES, TYPES)


def test_a_pool_of_one_process_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        DecodePool(1)


def test_repeated_text_arrays_dump_as_psycopg_dumps_them_and_the_cache_stays_bounded() -> None:
    from psycopg import postgres, pq
    from psycopg.adapt import AdaptersMap, Transformer

    from trustpipe_importer.blocks import TEXT_ARRAY_OID, RepeatedTextArrayDumper, _transformer

    context = Context(AdaptersMap(postgres.adapters))
    dumper = RepeatedTextArrayDumper(type(None), context)
    psycopgs = postgres.adapters.get_dumper_by_oid(TEXT_ARRAY_OID, pq.Format.BINARY)(type(None), context)
    lists = [[], ["spf_fail"], ["spf_fail", "dkim_fail", "lookalike_domain"], ["é", "a\tb"], [None, "x"]]
    assert dumper.dump([["a", "b"], ["c", "d"]]) == psycopgs.dump([["a", "b"], ["c", "d"]])  # 2-D: no key
    for values in lists * 2:  # the second time from the cache
        assert dumper.dump(values) == psycopgs.dump(values)
    for n in range(RepeatedTextArrayDumper.MAX_KEPT + 10):
        assert dumper.dump([str(n)]) == psycopgs.dump([str(n)])
    assert len(dumper._dumped) == RepeatedTextArrayDumper.MAX_KEPT
    # and the decode workers' transformer, which registers it, dumps the same bytes
    plain = Transformer()
    plain.set_dumper_types([TEXT_ARRAY_OID], pq.Format.BINARY)
    for values in lists:
        assert _transformer(("text[]",)).dump_sequence([values], [pq.Format.BINARY]) == plain.dump_sequence(
            [values], [pq.Format.BINARY]
        )


@dataclass(frozen=True)
class Context:
    adapters: Any
    connection: None = None


def test_a_decode_worker_that_dies_is_a_transient_failure_and_the_next_object_gets_a_fresh_pool(
    data: bytes,
) -> None:
    import os
    import signal
    import time

    from trustpipe.errors import TransientError
    from trustpipe_importer.blocks import DecodeWorkerLostError

    pool = DecodePool(2, min_bytes=0)
    try:
        assert sum(c.rows for c in pool.chunks(io.BytesIO(data), SCORED_COLUMNS, 300)) == 1_000
        executor = pool._executor
        assert executor is not None
        victim = next(iter(executor._processes))  # type: ignore[attr-defined]
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)  # the executor notices: the next submit, not a result, finds the pool broken
        with pytest.raises(DecodeWorkerLostError, match="died") as lost:
            list(pool.chunks(io.BytesIO(data), SCORED_COLUMNS, 300))
        assert isinstance(lost.value, TransientError)
        assert sum(c.rows for c in pool.chunks(io.BytesIO(data), SCORED_COLUMNS, 300)) == 1_000
        assert pool._executor is not executor
    finally:
        pool.close()
