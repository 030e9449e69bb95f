"""Scored rows into the search store with the client's streaming bulk helper, each document's
outcome read on its own (powertools' and opensearch-py's shape: a refused document is reported,
never raised):

- indexed: written, or already there in this or a newer version (a 409 of external versioning:
  a redelivery, a reindex, or the older model's verdict arriving second);
- refused: the document itself is wrong for the index (a 400: a mapping it breaks, an id or a
  field the cluster will not take): set aside with the cluster's reason, the rest proceeds;
- throttled: 429 or a 5xx for that document: sent again after ``BACKOFF`` (``trustpipe.retry``),
  up to ``THROTTLE_ATTEMPTS`` times, then ``SearchThrottledError`` (transient: the caller's batch
  or message is retried whole, which the versions make harmless).

A whole request that fails (the cluster unreachable, a 429 or 5xx for the request) raises the
client's error, which ``trustpipe.transient`` counts as transient.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import OpenSearch, helpers

from trustpipe.retry import Backoff
from trustpipe_search import documents
from trustpipe_search.errors import SearchThrottledError

log = logging.getLogger("trustpipe.indexer")

BULK_CHUNK_DOCS = 500
MAX_BULK_BYTES = 10 * 1024 * 1024
"""Amazon OpenSearch Service's smallest HTTP payload limit (10 MiB, the t3/small instance types)."""
THROTTLE_ATTEMPTS = 6
BACKOFF = Backoff(0.5, 30.0)
REASON_MAX_CHARS = 2000
CONFLICT = 409
THROTTLED = 429


@dataclass(frozen=True)
class Refused:
    """A row that is not in the index, and the cluster's (or the mapping's) reason."""

    position: int
    """Its place in the rows given, from 0."""
    row: Mapping[str, Any]
    reason: str


@dataclass
class Outcome:
    written: int = 0
    """Documents new to the index or newer than what it held."""
    superseded: int = 0
    """Documents the index already held in this or a newer version (left as they were)."""
    refused: list[Refused] = field(default_factory=list)
    throttled: int = 0
    """Documents sent again after a 429 or 5xx (each retry counted)."""

    @property
    def indexed(self) -> int:
        return self.written + self.superseded

    def add(self, other: Outcome, offset: int = 0) -> None:
        self.written += other.written
        self.superseded += other.superseded
        self.throttled += other.throttled
        self.refused += [Refused(r.position + offset, r.row, r.reason) for r in other.refused]


def _reason(info: Mapping[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, Mapping):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    else:
        text = f"status {info.get('status')}: {error}"
    return text[:REASON_MAX_CHARS].encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")


def index_rows(
    client: OpenSearch,
    rows: Sequence[Mapping[str, Any]],
    refresh: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> Outcome:
    """Index ``rows`` (scored messages as decoded); what became of each."""
    outcome = Outcome()
    pending: list[tuple[int, dict[str, Any]]] = []
    for n, row in enumerate(rows):
        try:
            pending.append((n, documents.action(row)))
        except documents.UnindexableError as err:
            outcome.refused.append(Refused(n, row, f"UnindexableError: {err}"[:REASON_MAX_CHARS]))
    for attempt in range(THROTTLE_ATTEMPTS):
        if not pending:
            break
        if attempt:
            delay = BACKOFF.delay(attempt - 1, jitter)
            log.warning("%d documents throttled; again in %.1fs", len(pending), delay)
            sleep(delay)
        pending = _send(client, rows, pending, outcome, refresh)
    if pending:
        raise SearchThrottledError(
            f"{len(pending)} documents still throttled after {THROTTLE_ATTEMPTS} attempts"
        )
    return outcome


def _send(
    client: OpenSearch,
    rows: Sequence[Mapping[str, Any]],
    pending: list[tuple[int, dict[str, Any]]],
    outcome: Outcome,
    refresh: bool,
) -> list[tuple[int, dict[str, Any]]]:
    """One pass of ``pending`` through the bulk helper; those to send again."""
    again: list[tuple[int, dict[str, Any]]] = []
    results = helpers.streaming_bulk(
        client,
        (a for _, a in pending),
        chunk_size=BULK_CHUNK_DOCS,
        max_chunk_bytes=MAX_BULK_BYTES,
        raise_on_error=False,
        max_retries=0,
        refresh=refresh,
    )
    for (n, act), (ok, item) in zip(pending, results, strict=True):
        info = next(iter(item.values()))
        status = int(info.get("status", 0) or 0)
        if ok:
            outcome.written += 1
        elif status == CONFLICT:
            outcome.superseded += 1
        elif status == THROTTLED or status >= 500:
            outcome.throttled += 1
            again.append((n, act))
        else:
            outcome.refused.append(Refused(n, rows[n], _reason(info)))
    return again


def index_all(
    client: OpenSearch, chunks: Iterable[Sequence[Mapping[str, Any]]], refresh: bool = False
) -> Outcome:
    """Chunks of rows indexed one after the other (memory holds one chunk); positions count
    across chunks."""
    total, seen = Outcome(), 0
    for rows in chunks:
        total.add(index_rows(client, rows, refresh=refresh), offset=seen)
        seen += len(rows)
    return total
