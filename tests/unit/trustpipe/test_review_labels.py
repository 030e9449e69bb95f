"""Review decisions as labels in the lake (in-process moto): one object per decision under the
reviewer's enterprise and the day decided, idempotent, hostile ids kept out of keys, and what the
build gathers (bad label objects left out with their reason)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trustpipe import contracts, layout, records
from trustpipe.codec import ContainerReader, container_bytes
from trustpipe.review_labels import ReviewLabelError, gather, label_key, write_label
from trustpipe.tenants import TenantError

BUCKET = "archive"
AT = datetime(2026, 11, 26, 13, 5, 1, 234567, tzinfo=UTC)
MID = "<m-1@partner.com>"
KEY_SHAPE = re.compile(
    r"review_labels/enterprise=[a-z0-9-]+/date=\d{4}-\d\d-\d\d/[0-9a-f]{64}/\d{8}T\d{6}\.\d{3}Z-[a-z_]+\.avro"
)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def stored(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def read(s3: Any, key: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    (label,) = ContainerReader(io.BytesIO(body), contracts.load(contracts.REVIEW_LABEL))
    return label


def test_a_decision_is_one_label_under_its_enterprise_and_the_day_it_was_made(s3: Any) -> None:
    # WHEN acme's reviewer confirms a message malicious
    key = write_label(s3, BUCKET, "acme", MID, "confirm_malicious", AT, "sec@acme-corp.com")
    # THEN one object, under acme and the day decided, named by the id's digest, time and decision
    assert stored(s3) == [key]
    assert key.startswith("review_labels/enterprise=acme/date=2026-11-26/")
    assert key.endswith("/20261126T130501.234Z-confirm_malicious.avro")
    assert KEY_SHAPE.fullmatch(key)
    assert layout.enterprise_of(key) == "acme"
    # AND the label holds the message, the label the decision gives and the time to the millisecond
    assert read(s3, key) == {
        "message_id": MID,
        "enterprise_id": "acme",
        "decision": "confirm_malicious",
        "is_malicious": True,
        "decided_at": AT.replace(microsecond=234000),
        "reviewer": "sec@acme-corp.com",
    }


def test_the_same_decision_written_twice_is_one_label(s3: Any) -> None:
    # GIVEN a decision written, then written again (a retry with the decision's recorded time)
    first = write_label(s3, BUCKET, "acme", MID, "release", AT, "sec@acme-corp.com")
    etag = s3.head_object(Bucket=BUCKET, Key=first)["ETag"]
    again = write_label(
        s3, BUCKET, "acme", MID, "release", AT + timedelta(microseconds=300), "sec@acme-corp.com"
    )
    # THEN it is the same object, byte for byte
    assert again == first and stored(s3) == [first]
    assert s3.head_object(Bucket=BUCKET, Key=first)["ETag"] == etag


def test_a_later_decision_on_the_same_message_is_a_label_of_its_own(s3: Any) -> None:
    # GIVEN a release, then a confirmation of the same message a minute later
    keys = [
        write_label(s3, BUCKET, "acme", MID, "release", AT, "a@acme-corp.com"),
        write_label(
            s3, BUCKET, "acme", MID, "confirm_malicious", AT + timedelta(minutes=1), "b@acme-corp.com"
        ),
    ]
    # THEN both are kept (the build takes the latest), side by side under the message
    assert sorted(stored(s3)) == sorted(keys) and len(set(keys)) == 2
    assert keys[0].rsplit("/", 1)[0] == keys[1].rsplit("/", 1)[0]
    found = gather(s3, BUCKET, AT - timedelta(days=1), AT + timedelta(days=1))
    assert [(g["decision"], g["is_malicious"]) for g in found.labels] == [
        ("release", False),
        ("confirm_malicious", True),
    ]


@pytest.mark.parametrize(
    "message_id",
    [
        "../../enterprise=globex/date=2026-11-26/x",
        "<a/b@c>",
        "acme/<m-1@partner.com>",
        "line\nbreak\r\t",
        "sha256:" + "0" * 64,
        "x" * records.MAX_MESSAGE_ID,
        "\u202e<mirrored@x>\U0001f600",
    ],
    ids=["dot-dot-slash", "slash", "a message key", "control", "digest-shaped", "longest", "unicode"],
)
def test_hostile_message_ids_never_shape_a_key(s3: Any, message_id: str) -> None:
    key = write_label(s3, BUCKET, "acme", message_id, "mark_safe", AT, "sec@acme-corp.com")
    assert KEY_SHAPE.fullmatch(key) and layout.enterprise_of(key) == "acme"
    assert read(s3, key)["message_id"] == message_id


@pytest.mark.parametrize(
    ("message_id", "reason"),
    [
        ("", "message_id must be 1 to 223 characters"),
        ("<m\x00@x>", "message_id must hold no NUL"),
        ("<m\ud800@x>", "no lone surrogate"),
        ("x" * (records.MAX_MESSAGE_ID + 1), "message_id must be 1 to 223 characters"),
        ("x" * 1_000_000, "message_id must be 1 to 223 characters"),
        (None, "message_id must be text"),
    ],
    ids=["empty", "NUL", "lone surrogate", "one past the longest", "huge", "not text"],
)
def test_a_message_id_no_message_can_have_is_refused_before_anything_is_written(
    s3: Any, message_id: Any, reason: str
) -> None:
    with pytest.raises(ReviewLabelError, match=re.escape(reason)) as err:
        write_label(s3, BUCKET, "acme", message_id, "release", AT, "sec@acme-corp.com")
    # the reason quotes nothing of the id
    assert len(str(err.value)) < 100 and "\x00" not in str(err.value)
    assert stored(s3) == []


@pytest.mark.parametrize(
    "enterprise_id",
    ["ACME", "acme/../globex", "acme\n", "", "*", "enterprise=acme", None],
    ids=["upper", "traversal", "newline", "empty", "star", "partition-shaped", "none"],
)
def test_an_enterprise_that_is_no_enterprise_id_is_refused(s3: Any, enterprise_id: Any) -> None:
    with pytest.raises(TenantError):
        write_label(s3, BUCKET, enterprise_id, MID, "release", AT, "sec@acme-corp.com")
    assert stored(s3) == []


def test_another_enterprises_message_id_labels_only_the_callers_message(s3: Any) -> None:
    # GIVEN globex's reviewer decides on a message id that is acme's
    key = write_label(s3, BUCKET, "globex", MID, "confirm_malicious", AT, "sec@globex.com")
    # THEN the label is globex's: (globex, that id), nothing under acme
    assert key.startswith("review_labels/enterprise=globex/")
    assert read(s3, key)["enterprise_id"] == "globex"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="review_labels/enterprise=acme/")["KeyCount"] == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"decision": "delete"}, "decision must be one of release, mark_safe, confirm_malicious"),
        ({"decision": "RELEASE"}, "decision must be one of"),
        ({"reviewer": ""}, "reviewer must be 1 to 320 characters"),
        ({"reviewer": "a" * 321}, "reviewer must be 1 to 320 characters"),
        ({"reviewer": "a\x00b"}, "reviewer must hold no NUL"),
        ({"decided_at": datetime(2026, 11, 26, 13)}, "decided_at must be a datetime with its time zone"),
        ({"decided_at": datetime(1970, 1, 1, tzinfo=UTC)}, "decided_at must be from 2000-01-01"),
        ({"decided_at": "2026-11-26T13:00:00Z"}, "decided_at must be a datetime"),
    ],
    ids=["unknown decision", "decision's case", "no reviewer", "long reviewer", "NUL reviewer",
         "naive time", "epoch", "time as text"],
)  # fmt: skip
def test_a_decision_reviewer_or_time_that_cannot_be_a_label_is_refused(
    s3: Any, change: dict[str, Any], reason: str
) -> None:
    args = {"decision": "release", "decided_at": AT, "reviewer": "sec@acme-corp.com", **change}
    with pytest.raises(ReviewLabelError, match=re.escape(reason)):
        write_label(s3, BUCKET, "acme", MID, **args)
    assert stored(s3) == []


def test_the_key_is_the_one_write_label_uses_and_checks_as_it_does() -> None:
    assert label_key("acme", MID, AT, "release") == label_key(
        "acme", MID, AT.replace(microsecond=234999), "release"
    )
    with pytest.raises(ReviewLabelError):
        label_key("acme", MID, AT, "../x")


def test_the_build_gathers_the_window_s_decisions_and_leaves_out_what_is_no_label(s3: Any) -> None:
    # GIVEN good decisions, one made after the build's reach, and label objects that are no label
    good = write_label(s3, BUCKET, "acme", MID, "release", AT, "a@acme-corp.com")
    write_label(s3, BUCKET, "acme", "<later@x>", "release", AT + timedelta(hours=2), "a@acme-corp.com")
    body = s3.get_object(Bucket=BUCKET, Key=good)["Body"].read()
    day = "date=2026-11-26/"
    planted = {
        f"review_labels/enterprise=globex/{day}moved.avro": body,  # acme's label filed under globex
        f"review_labels/enterprise=acme/{day}junk.avro": b"not avro at all",
        f"review_labels/enterprise=acme/{day}two.avro": container_bytes(
            contracts.load(contracts.REVIEW_LABEL), [read(s3, good), read(s3, good)]
        ),
        f"review_labels/enterprise=acme/{day}scored.avro": container_bytes(
            contracts.load(contracts.GROUND_TRUTH_LABEL),
            [{"message_id": "m", "enterprise_id": "acme", "received_at": AT, "is_malicious": True}],
        ),
        f"review_labels/enterprise=acme/{day}forged.avro": container_bytes(
            contracts.load(contracts.REVIEW_LABEL), [{**read(s3, good), "is_malicious": True}]
        ),
        f"review_labels/enterprise=Acme/{day}x.avro": body,
    }
    for key, data in planted.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    # WHEN the build gathers the decisions up to an hour after AT
    found = gather(s3, BUCKET, AT - timedelta(days=1), AT + timedelta(hours=1))
    # THEN the one good decision in reach, and every planted object left out with one reason
    assert [(g["enterprise_id"], g["message_id"]) for g in found.labels] == [("acme", MID)]
    reasons = dict(found.refused)
    assert set(reasons) == {k for k in planted if "Acme" not in k} | {"review_labels/enterprise=Acme/"}
    assert "not the one its key is filed under" in reasons[f"review_labels/enterprise=globex/{day}moved.avro"]
    assert reasons[f"review_labels/enterprise=acme/{day}junk.avro"].startswith("BadMagicByteError")
    assert "holds one decision, this one 2" in reasons[f"review_labels/enterprise=acme/{day}two.avro"]
    assert reasons[f"review_labels/enterprise=acme/{day}scored.avro"].startswith("SchemaMismatchError")
    assert "disagrees with its decision" in reasons[f"review_labels/enterprise=acme/{day}forged.avro"]
    assert reasons["review_labels/enterprise=Acme/"].startswith("TenantError")
