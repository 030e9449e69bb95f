"""The web app's queries as sent: every one carries its enterprise's term filter, built by the
query itself; a caller's text only narrows it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from trustpipe.tenants import TenantError
from trustpipe.transient import is_transient
from trustpipe_search import queries
from trustpipe_search.reconcile import Drift

EMPTY = {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {"hours": {"buckets": []}}}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append({"index": index, "body": body})
        return EMPTY


def sent(call: Any) -> tuple[Recorder, dict[str, Any]]:
    fake = Recorder()
    call(fake)
    (only,) = fake.calls
    return fake, only


START = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: queries.quarantined(c, "globex", date(2026, 11, 20)), id="quarantined"),
        pytest.param(
            lambda c: queries.by_sender(c, "globex", '"}]}},"term":{"enterprise_id":"acme"'), id="sender"
        ),
        pytest.param(
            lambda c: queries.hourly_verdicts(c, "globex", START, START + timedelta(hours=3)), id="hourly"
        ),
    ],
)
def test_every_query_reads_the_alias_under_its_enterprises_filter(call: Any) -> None:
    _, only = sent(call)
    assert only["index"] == "trustpipe-messages"
    assert {"term": {"enterprise_id": "globex"}} in only["body"]["query"]["bool"]["filter"]
    # the caller's text never becomes a filter or a query of its own
    assert "acme" not in json.dumps(only["body"]["query"]["bool"]["filter"])


@pytest.mark.parametrize("forged", ["", "*", "acme\n", "acme OR globex", "ACME", "a" * 40])
def test_an_enterprise_that_is_no_enterprise_id_is_refused_before_any_request(forged: str) -> None:
    fake = Recorder()
    with pytest.raises(TenantError):
        queries.quarantined(fake, forged, date(2026, 11, 20))  # type: ignore[arg-type]
    assert fake.calls == []


def test_quarantined_is_one_utc_day_newest_first() -> None:
    _, only = sent(lambda c: queries.quarantined(c, "acme", date(2026, 11, 20)))
    body = only["body"]
    window = next(f["range"]["received_at"] for f in body["query"]["bool"]["filter"] if "range" in f)
    assert window == {
        "gte": int(START.timestamp() * 1000),
        "lt": int((START + timedelta(days=1)).timestamp() * 1000),
    }
    assert body["sort"][0] == {"received_at": "desc"}


def test_a_huge_sender_text_is_cut_and_sizes_and_ranges_are_bounded() -> None:
    _, only = sent(lambda c: queries.by_sender(c, "acme", "x" * 10_000))
    assert all(len(json.dumps(s)) < 500 for s in only["body"]["query"]["bool"]["should"])
    with pytest.raises(ValueError, match="size"):
        queries.by_sender(Recorder(), "acme", "x", size=10_000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hours"):
        queries.hourly_verdicts(Recorder(), "acme", START, START + timedelta(days=400))  # type: ignore[arg-type]


def test_drift_is_documents_minus_rows_per_enterprise_and_its_absolute_sum() -> None:
    found = Drift(START, {"acme": 10, "globex": 3}, {"acme": 10, "globex": 5, "initech": 1})
    assert found.by_enterprise == {"acme": 0, "globex": -2, "initech": -1}
    assert found.total == 3
    assert Drift(START, {"acme": 1}, {"acme": 1}).describe().endswith("no drift")


def test_the_search_stores_throttles_and_outages_are_transient_and_a_bad_request_is_not() -> None:
    from opensearchpy import exceptions

    assert is_transient(exceptions.ConnectionTimeout("TIMEOUT", "timed out", None))
    assert is_transient(exceptions.TransportError(429, "too_many_requests", {}))
    assert is_transient(exceptions.TransportError(502, "bad gateway", {}))
    assert not is_transient(exceptions.RequestError(400, "mapper_parsing_exception", {}))
    assert not is_transient(exceptions.NotFoundError(404, "index_not_found_exception", {}))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c: queries.messages(
                c,
                "globex",
                queries.Filters(sender="acme", text='"}},"term":{"enterprise_id":"acme"', reason="x"),
            ),
            id="messages",
        ),
        pytest.param(lambda c: queries.message(c, "globex", "acme/<m@x>"), id="message"),
        pytest.param(
            lambda c: queries.score_histogram(c, "globex", START, START + timedelta(hours=3)), id="histogram"
        ),
        pytest.param(
            lambda c: queries.top_sender_domains(c, "globex", START, START + timedelta(hours=3)), id="domains"
        ),
    ],
)
def test_every_review_query_reads_the_alias_under_its_enterprises_filter(call: Any) -> None:
    fake = ReviewRecorder()
    call(fake)
    (only,) = fake.calls
    assert only["index"] == "trustpipe-messages"
    assert only["body"]["query"]["bool"]["filter"][0] == {"term": {"enterprise_id": "globex"}}


class ReviewRecorder(Recorder):
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append({"index": index, "body": body})
        return {
            "hits": {"total": {"value": 0}, "hits": []},
            "aggregations": {"scores": {"buckets": []}, "domains": {"buckets": []}},
        }


def test_one_message_is_asked_by_its_enterprises_document_id() -> None:
    fake = ReviewRecorder()
    assert queries.message(fake, "globex", "<m@x>") is None  # type: ignore[arg-type]
    ids = fake.calls[0]["body"]["query"]["bool"]["filter"][1]
    assert ids == {"ids": {"values": ["globex/<m@x>"]}}


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param([1, "m"] * 2, id="long"),
        pytest.param(["1", "m"], id="time-not-int"),
        pytest.param([True, "m"], id="bool"),
        pytest.param({"a": 1}, id="object"),
        pytest.param([1, "m" * 5000], id="huge-id"),
    ],
)
def test_a_cursor_not_of_this_api_is_refused_before_any_request(cursor: Any) -> None:
    fake = ReviewRecorder()
    with pytest.raises(ValueError, match="cursor"):
        queries.messages(fake, "acme", queries.Filters(), after=cursor)  # type: ignore[arg-type]
    assert fake.calls == []


def test_a_decision_is_written_only_into_the_enterprises_own_document() -> None:
    hit = queries.Hit("trustpipe-messages-2026.11.20", "acme/m", {"enterprise_id": "acme"})
    with pytest.raises(ValueError, match="not the enterprise's"):
        queries.record_decision(None, "globex", hit, "release", START, "r")  # type: ignore[arg-type]
