"""The web app's queries (P10's three), each for one enterprise: the one its user authenticated
as, which the caller must pass and which every query applies itself as a term filter. No query
takes a filter, an index or a raw query body from its caller; what a caller gives (a day, a
sender's text, a range of hours) only narrows the enterprise's own documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from opensearchpy import OpenSearch

from trustpipe.tenants import check_enterprise_id
from trustpipe_search.documents import READ_ALIAS

MAX_PAGE = 500
MAX_SENDER_CHARS = 320
"""A sender's text is an address at most (RFC 5321's 320 characters): longer is cut, not sent."""
MAX_HOURS = 24 * 31
"""Per-hour counts cover at most a month of hours per call."""


@dataclass(frozen=True)
class Page:
    total: int
    hits: list[dict[str, Any]]
    """The documents' fields, in the query's order."""


def _mine(enterprise_id: str) -> dict[str, Any]:
    """The filter every query carries: the enterprise's own documents only."""
    return {"term": {"enterprise_id": check_enterprise_id(enterprise_id)}}


def _within(start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "range": {"received_at": {"gte": int(start.timestamp() * 1000), "lt": int(end.timestamp() * 1000)}}
    }


def _page(answer: dict[str, Any]) -> Page:
    hits = answer["hits"]
    total = hits["total"]["value"] if isinstance(hits["total"], dict) else int(hits["total"])
    return Page(total, [h["_source"] for h in hits["hits"]])


def _size(size: int) -> int:
    if not 1 <= size <= MAX_PAGE:
        raise ValueError(f"size must be 1..{MAX_PAGE}")
    return size


def quarantined(client: OpenSearch, enterprise_id: str, day: date, size: int = 50) -> Page:
    """The enterprise's quarantined mail received on ``day`` (UTC), newest first."""
    start = datetime.combine(day, time(), UTC)
    body = {
        "size": _size(size),
        "query": {
            "bool": {
                "filter": [
                    _mine(enterprise_id),
                    {"term": {"verdict": "QUARANTINE"}},
                    _within(start, start + timedelta(days=1)),
                ]
            }
        },
        "sort": [{"received_at": "desc"}, {"message_id": "asc"}],
    }
    return _page(client.search(index=READ_ALIAS, body=body))


def by_sender(client: OpenSearch, enterprise_id: str, sender: str, size: int = 50) -> Page:
    """The enterprise's mail whose sender matches ``sender``: the exact address or domain, or
    words of the address or display name; best matches first, then newest."""
    text = sender[:MAX_SENDER_CHARS]
    body = {
        "size": _size(size),
        "query": {
            "bool": {
                "filter": [_mine(enterprise_id)],
                "should": [
                    {"term": {"from_address": {"value": text, "boost": 4}}},
                    {"term": {"from_domain": {"value": text.lower(), "boost": 2}}},
                    {"match": {"from_address.text": text}},
                    {"match": {"from_display_name": text}},
                ],
                "minimum_should_match": 1,
            }
        },
        "sort": [{"_score": "desc"}, {"received_at": "desc"}],
    }
    return _page(client.search(index=READ_ALIAS, body=body))


def hourly_verdicts(
    client: OpenSearch, enterprise_id: str, start: datetime, end: datetime
) -> dict[datetime, dict[str, int]]:
    """The enterprise's messages per hour of ``[start, end)`` (UTC hours), by verdict."""
    if not timedelta(0) < end - start <= timedelta(hours=MAX_HOURS):
        raise ValueError(f"the range must be 1 to {MAX_HOURS} hours")
    body = {
        "size": 0,
        "query": {"bool": {"filter": [_mine(enterprise_id), _within(start, end)]}},
        "aggs": {
            "hours": {
                "date_histogram": {"field": "received_at", "fixed_interval": "1h", "min_doc_count": 1},
                "aggs": {"verdicts": {"terms": {"field": "verdict", "size": 10}}},
            }
        },
    }
    answer = client.search(index=READ_ALIAS, body=body)
    return {
        datetime.fromtimestamp(b["key"] / 1000, UTC): {
            v["key"]: int(v["doc_count"]) for v in b["verdicts"]["buckets"]
        }
        for b in answer["aggregations"]["hours"]["buckets"]
    }
