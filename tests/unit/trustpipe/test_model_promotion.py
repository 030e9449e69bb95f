"""Model promotions are numbered: each promotion, a rollback's included, takes the next number,
and a loaded model carries its version's latest (in-process moto)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.harness.models import artifact
from trustpipe import layout
from trustpipe.model import artifact as model_store

BUCKET = "archive"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def saved(s3: Any, version: str) -> model_store.ModelArtifact:
    model = dataclasses.replace(artifact(), version=version)
    model_store.save(s3, BUCKET, model, make_current=False)
    return model


def test_each_promotion_takes_the_next_number_and_a_rollback_outranks_what_it_replaces(s3: Any) -> None:
    # GIVEN two saved models, b trained after a
    a, b = saved(s3, "20261118T000000-a"), saved(s3, "20261119T000000-b")
    # WHEN a, then b, then a again (the rollback) are promoted
    numbers = [model_store.promote(s3, BUCKET, m) for m in (a, b, a)]
    # THEN the numbers rise, and each load carries its version's latest one
    assert numbers == [1, 2, 3]
    current = model_store.load(s3, BUCKET)
    assert (current.version, current.promotion) == (a.version, 3)
    assert model_store.load(s3, BUCKET, b.version).promotion == 2
    # AND a version never promoted loads with 0, below every promoted one
    assert model_store.load(s3, BUCKET, saved(s3, "20261120T000000-c").version).promotion == 0


def test_a_pointer_from_before_numbering_counts_as_promotion_0(s3: Any) -> None:
    # GIVEN current.json as it was written before promotions were numbered
    a, b = saved(s3, "20261118T000000-a"), saved(s3, "20261119T000000-b")
    pointer = {"version": a.version, "key": layout.model_key(a.version), "metrics": {}}
    s3.put_object(Bucket=BUCKET, Key=layout.CURRENT_MODEL_KEY, Body=json.dumps(pointer).encode())
    assert model_store.load(s3, BUCKET).promotion == 0
    # WHEN a model is promoted THEN it is number 1
    assert model_store.promote(s3, BUCKET, b) == 1
    assert model_store.current_version(s3, BUCKET) == b.version


def test_a_pointer_that_is_not_an_object_is_a_malformed_model(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=layout.CURRENT_MODEL_KEY, Body=b"[1, 2]")
    with pytest.raises(model_store.MalformedModelError, match="not a JSON object"):
        model_store.load(s3, BUCKET)
