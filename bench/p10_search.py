"""P10: the search store (slide 70). Two figures in one run, on one engine:

- **indexing**: documents/s of the indexer's bulk (``trustpipe_search.indexing.index_rows``:
  ids, external versions, daily indices, the streaming bulk helper, each document's answer read)
  against a bare ``opensearchpy.helpers.bulk`` of the same documents (same ids and fields, no
  versions) into an index of the same mappings, alternating, best of ``repeats``: goal >= 0.8.
- **queries**: the web app's three main queries (``trustpipe_search.queries``: an enterprise's
  quarantined mail of a day newest first, a sender search, per-hour counts by verdict over a
  day) on a store of ``stored_docs`` documents over ``days`` daily indices, p95 of ``queries``
  runs each against the engine's floor (a bare ``count`` of the alias, same client).

The engine is a real cluster when ``TRUSTPIPE_OPENSEARCH_URL`` names one (as the contract suite's
is), else the local stack's OpenSearch emulator (osmem-server) or, given the test suite's stack,
that stack's; the documents go to days of 1990 (no other run's), deleted at the end. The emulator
is not OpenSearch's engine, and it holds every document in memory (about 24 KB each here: 6.9 GB
at 287,500), so on it the store is filled to ``EMULATOR_STORED_DOCS`` at most: the queries'
figures at 1,000,000 documents come only from a real cluster.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch, helpers

from bench.harness import NOTHING, Result, Shared
from trustpipe_search import documents, engine, queries
from trustpipe_search.indexing import index_rows
from trustpipe_stack.servers import SearchServer

NEEDS: tuple[str, ...] = ("stack",)
ENTERPRISES = ("acme", "globex", "initech")
FIRST_DAY = datetime(1990, 1, 1, tzinfo=UTC)
LOAD_CHUNK = 5_000
REAL_CLUSTER = "TRUSTPIPE_OPENSEARCH_URL"
EMULATOR_STORED_DOCS = 250_000
"""What the emulator is filled to at most: about 6 GB of its memory on a 24-GiB machine."""


@dataclass(frozen=True)
class Size:
    batch_docs: int
    """Documents of one measured bulk (indexer and bare alike)."""
    repeats: int
    stored_docs: int
    """Documents the store holds when the queries are timed."""
    days: int
    queries: int
    """Runs of each query."""


FULL = Size(batch_docs=20_000, repeats=5, stored_docs=1_000_000, days=30, queries=200)
SMOKE = Size(batch_docs=500, repeats=2, stored_docs=3_000, days=3, queries=10)


def rows(n: int, tag: str, days: int) -> list[dict[str, Any]]:
    """``n`` scored messages over ``days`` days of 1990, the three enterprises in turn."""
    step = timedelta(days=days) / max(n, 1)
    return [
        {
            "message_id": f"<{tag}-{i}@bench.example>",
            "enterprise_id": ENTERPRISES[i % 3],
            "received_at": FIRST_DAY + step * i,
            "scored_at": FIRST_DAY + step * i + timedelta(seconds=2),
            "from_address": f"user{i % 5000}@partner{i % 97}.com",
            "from_display_name": f"User {i % 5000} of Partner {i % 97}",
            "from_domain": f"partner{i % 97}.com",
            "reply_to": None,
            "sending_ip": "198.51.100.7",
            "score": (i % 1000) / 1000,
            "verdict": "QUARANTINE" if i % 33 == 0 else "LABEL" if i % 11 == 0 else "PASS_THROUGH",
            "reasons": ["domain_reputation"] if i % 2 else [],
            "model_version": "bench",
            "model_promotion": 1,
            "source": "BATCH",
            "source_ref": "bench",
            "sensor_schema_version": 3,
        }
        for i in range(n)
    ]


@contextmanager
def _engine(shared: Shared, work: Path) -> Iterator[OpenSearch]:
    """A client of the real cluster named, of the shared stack's engine, or of an emulator of
    this run's own."""
    if url := os.environ.get(REAL_CLUSTER):
        yield OpenSearch(hosts=[url], timeout=120)
        return
    if shared.stack is not None:
        yield engine.connect(shared.stack.settings())
        return
    server = SearchServer(work / "search")
    server.start()
    try:
        yield OpenSearch(hosts=[server.url], timeout=120)
    finally:
        server.stop()


def _cleanup(client: OpenSearch, bare: str) -> None:
    client.indices.delete(index=f"{documents.INDEX_PREFIX}1990.*", params={"ignore_unavailable": "true"})
    client.indices.delete(index=bare, params={"ignore_unavailable": "true"})


