"""AwsClients acting as a role: assumed once, when the first client is created, and every client
signs with the role's credentials (in-process moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tests.harness.paths import ROOT
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings

ROLE = "arn:aws:iam::123456789012:role/trustpipe-dev-airflow-models"


@pytest.fixture
def settings() -> Iterator[Settings]:
    with mock_aws():
        data = json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text())
        yield Settings.from_dict({**data, "aws_endpoint": None})


def test_clients_with_a_role_sign_as_that_role_assumed_on_first_use(settings: Settings) -> None:
    # GIVEN clients for the models role, none created yet
    models = AwsClients(settings, role_arn=ROLE, session_name="model_build_nightly")
    assert models._assumed is None
    # WHEN two clients are created
    s3, sts = models.s3, models.client("sts")
    # THEN both sign with one assumed session of that role, named for who asked
    identity = sts.get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/trustpipe-dev-airflow-models/model_build_nightly")
    assert models._assumed is not None
    keys = {c._request_signer._credentials.access_key for c in (s3, sts)}
    assert keys == {models._assumed["aws_access_key_id"]}
    # and clients without a role are the entry point's own
    own = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Arn"]
    assert AwsClients(settings).client("sts").get_caller_identity()["Arn"] == own != identity["Arn"]
