"""A SigV4 check of one request, for the local front door only.

On AWS this check is API Gateway's: a route with AWS_IAM authorization verifies the signature
against IAM and hands the Lambda the caller's ARN. moto cannot run that, so the local server
checks the signature itself, with botocore's own signer, against the sensor credentials the
local stack obtained by STS AssumeRole of each enterprise's sensor role
(``trustpipe.ingest.SensorCredentials``), and
passes the core the same assumed-role ARN API Gateway would.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trustpipe.ingest import SIGNING_SERVICE, SensorCredentials
from trustpipe_frontdoor.core import RequestRefused

MAX_CLOCK_SKEW = timedelta(minutes=15)
"""AWS refuses a signature dated more than 15 minutes from its clock (a replay window)."""
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/"
    r"(?P<service>[^/\s]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


def authenticate(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    signers: Mapping[str, SensorCredentials],
    now: datetime | None = None,
) -> str:
    """The principal ARN whose credentials signed this request; RequestRefused(403) for a
    missing, malformed, stale, foreign or wrong signature (a body changed after signing too)."""
    lower = {k.lower(): v for k, v in headers.items()}
    match = _AUTH.match(lower.get("authorization", "").strip())
    if not match:
        raise RequestRefused(403, "missing or malformed SigV4 Authorization header")
    signer = signers.get(match["akid"])
    if signer is None:
        raise RequestRefused(403, "the signing access key is no sensor's")
    signed = match["signed"].split(";")
    stamp = lower.get("x-amz-date", "")
    _check_scope(match, signed, stamp, region, now or datetime.now(UTC))
    if "x-amz-security-token" not in signed or lower.get("x-amz-security-token") != signer.session_token:
        raise RequestRefused(403, "the session token is missing, unsigned or not this key's")
    claimed = lower.get("x-amz-content-sha256")
    if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
        raise RequestRefused(403, "x-amz-content-sha256 does not match the body")
    request = AWSRequest(
        method=method,
        url=f"http://{lower.get('host', '')}{path}",
        data=body,
        headers={name: lower.get(name, "") for name in signed},
    )
    request.context["timestamp"] = stamp
    credentials = Credentials(signer.access_key_id, signer.secret_access_key, signer.session_token)
    auth = SigV4Auth(credentials, SIGNING_SERVICE, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if not hmac.compare_digest(expected, match["sig"]):
        raise RequestRefused(403, "the signature does not match the request")
    return signer.principal_arn


def _check_scope(match: re.Match[str], signed: list[str], stamp: str, region: str, now: datetime) -> None:
    if match["service"] != SIGNING_SERVICE or match["region"] != region:
        raise RequestRefused(
            403, f"signed for {match['service']} in {match['region']}, not {SIGNING_SERVICE} in {region}"
        )
    if "host" not in signed or "x-amz-date" not in signed:
        raise RequestRefused(403, "the signature must cover host and x-amz-date")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as err:
        raise RequestRefused(403, "x-amz-date is missing or malformed") from err
    if stamp[:8] != match["date"] or abs(now - when) > MAX_CLOCK_SKEW:
        raise RequestRefused(403, "the signature's date is outside the 15-minute window")
