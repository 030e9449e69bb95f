"""The indexer on the scored stream: each batch's records decoded and bulk-indexed; the KCL
processor (``trustpipe_stream.processor``) checkpoints only after ``process`` returned, that is
after the bulk answered for every document. An undecodable record, or a document the cluster
refuses, comes back as ``Rejected`` with its reason and goes to the archive bucket
(``set_aside/stream/indexer/``); the rest of the batch is indexed. The Lambda form
(``trustpipe_search.lambda_handler``) runs the same worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import OpenSearch

from trustpipe.codec import CodecError, FramedDecoder
from trustpipe_search.indexing import index_rows
from trustpipe_stream.batch import Rejected, StreamRecord


@dataclass
class StreamIndexer:
    """A StreamWorker for the scored stream's ``indexer`` group."""

    decoder: FramedDecoder
    client: OpenSearch
    keep_aside: Callable[[str, Sequence[Rejected]], None]
    refresh: bool = False
    counts: dict[str, int] = field(
        default_factory=lambda: {"indexed": 0, "superseded": 0, "set_aside": 0, "throttled": 0}
    )

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        decoded: list[tuple[StreamRecord, dict[str, Any]]] = []
        rejected: list[Rejected] = []
        for r in records:
            try:
                decoded.append((r, self.decoder.decode(r.data)))
            except CodecError as err:
                rejected.append(Rejected(r, f"{type(err).__name__}: {err}"))
        if decoded:
            outcome = index_rows(self.client, [row for _, row in decoded], refresh=self.refresh)
            rejected += [Rejected(decoded[x.position][0], x.reason) for x in outcome.refused]
            self.counts["indexed"] += outcome.written
            self.counts["superseded"] += outcome.superseded
            self.counts["throttled"] += outcome.throttled
        return rejected

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        self.keep_aside(shard_id, rejected)
        self.counts["set_aside"] += len(rejected)