def bare_actions(batch: list[dict[str, Any]], index: str) -> list[dict[str, Any]]:
    """The same documents as plain index actions (no versions) into one index."""
    return [
        {
            "_index": index,
            "_id": documents.doc_id(r["enterprise_id"], r["message_id"]),
            "_source": documents.source(r),
        }
        for r in batch
    ]


def measure_indexing(client: OpenSearch, size: Size, bare: str) -> dict[str, float]:
    """Best documents/s of the indexer and of the bare bulk, alternating, fresh documents each time."""
    client.indices.create(index=bare, body={"mappings": documents.MAPPINGS})
    best = {"indexer": 0.0, "bare": 0.0}
    for r in range(size.repeats):
        batch = rows(size.batch_docs, f"ix{r}", size.days)
        began = time.perf_counter()
        outcome = index_rows(client, batch)
        best["indexer"] = max(best["indexer"], outcome.written / (time.perf_counter() - began))
        plain = bare_actions(rows(size.batch_docs, f"bare{r}", size.days), bare)
        began = time.perf_counter()
        done, _ = helpers.bulk(client, plain, chunk_size=500, max_chunk_bytes=10 * 1024 * 1024)
        best["bare"] = max(best["bare"], done / (time.perf_counter() - began))
    return best


def stored_docs(size: Size) -> int:
    """What the store is filled to: the size's, on an emulator no more than it holds."""
    return size.stored_docs if os.environ.get(REAL_CLUSTER) else min(size.stored_docs, EMULATOR_STORED_DOCS)


def load(client: OpenSearch, size: Size) -> float:
    """Fill the store to ``stored_docs(size)`` through the indexer; seconds taken."""
    began = time.perf_counter()
    target = stored_docs(size)
    have = int(client.count(index=f"{documents.INDEX_PREFIX}1990.*")["count"])
    for start in range(have, target, LOAD_CHUNK):
        n = min(LOAD_CHUNK, target - start)
        index_rows(client, rows(n, f"load{start}", size.days))
    engine.refresh(client)
    return time.perf_counter() - began


def p95_ms(run: Callable[[], Any], times: int) -> float:
    taken = []
    for _ in range(times):
        began = time.perf_counter()
        run()
        taken.append((time.perf_counter() - began) * 1000)
    return statistics.quantiles(taken, n=20)[18] if len(taken) > 1 else taken[0]


def measure_queries(client: OpenSearch, size: Size) -> dict[str, float]:
    day = date(1990, 1, 2)
    start = datetime(1990, 1, 2, tzinfo=UTC)
    work: dict[str, Callable[[], Any]] = {
        "floor": lambda: client.count(index=documents.READ_ALIAS),
        "quarantined": lambda: queries.quarantined(client, "acme", day, size=50),
        "sender": lambda: queries.by_sender(client, "acme", "user42@partner42.com", size=50),
        "hourly": lambda: queries.hourly_verdicts(client, "acme", start, start + timedelta(days=1)),
    }
    for fn in work.values():  # warm: the first of each compiles what it needs
        fn()
    return {name: p95_ms(fn, size.queries) for name, fn in work.items()}


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    bare = f"bench-p10-bare-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-p10-") as tmp, _engine(shared, Path(tmp)) as client:
        engine.ensure_template(client, replicas=0)
        try:
            rates = measure_indexing(client, size, bare)
            load_seconds = load(client, size)
            stored = int(client.count(index=f"{documents.INDEX_PREFIX}1990.*")["count"])
            latency = measure_queries(client, size)
        finally:
            _cleanup(client, bare)
    results = [
        Result(
            "P10",
            f"indexer bulk (ids, external versions, daily indices, per-document answers; {size.batch_docs:,} "
            "documents) vs a bare helpers.bulk of the same documents into the same engine",
            rates["indexer"],
            rates["bare"],
            ">= 0.8",
            "docs/s",
            {"batches_each": size.repeats},
        )
    ]
    for name, what in (
        ("quarantined", "an enterprise's quarantined mail of a day, newest first"),
        ("sender", "a sender search"),
        ("hourly", "per-hour counts by verdict over a day"),
    ):
        results.append(
            Result(
                f"P10-{name}",
                f"p95 of {what} at {stored:,} documents over {size.days} daily indices vs a bare count",
                latency[name],
                latency["floor"],
                "p95 <= 200 ms",
                "ms",
                {
                    "stored_docs": stored,
                    "load_seconds": round(load_seconds, 1),
                    "runs": size.queries,
                    "engine": "cluster" if os.environ.get(REAL_CLUSTER) else "emulator",
                },
            )
        )
    return results
