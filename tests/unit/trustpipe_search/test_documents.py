"""A scored message as a search document: ids, versions, daily indices, the template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.scored import BASE, scored
from trustpipe_search import documents
from trustpipe_search.documents import UnindexableError, doc_id, index_name, version


def test_an_ordinary_id_reads_as_enterprise_slash_message_id() -> None:
    assert doc_id("acme", "<abc@x>") == "acme/<abc@x>"


@pytest.mark.parametrize(
    "message_id",
    [
        pytest.param("a\x00b", id="nul"),
        pytest.param("x" * 600, id="huge"),
        pytest.param("é" * 300, id="huge-in-bytes"),
        pytest.param("line\nbreak", id="control"),
        pytest.param("sha256:" + "0" * 64, id="looks-hashed"),
    ],
)
def test_a_hostile_message_id_gets_a_hashed_id_that_fits_and_never_collides(message_id: str) -> None:
    got = doc_id("acme", message_id)
    assert got.startswith("acme/sha256:")
    assert len(got.encode()) <= documents.MAX_ID_BYTES
    assert got != doc_id("acme", message_id + "x")
    # a message id that is the hashed form itself is hashed again, never taken for another's
    assert doc_id("acme", got.removeprefix("acme/")) != got


def test_the_promotion_outranks_the_time_and_the_time_orders_within_a_promotion() -> None:
    later = BASE + timedelta(days=300)
    assert version(2, BASE) > version(1, later)
    assert version(1, later) > version(1, BASE)
    assert version(0, BASE) > 0


@pytest.mark.parametrize(
    ("promotion", "at"),
    [
        pytest.param(-1, BASE, id="negative-promotion"),
        pytest.param(documents.MAX_PROMOTION + 1, BASE, id="promotion-overflow"),
        pytest.param(0, datetime(1969, 12, 31, tzinfo=UTC), id="before-1970"),
        pytest.param(0, datetime(2200, 1, 1, tzinfo=UTC), id="after-2109"),
    ],
)
def test_a_version_out_of_range_is_refused_with_one_reason(promotion: int, at: datetime) -> None:
    with pytest.raises(UnindexableError):
        version(promotion, at)


def test_the_daily_index_is_the_messages_own_utc_day() -> None:
    late_evening = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert index_name(late_evening) == "trustpipe-messages-2026.11.20"
    assert index_name(late_evening + timedelta(hours=1)) == "trustpipe-messages-2026.11.21"
    assert documents.index_day("trustpipe-messages-2026.11.21") == datetime(2026, 11, 21, tzinfo=UTC)
    assert documents.index_day("trustpipe-messages-nope") is None
    assert documents.index_day("other-2026.11.21") is None


def test_an_action_carries_id_version_index_and_every_mapped_field() -> None:
    row = scored(1, "m")[0]
    act = documents.action(row)
    assert act["_id"] == f"acme/{row['message_id']}"
    assert act["version_type"] == "external"
    assert act["version"] == version(0, row["scored_at"])
    assert act["_index"] == index_name(row["received_at"])
    # every mapped field but a reviewer's decision, which the review API adds to the document
    assert set(act["_source"]) == set(documents.MAPPINGS["properties"]) - set(documents.REVIEW_MAPPINGS)


def test_a_row_that_is_not_a_scored_message_is_unindexable() -> None:
    with pytest.raises(UnindexableError, match="not a scored message"):
        documents.action({"enterprise_id": "acme"})


def test_the_template_is_strict_and_types_ids_keywords_and_names_text() -> None:
    body = documents.template()
    mappings = body["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    props = mappings["properties"]
    for keyword in ("enterprise_id", "message_id", "from_domain", "verdict", "reasons"):
        assert props[keyword]["type"] == "keyword"
    assert props["from_display_name"]["type"] == "text"
    assert props["from_address"]["fields"]["text"]["type"] == "text"
    assert body["template"]["aliases"] == {documents.READ_ALIAS: {}}


def test_a_slash_in_a_message_id_cannot_name_another_enterprise() -> None:
    # enterprise ids hold no '/': the first one splits the id, whatever the message id holds
    assert doc_id("acme", "globex/1").partition("/")[0] == "acme"
