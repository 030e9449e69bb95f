"""The contract between trustpipe and its search engine, restricted to the APIs the indexer and
the web app's queries use: bulk (external versions, per-item answers), get, search with
bool/match/term/range and sort, terms/date_histogram/histogram/cardinality aggregations, update,
index templates, aliases, index deletion. It runs against the local stack's emulator
(osmem-server) and, with TRUSTPIPE_OPENSEARCH_URL set, against a real cluster: what passes on
both is what the emulator may be trusted for. Each test works in indices of its own prefix.

What the emulator cannot do, and how it is checked instead: docs/search.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from tests.harness.search import REAL_CLUSTER, engine, search_url
from trustpipe_search import documents

__all__ = ["search_url"]
pytestmark = pytest.mark.integration

DAY1, DAY2 = 1_767_225_600_000, 1_767_312_000_000  # 2026-01-01 and 2026-01-02, 00:00 UTC
HOUR = 3_600_000


@pytest.fixture
def es(search_url: str) -> Iterator[tuple[OpenSearch, str]]:
    """A client and a prefix of the test's own, with trustpipe's mappings under its template;
    its indices and template deleted afterwards."""
    client = engine(search_url)
    prefix = f"contract-{uuid.uuid4().hex[:10]}-"
    body = documents.template(replicas=0)
    body["index_patterns"] = [f"{prefix}*"]
    body["template"]["aliases"] = {f"{prefix}read": {}}
    client.indices.put_index_template(name=prefix.rstrip("-"), body=body)
    try:
        yield client, prefix
    finally:
        client.indices.delete(index=f"{prefix}*", params={"ignore_unavailable": "true"})
        client.indices.delete_index_template(name=prefix.rstrip("-"))


def doc(enterprise: str, message: str, at: int, **fields: Any) -> dict[str, Any]:
    base = {
        "enterprise_id": enterprise,
        "message_id": message,
        "received_at": at,
        "scored_at": at + 1000,
        "from_address": f"{message}@partner.com",
        "from_display_name": "Jane Doe",
        "from_domain": "partner.com",
        "reply_to": None,
        "sending_ip": "198.51.100.7",
        "score": 0.5,
        "verdict": "PASS_THROUGH",
        "reasons": [],
        "model_version": "20260101T000000-a",
        "model_promotion": 1,
        "source": "BATCH",
        "source_ref": "2026-01-01T00",
        "sensor_schema_version": 3,
    }
    return {**base, **fields}


def put(
    client: OpenSearch, index: str, docs: list[dict[str, Any]], version: int = 1
) -> list[tuple[bool, dict[str, Any]]]:
    actions = [
        {
            "_index": index,
            "_id": documents.doc_id(d["enterprise_id"], d["message_id"]),
            "version": version,
            "version_type": "external",
            "_source": d,
        }
        for d in docs
    ]
    return [
        (ok, next(iter(item.values())))
        for ok, item in helpers.streaming_bulk(client, actions, raise_on_error=False, refresh=True)
    ]


def search(client: OpenSearch, index: str, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = client.search(index=index, body=body)
    return answer


def test_bulk_answers_each_document_and_external_versions_let_only_newer_ones_in(
    es: tuple[OpenSearch, str],
) -> None:
    client, prefix = es
    index = f"{prefix}2026.01.01"
    # GIVEN a document at version 10
    assert put(client, index, [doc("acme", "m1", DAY1, verdict="LABEL")], version=10)[0][0]
    # WHEN an older, an equal and a newer version come, and a document the strict mapping refuses
    older = put(client, index, [doc("acme", "m1", DAY1, verdict="PASS_THROUGH")], version=9)
    equal = put(client, index, [doc("acme", "m1", DAY1, verdict="PASS_THROUGH")], version=10)
    mixed = put(client, index, [doc("acme", "m2", DAY1), {**doc("acme", "m3", DAY1), "unmapped": 1}], 1)
    # THEN older and equal are 409s, the refused one a 400 with its reason, and its neighbour is in
    assert [(ok, info["status"]) for ok, info in older + equal] == [(False, 409), (False, 409)]
    assert [ok for ok, _ in mixed] == [True, False]
    assert mixed[1][1]["status"] == 400 and "strict" in mixed[1][1]["error"]["type"]
    got = client.get(index=index, id=documents.doc_id("acme", "m1"))
    assert (got["_version"], got["_source"]["verdict"]) == (10, "LABEL")
    newer = put(client, index, [doc("acme", "m1", DAY1, verdict="QUARANTINE")], version=11)
    assert newer[0][0]
    assert client.get(index=index, id=documents.doc_id("acme", "m1"))["_source"]["verdict"] == "QUARANTINE"


def test_ids_with_slashes_and_hashed_ids_are_got_back_as_given(es: tuple[OpenSearch, str]) -> None:
    client, prefix = es
    index = f"{prefix}2026.01.01"
    hostile = ["<a/b@x>", "a\x00b", "x" * 600, "sp ace+plus%41"]
    assert all(ok for ok, _ in put(client, index, [doc("acme", m, DAY1) for m in hostile]))
    for m in hostile:
        got = client.get(index=index, id=documents.doc_id("acme", m))
        assert got["_source"]["message_id"] == m
    with pytest.raises(NotFoundError):
        client.get(index=index, id=documents.doc_id("globex", hostile[0]))


def test_search_filters_by_term_and_range_matches_words_and_sorts(es: tuple[OpenSearch, str]) -> None:
    client, prefix = es
    put(
        client,
        f"{prefix}2026.01.01",
        [
            doc("acme", "q1", DAY1 + HOUR, verdict="QUARANTINE"),
            doc("acme", "q2", DAY1 + 3 * HOUR, verdict="QUARANTINE", from_display_name="Bob Stone"),
            doc("acme", "p1", DAY1 + 2 * HOUR),
            doc("globex", "q3", DAY1 + 2 * HOUR, verdict="QUARANTINE"),
        ],
    )
    quarantined = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"enterprise_id": "acme"}},
                    {"term": {"verdict": "QUARANTINE"}},
                    {"range": {"received_at": {"gte": DAY1, "lt": DAY2}}},
                ]
            }
        },
        "sort": [{"received_at": "desc"}],
    }
    hits = search(client, f"{prefix}read", quarantined)["hits"]
    assert [h["_source"]["message_id"] for h in hits["hits"]] == ["q2", "q1"]
    assert hits["total"]["value"] == 2
    words = {
        "query": {
            "bool": {
                "filter": [{"term": {"enterprise_id": "acme"}}],
                "must": [{"match": {"from_display_name": "stone"}}],
            }
        }
    }
    assert [h["_source"]["message_id"] for h in search(client, f"{prefix}read", words)["hits"]["hits"]] == [
        "q2"
    ]
    address = {"query": {"match": {"from_address.text": "p1"}}}
    assert [h["_source"]["message_id"] for h in search(client, f"{prefix}read", address)["hits"]["hits"]] == [
        "p1"
    ]


def test_terms_date_histogram_histogram_and_cardinality_aggregate(es: tuple[OpenSearch, str]) -> None:
    client, prefix = es
    put(
        client,
        f"{prefix}2026.01.01",
        [
            doc("acme", "a", DAY1, verdict="QUARANTINE", score=0.91, reasons=["spf_fail", "new_domain"]),
            doc("acme", "b", DAY1 + 10, verdict="PASS_THROUGH", score=0.12, reasons=["spf_fail"]),
            doc("acme", "c", DAY1 + HOUR, verdict="PASS_THROUGH", score=0.15, from_domain="other.org"),
        ],
    )
    body = {
        "size": 0,
        "query": {"term": {"enterprise_id": "acme"}},
        "aggs": {
            "hours": {
                "date_histogram": {"field": "received_at", "fixed_interval": "1h", "min_doc_count": 1},
                "aggs": {"verdicts": {"terms": {"field": "verdict"}}},
            },
            "reasons": {"terms": {"field": "reasons"}},
            "scores": {"histogram": {"field": "score", "interval": 0.1, "min_doc_count": 1}},
            "domains": {"cardinality": {"field": "from_domain"}},
        },
    }
    aggs = search(client, f"{prefix}read", body)["aggregations"]
    hours = [
        (b["key"], {v["key"]: v["doc_count"] for v in b["verdicts"]["buckets"]})
        for b in aggs["hours"]["buckets"]
    ]
    assert hours == [(DAY1, {"QUARANTINE": 1, "PASS_THROUGH": 1}), (DAY1 + HOUR, {"PASS_THROUGH": 1})]
    assert {b["key"]: b["doc_count"] for b in aggs["reasons"]["buckets"]} == {"spf_fail": 2, "new_domain": 1}
    assert [(round(b["key"], 1), b["doc_count"]) for b in aggs["scores"]["buckets"]] == [(0.1, 2), (0.9, 1)]
    assert aggs["domains"]["value"] == 2


def test_update_changes_fields_in_place(es: tuple[OpenSearch, str]) -> None:
    client, prefix = es
    index = f"{prefix}2026.01.01"
    put(client, index, [doc("acme", "u", DAY1)])
    _id = documents.doc_id("acme", "u")
    client.update(index=index, id=_id, body={"doc": {"verdict": "LABEL"}}, params={"refresh": "true"})
    assert client.get(index=index, id=_id)["_source"]["verdict"] == "LABEL"


def test_daily_indices_from_the_template_join_the_read_alias_and_deleting_one_removes_its_day(
    es: tuple[OpenSearch, str],
) -> None:
    client, prefix = es
    put(client, f"{prefix}2026.01.01", [doc("acme", "d1", DAY1)])
    put(client, f"{prefix}2026.01.02", [doc("acme", "d2", DAY2)])
    # THEN both days were made from the template: its strict mapping and the read alias
    mapping = client.indices.get_mapping(index=f"{prefix}2026.01.02")[f"{prefix}2026.01.02"]["mappings"]
    assert mapping["dynamic"] == "strict" and mapping["properties"]["verdict"]["type"] == "keyword"
    assert set(client.indices.get_alias(name=f"{prefix}read")) == {
        f"{prefix}2026.01.01",
        f"{prefix}2026.01.02",
    }
    assert client.count(index=f"{prefix}read")["count"] == 2
    assert client.indices.get_index_template(name=prefix.rstrip("-"))["index_templates"]
    # WHEN the older day is deleted (retention) THEN its documents are gone from the alias
    client.indices.delete(index=f"{prefix}2026.01.01")
    assert client.count(index=f"{prefix}read")["count"] == 1


@pytest.mark.skipif(
    bool(__import__("os").environ.get(REAL_CLUSTER)), reason="the emulator's gap, not a cluster's"
)
def test_the_emulator_has_no_ism_which_is_why_retention_is_checked_apart(search_url: str) -> None:
    # GIVEN the emulator; THEN ISM answers an error: the retention policy is Terraform's on AWS,
    # and whole-index deletion (engine.delete_older_than) is what the local checks exercise
    client = engine(search_url)
    with pytest.raises(TransportError) as refused:
        client.transport.perform_request("GET", "/_plugins/_ism/policies")
    assert refused.value.status_code in (400, 404, 405)


def test_an_index_from_before_the_review_fields_takes_them_and_a_decision_updates_in_place(
    search_url: str,
) -> None:
    client = engine(search_url)
    prefix = f"contract-{uuid.uuid4().hex[:10]}-"
    index = f"{prefix}2026.01.01"
    body = documents.template(replicas=0)
    body["index_patterns"] = [f"{prefix}*"]
    body["template"]["aliases"] = {f"{prefix}read": {}}
    older = {
        k: v
        for k, v in body["template"]["mappings"]["properties"].items()
        if k not in documents.REVIEW_MAPPINGS
    }
    body["template"]["mappings"] = {**body["template"]["mappings"], "properties": older}
    client.indices.put_index_template(name=prefix.rstrip("-"), body=body)
    try:
        put(client, index, [doc("acme", "r1", DAY1), doc("acme", "r2", DAY1 + HOUR)])
        _id = documents.doc_id("acme", "r1")
        decision = {"doc": {"decision": "release", "decided_at": DAY2, "decided_by": "ann"}}
        # GIVEN the strict mapping of before: a decision is refused
        with pytest.raises(RequestError):
            client.update(index=index, id=_id, body=decision)
        # WHEN the review fields are put on it THEN the decision is kept and found by its term
        client.indices.put_mapping(index=f"{prefix}*", body={"properties": documents.REVIEW_MAPPINGS})
        client.update(index=index, id=_id, body=decision, params={"refresh": "true"})
        found = search(client, f"{prefix}read", {"query": {"term": {"decision": "release"}}})
        assert [h["_id"] for h in found["hits"]["hits"]] == [_id]
        # and one document is got by its id through the alias, a page after the newest by search_after
        by_id = search(client, f"{prefix}read", {"query": {"bool": {"filter": [{"ids": {"values": [_id]}}]}}})
        assert [h["_index"] for h in by_id["hits"]["hits"]] == [index]
        newest_first = [{"received_at": "desc"}, {"message_id": "desc"}]
        first = search(client, f"{prefix}read", {"size": 1, "sort": newest_first})["hits"]["hits"]
        rest = search(
            client, f"{prefix}read", {"size": 1, "sort": newest_first, "search_after": first[0]["sort"]}
        )["hits"]["hits"]
        assert [first[0]["_source"]["message_id"], rest[0]["_source"]["message_id"]] == ["r2", "r1"]
    finally:
        client.indices.delete(index=f"{prefix}*", params={"ignore_unavailable": "true"})
        client.indices.delete_index_template(name=prefix.rstrip("-"))
