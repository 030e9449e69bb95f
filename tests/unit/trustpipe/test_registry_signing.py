"""Requests to the registry's API on AWS carry SigV4 for execute-api (IAM authorization)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from trustpipe.aws import AwsClients, sign_request
from trustpipe.ingest import SensorCredentials
from trustpipe.registry_client import RegistryClient
from trustpipe.settings import Settings
from trustpipe_frontdoor.core import RequestRefused
from trustpipe_frontdoor.sigv4 import authenticate

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


class _Sent(Exception):
    """Stops the client after signing: the request would go to AWS."""


def test_a_request_to_the_private_apis_stage_is_signed_for_the_stage_path() -> None:
    # GIVEN the registry's URL as the dev root sets it: a REST API's stage, and a role's session
    session = boto3.session.Session(
        aws_access_key_id="ASIAEXAMPLE", aws_secret_access_key="secret", aws_session_token="token"
    )
    stage_url = "https://abc123.execute-api.eu-west-1.amazonaws.com/registry"
    sent: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def sign(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        sent.append((method, url, sign_request(session, "eu-west-1", method, url, headers, body), body))
        raise _Sent

    # WHEN the client fetches a schema by id
    with pytest.raises(_Sent):
        RegistryClient(stage_url + "/", sign=sign).get_by_id(3)
    ((method, url, headers, body),) = sent
    # THEN it asks the stage's path, and the signature covers that path (API Gateway checks the
    # path with its stage), not the route's alone (the front door's check is botocore's signer)
    assert url == f"{stage_url}/schemas/ids/3"
    parts = urlsplit(url)
    signers = {"ASIAEXAMPLE": SensorCredentials("e", "ASIAEXAMPLE", "secret", "token", "arn:caller")}
    received = {**headers, "host": parts.netloc}
    assert authenticate(method, parts.path, received, body or b"", "eu-west-1", signers) == "arn:caller"
    with pytest.raises(RequestRefused, match="does not match"):
        authenticate(method, "/schemas/ids/3", received, body or b"", "eu-west-1", signers)
