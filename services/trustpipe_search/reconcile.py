"""The index against the store: per enterprise and hour of the messages' own time, the documents
the index holds and the rows PostgreSQL holds. Their difference is ``SearchDrift`` (the hourly
DAG's ``reconcile_search`` puts it; its alarm pages on any drift that lasts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from trustpipe import metrics
from trustpipe.db.query import Database
from trustpipe_search import documents

STORE_COUNTS_SQL = (
    "SELECT enterprise_id, count(*) FROM scored_messages "
    "WHERE received_at >= %(start)s AND received_at < %(end)s GROUP BY enterprise_id"
)
MAX_ENTERPRISES = 10_000
"""Enterprises counted per hour in one aggregation (far more than a deployment serves)."""


@dataclass(frozen=True)
class Drift:
    hour: datetime
    index: dict[str, int]
    store: dict[str, int]

    @property
    def by_enterprise(self) -> dict[str, int]:
        """Documents minus rows, for each enterprise either side counts (0s included)."""
        return {e: self.index.get(e, 0) - self.store.get(e, 0) for e in sorted({*self.index, *self.store})}

    @property
    def total(self) -> int:
        """The absolute differences summed: 0 when every enterprise agrees."""
        return sum(abs(d) for d in self.by_enterprise.values())

    def describe(self) -> str:
        off = {e: d for e, d in self.by_enterprise.items() if d}
        docs, rows = sum(self.index.values()), sum(self.store.values())
        head = f"{self.hour:%Y-%m-%dT%H}: {docs:,} documents, {rows:,} rows"
        return head + (f"; drift {off}" if off else "; no drift")


def index_counts(client: OpenSearch, hour: datetime) -> dict[str, int]:
    """Documents per enterprise of messages received in ``hour``."""
    start, end = int(hour.timestamp() * 1000), int((hour + timedelta(hours=1)).timestamp() * 1000)
    body = {
        "size": 0,
        "query": {"range": {"received_at": {"gte": start, "lt": end}}},
        "aggs": {"enterprises": {"terms": {"field": "enterprise_id", "size": MAX_ENTERPRISES}}},
    }
    answer = client.search(
        index=documents.READ_ALIAS,
        body=body,
        params={"ignore_unavailable": "true", "allow_no_indices": "true"},
    )
    aggs = answer.get("aggregations") or {}
    return {b["key"]: int(b["doc_count"]) for b in aggs.get("enterprises", {}).get("buckets", [])}


def store_counts(db: Database, hour: datetime) -> dict[str, int]:
    """Rows per enterprise of messages received in ``hour``."""
    rows = db.get_records(STORE_COUNTS_SQL, {"start": hour, "end": hour + timedelta(hours=1)})
    return {str(e): int(n) for e, n in rows}


def drift(client: OpenSearch, db: Database, hour: datetime) -> Drift:
    """The hour's counts on both sides."""
    return Drift(hour, index_counts(client, hour), store_counts(db, hour))


def drift_datum(dag_id: str, found: Drift) -> dict[str, Any]:
    """``SearchDrift`` for the hour (PutMetricData)."""
    return metrics.datum(metrics.SEARCH_DRIFT, found.total, Dag=dag_id)
