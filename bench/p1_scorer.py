"""P1: the stream scorer's hot path on one core (decode any sensor version -> v4, features, score,
encode a framed ScoredMessage) against bare fastavro decode + encode of the same records."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import fastavro
from fastavro.schema import parse_schema

from bench import p1a_codec
from bench.harness import NOTHING, Result, Shared, rates
from bench.p1a_codec import Size, sample
from trustpipe import contracts, tenants
from trustpipe.codec import FramedDecoder, FramedEncoder, InMemorySchemas
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_scorer.model_source import CurrentModel
from trustpipe_scorer.worker import ScorerWorker, sensor_version_of
from trustpipe_sensors.handmade_model import artifact
from trustpipe_stream.processor import StreamRecord

BATCH = 500  # records per process() call: a KCL batch of a busy shard
SCORED_ID = 10
NEEDS: tuple[str, ...] = ()
FULL, SMOKE = p1a_codec.FULL, p1a_codec.SMOKE
"""P1a's sizes: the same records, timed the same way."""


@dataclass
class Workload:
    """P1's records as the raw stream carries them, the scorer's worker over them, and the bare
    decode + encode of the same records (the baseline)."""

    records: list[dict]
    """As the scorer reads them (v4)."""
    stream: list[StreamRecord]
    worker: Callable[[FreshCounters | None], ScorerWorker]
    """A scorer worker, with the counters given or none."""
    bare: Callable[[], int]


def workload(size: Size) -> Workload:
    by_version = sample(size.scale)
    schemas = {v: contracts.email_metadata(v) for v in by_version}
    framed = [FramedEncoder(v, schemas[v]).encode(r) for v, rs in by_version.items() for r in rs]
    # Keyed as the front door stamps them: the record's enterprise and its message id.
    flat = [r for rs in by_version.values() for r in rs]
    keys = [tenants.partition_key(r["enterprise_id"], r["message_id"]) for r in flat]
    stream = [
        StreamRecord(d, k, str(n), 0, 0, "shardId-000000000000")
        for n, (d, k) in enumerate(zip(framed, keys, strict=True))
    ]
    scored_schema = contracts.load(contracts.SCORED_MESSAGE)
    lookup = InMemorySchemas({**schemas, SCORED_ID: scored_schema})
    model = artifact()
    reader = FramedDecoder(lookup, contracts.reader_schema())
    records = [reader.decode(d) for d in framed]

    def worker(fresh: FreshCounters | None) -> ScorerWorker:
        return ScorerWorker(
            decoder=FramedDecoder(lookup, contracts.reader_schema()),
            writer_version=sensor_version_of(lookup),
            model=CurrentModel(lambda: model.version, lambda _v: model),
            encoder=FramedEncoder(SCORED_ID, scored_schema),
            put=lambda _out: None,
            keep_aside=lambda _shard, _rejected: None,
            enterprises=frozenset(tenants.enterprise_of_key(k) for k in keys),
            fresh=fresh,
        )

    parsed_reader, parsed_scored = parse_schema(contracts.reader_schema()), parse_schema(scored_schema)
    parsed = {v: parse_schema(s) for v, s in schemas.items()}
    now = datetime.now(UTC)

    def bare() -> int:
        # the codec's floor: resolve each record to v4 and write a ScoredMessage of its fields
        for data in framed:
            m = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed[data[4]], parsed_reader)
            buf = io.BytesIO()
            buf.write(data[:5])
            fastavro.schemaless_writer(
                buf,
                parsed_scored,
                {
                    **m,  # type: ignore[dict-item]
                    "scored_at": now,
                    "from_domain": "",
                    "score": 0.5,
                    "verdict": "PASS_THROUGH",
                    "reasons": [],
                    "model_version": "bare",
                    "source": "STREAM",
                    "source_ref": "s",
                    "sensor_schema_version": data[4],
                },
            )
        return len(framed)

    return Workload(records, stream, worker, bare)


def score_all(worker: ScorerWorker, stream: list[StreamRecord]) -> int:
    """Every record of ``stream`` through ``worker``, in batches of ``BATCH``."""
    for start in range(0, len(stream), BATCH):
        worker.process(stream[start : start + BATCH])
    return len(stream)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    w = workload(size)
    worker = w.worker(None)

    def ours() -> int:
        return score_all(worker, w.stream)

    measured = rates({"bare": w.bare, "ours": ours}, size.repeats, size.min_seconds)
    return [
        Result(
            "P1",
            "scorer hot path per core (decode v1-v3 to v4, features, score, encode) vs fastavro",
            measured["ours"],
            measured["bare"],
            ">= 0.5",
            "records/s",
            {"records": len(w.stream), "batch": BATCH},
        )
    ]
