"""SQS bodies the importer receives: S3 events in an SNS envelope, S3's test event, and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trustpipe.announcements import TEST_EVENT, MalformedEventError, ObjectCreated, parse


def s3_event(*keys: str, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventName": name,
                "s3": {
                    "bucket": {"name": "scored"},
                    "object": {"key": key, "eTag": '"abc123"', "size": 42},
                },
            }
            for key in keys
        ]
    }


def in_sns(message: dict[str, Any]) -> str:
    return json.dumps({"Type": "Notification", "Message": json.dumps(message)})


def test_an_sns_wrapped_s3_event_names_its_objects() -> None:
    # GIVEN an S3 event as SNS delivers it to SQS, with keys URL-encoded as S3 encodes them
    body = in_sns(s3_event("scored/date%3D2026-11-26/hour%3D13/messages/part-00000.avro", "a+b%2Fc.avro"))
    # WHEN it is parsed
    events = parse(body)
    # THEN each object is named with its decoded key, its ETag unquoted
    assert events == [
        ObjectCreated("scored", "scored/date=2026-11-26/hour=13/messages/part-00000.avro", "abc123", 42),
        ObjectCreated("scored", "a b/c.avro", "abc123", 42),
    ]


def test_a_raw_s3_event_without_the_envelope_is_read_too() -> None:
    assert [e.key for e in parse(json.dumps(s3_event("k.avro")))] == ["k.avro"]


def test_s3s_test_event_and_other_event_kinds_announce_nothing() -> None:
    assert parse(in_sns({"Event": TEST_EVENT, "Bucket": "scored"})) == []
    assert parse(in_sns(s3_event("gone.avro", name="ObjectRemoved:Delete"))) == []


def test_a_redelivered_body_parses_to_the_same_objects() -> None:
    body = in_sns(s3_event("k.avro"))
    assert parse(body) == parse(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not an SNS/S3 notification"),
        (in_sns(s3_event("k.avro"))[:-20], "not an SNS/S3 notification"),  # truncated
        (json.dumps({"Type": "Notification"}), "not an SNS/S3 notification"),  # no Message
        (json.dumps({"Type": "Notification", "Message": "[1, 2]"}), "not a JSON object"),
        (json.dumps([1, 2]), "not an SNS/S3 notification"),
        (in_sns({"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}), "S3 event without bucket/key"),
        (in_sns({"Records": "everything"}), "S3 event without bucket/key"),
        (in_sns({"Unknown": "schema"}), "S3 event without bucket/key"),
    ],
)
def test_malformed_bodies_are_one_clear_error(body: str, reason: str) -> None:
    with pytest.raises(MalformedEventError, match=reason):
        parse(body)


def test_an_oversized_body_is_parsed_not_refused() -> None:
    # SQS caps a body at 256 KiB; one within the cap with many records is still one event each.
    body = in_sns(s3_event(*(f"k{n:05d}.avro" for n in range(2000))))
    assert len(body) > 128 * 1024
    assert len(parse(body)) == 2000
