"""The local front door's SigV4 check (API Gateway's on AWS): a request signed by a sensor's
session names that session's principal; anything missing, stale, foreign or changed after
signing is refused."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trustpipe import ingest
from trustpipe_frontdoor.core import RequestRefused
from trustpipe_frontdoor.sigv4 import authenticate

REGION = "us-east-1"
URL = "http://127.0.0.1:8123/records"
A = ingest.SensorCredentials(
    "acme", "ASIAACME", "acme-secret", "acme-token", "arn:aws:sts::1:assumed-role/s-acme/x"
)
B = ingest.SensorCredentials(
    "globex", "ASIAGLOBEX", "gx-secret", "gx-token", "arn:aws:sts::1:assumed-role/s-gx/y"
)
SESSIONS = {A.access_key_id: A, B.access_key_id: B}
BODY = ingest.request_body([(b"\x00\x00\x00\x00\x01a", "m1")])


def signed(
    who: ingest.SensorCredentials,
    body: bytes = BODY,
    service: str = "execute-api",
    region: str = REGION,
    token: str | None = None,
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=URL, data=body, headers={"Content-Type": "application/json"})
    creds = Credentials(who.access_key_id, who.secret_access_key, token or who.session_token)
    SigV4Auth(creds, service, region).add_auth(request)
    return {**dict(request.headers.items()), "Host": "127.0.0.1:8123"}


def check(headers: dict[str, str], body: bytes = BODY, now: datetime | None = None) -> str:
    return authenticate("POST", "/records", headers, body, REGION, SESSIONS, now)


def test_a_sensors_signature_names_its_session() -> None:
    assert check(signed(A)) == A.principal_arn
    assert check(signed(B)) == B.principal_arn


def refused(headers: dict[str, str], body: bytes = BODY, now: datetime | None = None) -> str:
    with pytest.raises(RequestRefused) as caught:
        check(headers, body, now)
    assert caught.value.status == 403
    return caught.value.reason


def test_a_body_changed_after_signing_is_refused() -> None:
    # B's own signed request, replayed with another body (B's session token reused)
    tampered = ingest.request_body([(b"\x00\x00\x00\x00\x01b", "m1")])
    assert refused(signed(B), tampered) == "the signature does not match the request"


def test_a_missing_or_malformed_signature_is_refused() -> None:
    assert refused({"Host": "127.0.0.1:8123"}).startswith("missing or malformed")
    headers = signed(A)
    headers["Authorization"] = headers["Authorization"].replace("Signature=", "Signature=0")
    assert refused(headers).startswith("missing or malformed")


def test_a_signature_with_the_wrong_secret_is_refused() -> None:
    forged = ingest.SensorCredentials("acme", A.access_key_id, "guessed", A.session_token, "")
    assert refused(signed(forged)) == "the signature does not match the request"


def test_an_unknown_access_key_is_refused() -> None:
    stranger = ingest.SensorCredentials("x", "AKIASTRANGER", "s", "t", "")
    assert refused(signed(stranger)) == "the signing access key is no sensor's"


def test_another_sessions_token_is_refused() -> None:
    assert refused(signed(A, token=B.session_token)).startswith("the session token is missing")
    headers = signed(A)
    del headers["X-Amz-Security-Token"]
    assert refused(headers).startswith("the session token is missing")


def test_a_signature_for_another_service_or_region_is_refused() -> None:
    assert refused(signed(A, service="kinesis")).startswith("signed for kinesis")
    assert refused(signed(A, region="eu-west-1")).startswith("signed for execute-api in eu-west-1")


def test_a_stale_signature_is_refused() -> None:
    later = datetime.now(UTC) + timedelta(minutes=16)
    assert refused(signed(A), now=later) == "the signature's date is outside the 15-minute window"


def test_a_claimed_payload_hash_must_be_the_bodys() -> None:
    headers = {**signed(A), "X-Amz-Content-SHA256": "0" * 64}
    assert refused(headers) == "x-amz-content-sha256 does not match the body"


def test_the_credentials_file_is_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "state" / ingest.SENSOR_CREDENTIALS_FILE
    ingest.save_sensor_credentials(path, [A, B])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ingest.load_sensor_credentials(path) == {"acme": A, "globex": B}
    ingest.save_sensor_credentials(path, [A])  # renewed in place
    assert ingest.load_sensor_credentials(path) == {"acme": A}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
