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
