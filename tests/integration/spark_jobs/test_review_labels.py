"""The feedback loop from review to model: a reviewer's decision, written as a review label, is
the label of that message (and that message only) in the next build's training history.

Only the build's training-history step runs (on the shared SparkSession, a handful of rows): the
training itself is the model-build tests'."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from spark_jobs import build_model, runner
from tests.harness.factories import RECEIVED, email_v3
from trustpipe import contracts
from trustpipe.codec import container_bytes
from trustpipe.review_labels import write_label

BUCKET = "archive"
UNTIL = RECEIVED.replace(minute=0) + timedelta(hours=1)
FIRST_HOUR = UNTIL - timedelta(hours=1)
# (enterprise, message id, the simulator's label or None when it has none)
MAIL = [
    ("acme", "<m-1@partner.com>", False),
    ("acme", "<m-2@partner.com>", True),
    ("acme", "<m-3@partner.com>", False),
    ("acme", "<m-4@partner.com>", None),
    ("globex", "<m-1@partner.com>", False),
]


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


@pytest.fixture
def history(tmp_path: Path) -> tuple[list[str], list[str]]:
    """The hour's sensor file and the simulator's labels, as the build stages them."""
    messages, labels = tmp_path / "messages.avro", tmp_path / "labels.avro"
    messages.write_bytes(
        container_bytes(
            contracts.email_metadata(3),
            [email_v3(enterprise_id=e, message_id=m, received_at=RECEIVED) for e, m, _ in MAIL],
        )
    )
    truth = [
        {"message_id": m, "enterprise_id": e, "received_at": RECEIVED, "is_malicious": bad}
        for e, m, bad in MAIL
        if bad is not None
    ]
    labels.write_bytes(container_bytes(contracts.load(contracts.GROUND_TRUTH_LABEL), truth))
    return [str(messages)], [str(labels)]


def training_labels(spark: Any, s3: Any, history: tuple[list[str], list[str]], work: Path) -> dict:
    """(enterprise, message id) -> (label, reviewed) in the build's training history, with the
    review labels the build would stage now."""
    work.mkdir()
    reviews = runner.stage_review_labels(s3, BUCKET, FIRST_HOUR, UNTIL, UNTIL + timedelta(hours=1), work)
    rows = build_model.training_history(spark, *history, UNTIL, reviews).collect()
    return {(r["enterprise_id"], r["message_id"]): (r["label"], r["reviewed"]) for r in rows}


def test_a_decision_flips_that_message_s_label_in_the_next_build_and_no_other(
    spark: Any, s3: Any, history: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    # GIVEN the build's training history from the simulator's labels alone
    before = training_labels(spark, s3, history, tmp_path / "before")
    assert before == {(e, m): (float(bad), 0.0) for e, m, bad in MAIL if bad is not None}
    # WHEN acme's reviewer confirms m-1 (a benign label) malicious; confirms m-2, then thinks
    # again and releases it; marks m-4 (no simulator label) safe; and globex's reviewer confirms
    # m-3, which is acme's message, not globex's
    decided = RECEIVED + timedelta(minutes=20)
    write_label(s3, BUCKET, "acme", "<m-1@partner.com>", "confirm_malicious", decided, "sec@acme-corp.com")
    write_label(s3, BUCKET, "acme", "<m-2@partner.com>", "confirm_malicious", decided, "sec@acme-corp.com")
    later = decided + timedelta(minutes=5)
    write_label(s3, BUCKET, "acme", "<m-2@partner.com>", "release", later, "boss@acme-corp.com")
    write_label(s3, BUCKET, "acme", "<m-4@partner.com>", "mark_safe", decided, "sec@acme-corp.com")
    write_label(s3, BUCKET, "globex", "<m-3@partner.com>", "confirm_malicious", decided, "sec@globex.com")
    after = training_labels(spark, s3, history, tmp_path / "after")
    # THEN exactly the decided messages of acme changed: m-1 flipped to malicious, m-2 back to
    # benign (the latest decision wins), m-4 joined as benign; globex's m-1 (the same Message-ID)
    # and acme's m-3 are as the simulator labelled them
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    assert changed == {
        ("acme", "<m-1@partner.com>"): (1.0, 1.0),
        ("acme", "<m-2@partner.com>"): (0.0, 1.0),
        ("acme", "<m-4@partner.com>"): (0.0, 1.0),
    }
    assert set(after) == set(before) | {("acme", "<m-4@partner.com>")}


def test_without_the_simulator_s_labels_the_decisions_alone_label_the_history(
    spark: Any, s3: Any, history: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    # GIVEN mail with no simulator (a real deployment) and two decisions of acme's reviewer
    write_label(s3, BUCKET, "acme", "<m-3@partner.com>", "confirm_malicious", RECEIVED, "sec@acme-corp.com")
    write_label(s3, BUCKET, "acme", "<m-4@partner.com>", "release", RECEIVED, "sec@acme-corp.com")
    reviews = runner.stage_review_labels(s3, BUCKET, FIRST_HOUR, UNTIL, UNTIL, tmp_path)
    # WHEN the build's training history is made from the mail and the decisions only
    rows = build_model.training_history(spark, history[0], [], UNTIL, reviews).collect()
    # THEN the decided messages are the history, labelled as decided
    assert {(r["enterprise_id"], r["message_id"], r["label"]) for r in rows} == {
        ("acme", "<m-3@partner.com>", 1.0),
        ("acme", "<m-4@partner.com>", 0.0),
    }
