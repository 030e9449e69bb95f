"""The indexer's bulk against a fake cluster: each document's answer read on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.harness.scored import scored
from tests.harness.search import FakeSearch
from trustpipe.codec import BadMagicByteError
from trustpipe.transient import is_transient
from trustpipe_search.errors import SearchThrottledError
from trustpipe_search.indexing import THROTTLE_ATTEMPTS, index_rows
from trustpipe_search.stream import StreamIndexer
from trustpipe_stream.processor import Rejected, StreamRecord

MAPPING_ERROR = {"type": "strict_dynamic_mapping_exception", "reason": "no [zz] here"}
CONFLICT = {"type": "version_conflict_engine_exception", "reason": "current version is higher"}
THROTTLE = {"type": "es_rejected_execution_exception", "reason": "queue full"}


def test_a_refused_document_is_reported_with_its_reason_and_the_rest_are_indexed() -> None:
    rows = scored(6, "m")
    bad = f"acme/{rows[3]['message_id']}"
    fake = FakeSearch(lambda i, _s: (400, MAPPING_ERROR) if i == bad else (201, None))
    outcome = index_rows(fake, rows)  # type: ignore[arg-type]
    assert outcome.written == 5
    assert [(r.position, r.reason) for r in outcome.refused] == [
        (3, "strict_dynamic_mapping_exception: no [zz] here")
    ]


def test_a_version_conflict_is_a_document_already_there_not_a_failure() -> None:
    rows = scored(3, "m")
    fake = FakeSearch(lambda _i, _s: (409, CONFLICT))
    outcome = index_rows(fake, rows)  # type: ignore[arg-type]
    assert (outcome.written, outcome.superseded, outcome.refused) == (0, 3, [])


def test_throttled_documents_alone_are_sent_again_after_a_backoff() -> None:
    rows = scored(4, "m")
    slow = {f"acme/{rows[0]['message_id']}", f"globex/{rows[1]['message_id']}"}
    fake = FakeSearch(lambda i, seen: (429, THROTTLE) if i in slow and seen < 2 else (201, None))
    waits: list[float] = []
    outcome = index_rows(fake, rows, sleep=waits.append, jitter=lambda: 1.0)  # type: ignore[arg-type]
    assert outcome.written == 4 and outcome.throttled == 4
    assert [len(request) for request in fake.sent] == [4, 2, 2]
    assert waits == [0.5, 1.0]


def test_a_cluster_that_keeps_throttling_fails_the_batch_transiently() -> None:
    fake = FakeSearch(lambda _i, _s: (503, {"type": "unavailable", "reason": "busy"}))
    with pytest.raises(SearchThrottledError) as caught:
        index_rows(fake, scored(2, "m"), sleep=lambda _s: None)  # type: ignore[arg-type]
    assert is_transient(caught.value)
    assert len(fake.sent) == THROTTLE_ATTEMPTS


def test_a_row_that_cannot_be_a_document_is_refused_before_the_bulk() -> None:
    rows = scored(2, "m")
    rows[1] = {**rows[1], "model_promotion": -5}
    fake = FakeSearch()
    outcome = index_rows(fake, rows)  # type: ignore[arg-type]
    assert outcome.written == 1
    assert outcome.refused[0].position == 1 and outcome.refused[0].reason.startswith("UnindexableError")


class Decoder:
    """Rows by the record's data; b"bad" is not Avro."""

    def __init__(self, rows: dict[bytes, dict[str, Any]]) -> None:
        self.rows = rows

    def decode(self, data: bytes) -> dict[str, Any]:
        if data not in self.rows:
            raise BadMagicByteError("not framed")
        return self.rows[data]


def record(data: bytes, n: int) -> StreamRecord:
    return StreamRecord(data, "acme/x", str(n), 0, 0, "shardId-0")


def test_the_stream_indexer_rejects_undecodable_records_and_refused_documents_alone() -> None:
    rows = scored(3, "m")
    refused_id = f"initech/{rows[2]['message_id']}"
    fake = FakeSearch(lambda i, _s: (400, MAPPING_ERROR) if i == refused_id else (201, None))
    kept: list[tuple[str, Sequence[Rejected]]] = []
    worker = StreamIndexer(
        Decoder({b"r0": rows[0], b"r1": rows[1], b"r2": rows[2]}),  # type: ignore[arg-type]
        fake,  # type: ignore[arg-type]
        lambda shard, rejected: kept.append((shard, rejected)),
    )
    records = [record(b"r0", 1), record(b"bad", 2), record(b"r1", 3), record(b"r2", 4)]
    rejected = worker.process(records)
    assert sorted((x.record.sequence_number, x.reason.split(":")[0]) for x in rejected) == [
        ("2", "BadMagicByteError"),
        ("4", "strict_dynamic_mapping_exception"),
    ]
    assert worker.counts["indexed"] == 2
    worker.set_aside("shardId-0", rejected)
    assert kept[0][0] == "shardId-0" and worker.counts["set_aside"] == 2
