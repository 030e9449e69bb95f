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
from trustpipe_search.documents import KEYWORD_MAX, READ_ALIAS, doc_id

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
    mine = _mine(enterprise_id)
    _window(start, end)
    body = {
        "size": 0,
        "query": {"bool": {"filter": [mine, _within(start, end)]}},
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


# The review API's queries (issue 36): the same rule, the enterprise applied by each query.

MAX_TEXT_CHARS = 200
"""Free text searched for: a few words, cut beyond this (never sent whole)."""
MAX_REASON_CHARS = 64
"""A reason is one of the model's feature names (``trustpipe.model``): short identifiers."""
MAX_MESSAGE_ID_CHARS = 4096
"""A message id asked for by a reviewer: longer ids are hashed by ``documents.doc_id`` anyway."""
VERDICTS = frozenset({"QUARANTINE", "LABEL", "PASS_THROUGH"})
DECISIONS = frozenset({"release", "confirm_malicious", "mark_safe"})
HISTOGRAM_WIDTH = 0.05
"""The score histogram's bins, as the stats' (``contracts.SCORE_HISTOGRAM_BINS`` over [0, 1])."""
MAX_DOMAINS = 100


@dataclass(frozen=True)
class Filters:
    """What a reviewer narrows their enterprise's mail by; every part optional."""

    verdict: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sender: str | None = None
    reason: str | None = None
    text: str | None = None
    decision: str | None = None


@dataclass(frozen=True)
class Hit:
    """One message's document and where it lives (its daily index and id), for an update."""

    index: str
    id: str
    source: dict[str, Any]


@dataclass(frozen=True)
class MessagesPage:
    hits: list[dict[str, Any]]
    after: list[Any] | None
    """The last hit's sort values: pass them back as ``after`` for the next page (None: no more)."""


def _narrowed(filters: Filters) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The filter clauses and the must clauses that ``filters`` add to the enterprise's own."""
    clauses: list[dict[str, Any]] = []
    must: list[dict[str, Any]] = []
    if filters.verdict is not None:
        if filters.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(sorted(VERDICTS))}")
        clauses.append({"term": {"verdict": filters.verdict}})
    if filters.decision is not None:
        if filters.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(sorted(DECISIONS))}")
        clauses.append({"term": {"decision": filters.decision}})
    if filters.since is not None or filters.until is not None:
        window: dict[str, int] = {}
        if filters.since is not None:
            window["gte"] = int(filters.since.timestamp() * 1000)
        if filters.until is not None:
            window["lt"] = int(filters.until.timestamp() * 1000)
        clauses.append({"range": {"received_at": window}})
    if filters.reason is not None:
        clauses.append({"term": {"reasons": filters.reason[:MAX_REASON_CHARS]}})
    if filters.sender is not None:
        text = filters.sender[:MAX_SENDER_CHARS]
        must.append(
            {
                "bool": {
                    "should": [
                        {"term": {"from_address": text}},
                        {"term": {"from_domain": text.lower()}},
                        {"match": {"from_address.text": text}},
                        {"match": {"from_display_name": text}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    if filters.text is not None:
        text = filters.text[:MAX_TEXT_CHARS]
        must.append(
            {
                "bool": {
                    "should": [
                        {"match": {"from_address.text": text}},
                        {"match": {"from_display_name": text}},
                        {"match": {"reply_to.text": text}},
                        {"term": {"message_id": text}},
                        {"term": {"reasons": text[:MAX_REASON_CHARS]}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    return clauses, must


def check_cursor(after: Any) -> list[Any] | None:
    """A page cursor as the previous page gave it: [received_at millis, message id]."""
    if after is None:
        return None
    if not (
        isinstance(after, list)
        and len(after) == 2
        and isinstance(after[0], int)
        and not isinstance(after[0], bool)
        and isinstance(after[1], str)
        and len(after[1]) <= MAX_MESSAGE_ID_CHARS
    ):
        raise ValueError("the cursor is not one this API gave")
    return after


def messages(
    client: OpenSearch, enterprise_id: str, filters: Filters, size: int = 50, after: list[Any] | None = None
) -> MessagesPage:
    """The enterprise's mail narrowed by ``filters``, newest first, a page at a time: ``after``
    is the previous page's ``after`` (``search_after``: deep pages cost as little as the first)."""
    mine = _mine(enterprise_id)
    clauses, must = _narrowed(filters)
    body: dict[str, Any] = {
        "size": _size(size),
        "query": {"bool": {"filter": [mine, *clauses], "must": must}},
        "sort": [{"received_at": "desc"}, {"message_id": "desc"}],
    }
    cursor = check_cursor(after)
    if cursor is not None:
        body["search_after"] = cursor
    answer = client.search(index=READ_ALIAS, body=body)
    raw = answer["hits"]["hits"]
    last = raw[-1].get("sort") if len(raw) == size and raw else None
    return MessagesPage([h["_source"] for h in raw], list(last) if last else None)


def message(client: OpenSearch, enterprise_id: str, message_id: str) -> Hit | None:
    """The enterprise's one message of that id, or None: another enterprise's message of the same
    id is never found (its document id starts with its own enterprise, and the filter holds)."""
    mine = _mine(enterprise_id)
    if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS:
        return None
    body = {
        "size": 1,
        "query": {"bool": {"filter": [mine, {"ids": {"values": [doc_id(enterprise_id, message_id)]}}]}},
    }
    hits = client.search(index=READ_ALIAS, body=body)["hits"]["hits"]
    if not hits or hits[0]["_source"].get("enterprise_id") != enterprise_id:
        return None
    return Hit(hits[0]["_index"], hits[0]["_id"], hits[0]["_source"])


def _window(start: datetime, end: datetime) -> None:
    if not timedelta(0) < end - start <= timedelta(hours=MAX_HOURS):
        raise ValueError(f"the range must be 1 to {MAX_HOURS} hours")


def score_histogram(client: OpenSearch, enterprise_id: str, start: datetime, end: datetime) -> list[int]:
    """The enterprise's messages of ``[start, end)`` per trust-score bin (20 of width 0.05, a
    score of 1.0 in the last), as the stats count them."""
    mine = _mine(enterprise_id)
    _window(start, end)
    body = {
        "size": 0,
        "query": {"bool": {"filter": [mine, _within(start, end)]}},
        "aggs": {
            "scores": {"histogram": {"field": "score", "interval": HISTOGRAM_WIDTH, "min_doc_count": 1}}
        },
    }
    answer = client.search(index=READ_ALIAS, body=body)
    bins = [0] * round(1 / HISTOGRAM_WIDTH)
    for bucket in answer["aggregations"]["scores"]["buckets"]:
        slot = min(max(round(float(bucket["key"]) / HISTOGRAM_WIDTH), 0), len(bins) - 1)
        bins[slot] += int(bucket["doc_count"])
    return bins


def top_sender_domains(
    client: OpenSearch, enterprise_id: str, start: datetime, end: datetime, size: int = 10
) -> list[tuple[str, int]]:
    """The enterprise's most frequent sender domains of ``[start, end)``, with their counts."""
    mine = _mine(enterprise_id)
    _window(start, end)
    if not 1 <= size <= MAX_DOMAINS:
        raise ValueError(f"size must be 1..{MAX_DOMAINS}")
    body = {
        "size": 0,
        "query": {"bool": {"filter": [mine, _within(start, end)]}},
        "aggs": {"domains": {"terms": {"field": "from_domain", "size": size}}},
    }
    answer = client.search(index=READ_ALIAS, body=body)
    return [(b["key"], int(b["doc_count"])) for b in answer["aggregations"]["domains"]["buckets"]]


def record_decision(
    client: OpenSearch, enterprise_id: str, hit: Hit, decision: str, decided_at: datetime, reviewer: str
) -> None:
    """Write a reviewer's decision on the enterprise's message into its document (the model's
    verdict stays as it was: the decision is beside it)."""
    check_enterprise_id(enterprise_id)
    if hit.source.get("enterprise_id") != enterprise_id:
        raise ValueError("the document is not the enterprise's")
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(sorted(DECISIONS))}")
    client.update(
        index=hit.index,
        id=hit.id,
        body={
            "doc": {
                "decision": decision,
                "decided_at": int(decided_at.timestamp() * 1000),
                "decided_by": reviewer[:KEYWORD_MAX],
            }
        },
        params={"refresh": "true"},
    )
