"""The batch job reads the hour's ground truth for the counters (in-process moto S3): every file of
the hour, none of another hour; a file it cannot read, or a label under another enterprise's
prefix, is left out and the rest read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from spark_jobs.counters_read import hour_labels
from trustpipe import contracts, layout
from trustpipe.codec import container_bytes

BUCKET = "archive"
HOUR = datetime(2026, 12, 8, 9, tzinfo=UTC)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def put_labels(s3: Any, enterprise: str, start: datetime, labels: list[tuple[str, str, bool]]) -> str:
    key = layout.labels_key(enterprise, start)
    rows = [
        {"message_id": m, "enterprise_id": e, "received_at": start, "is_malicious": bad, "attack_type": None}
        for e, m, bad in labels
    ]
    s3.put_object(
        Bucket=BUCKET, Key=key, Body=container_bytes(contracts.load(contracts.GROUND_TRUTH_LABEL), rows)
    )
    return key


def test_the_hours_labels_are_read_and_what_cannot_be_is_left_out(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_labels(s3, "acme", HOUR, [("acme", "<a1@x>", True), ("acme", "<a2@x>", False)])
    put_labels(
        s3, "globex", HOUR + timedelta(minutes=15), [("globex", "<a1@x>", False), ("acme", "<a3@x>", True)]
    )
    put_labels(s3, "acme", HOUR + timedelta(hours=1), [("acme", "<next-hour@x>", True)])
    broken = layout.labels_key("initech", HOUR + timedelta(minutes=30))
    s3.put_object(
        Bucket=BUCKET,
        Key=broken,
        Body=container_bytes(contracts.load(contracts.GROUND_TRUTH_LABEL), [])[:-9] + b"x" * 3,
    )
    truncated = layout.labels_key("initech", HOUR + timedelta(minutes=45))
    whole = put_labels(
        s3, "initech", HOUR + timedelta(minutes=45), [("initech", f"<i{n}@x>", False) for n in range(50)]
    )
    body = s3.get_object(Bucket=BUCKET, Key=whole)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=truncated, Body=body[: len(body) // 2])
    labels = hour_labels(s3, BUCKET, HOUR)
    # one message id at two enterprises is two labels; globex's file's acme label is left out
    assert labels == {("acme", "<a1@x>"): True, ("acme", "<a2@x>"): False, ("globex", "<a1@x>"): False}
    assert "another enterprise" in caplog.text and "left out of the counters" in caplog.text
