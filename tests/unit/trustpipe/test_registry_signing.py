"""Requests to the registry's API on AWS carry SigV4 for execute-api (IAM authorization)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from trustpipe.aws import AwsClients, sign_request
from trustpipe.settings import Settings

FIXTURE = Path(__file__).parents[1] / "fixtures" / "settings.json"


def test_a_signed_request_names_the_service_region_and_signed_headers() -> None:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
    )
    headers = sign_request(
        session,
        "eu-west-1",
        "GET",
        "https://abc.execute-api.eu-west-1.amazonaws.com/schemas/ids/3",
        {"Accept": "x"},
        None,
    )
    auth = headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in auth
    assert "X-Amz-Date" in headers and headers["Accept"] == "x"


def test_the_local_stack_registry_is_not_signed() -> None:
    settings_dict = json.loads(FIXTURE.read_text())
    local = Settings.from_dict(
        {**settings_dict, "aws_endpoint": "http://127.0.0.1:1", "registry_url": "http://r"}
    )
    assert AwsClients(local).registry()._sign is None
    aws = Settings.from_dict({**settings_dict, "aws_endpoint": None, "registry_url": "https://r"})
    assert AwsClients(aws).registry()._sign is not None
