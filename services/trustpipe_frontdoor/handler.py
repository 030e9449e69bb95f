"""The Lambda entry point behind API Gateway (HTTP API, payload format 2.0, route ``POST /records``
with AWS_IAM authorization).

API Gateway checks the request's SigV4 signature and passes the authenticated caller as
``requestContext.authorizer.iam.userArn``; this handler trusts that and nothing in the body. Its
configuration (the raw stream, each enterprise's sensor role) is a JSON object in S3 that the
``ingest`` Terraform module writes from the tenant map: an environment variable would hold a few
dozen enterprises at most (Lambda's 4 KB of variables), the map may hold a thousand.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from trustpipe_frontdoor.core import Answer, RawStream, handle

CONFIG_ENV = "FRONTDOOR_CONFIG"
"""``s3://bucket/key`` of ``{"raw_stream_name": ..., "sensor_roles": {enterprise: role ARN}}``."""
log = logging.getLogger("trustpipe.frontdoor")


@dataclass(frozen=True)
class Config:
    """What the Lambda needs: the stream it puts to and who may call."""

    raw_stream_name: str
    sensor_roles: dict[str, str]

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        return cls(str(data["raw_stream_name"]), {str(k): str(v) for k, v in data["sensor_roles"].items()})


_state: tuple[Config, RawStream] | None = None


def _load() -> tuple[Config, RawStream]:
    """Read on the first invocation (no clients or env reads at import), kept while warm; a
    changed tenant map changes the function's configuration digest, which starts new instances."""
    import boto3

    log.setLevel(logging.INFO)
    bucket, _, key = os.environ[CONFIG_ENV].removeprefix("s3://").partition("/")
    config = Config.from_json(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    return config, RawStream(boto3.client("kinesis"), config.raw_stream_name)


def principal_of(event: dict[str, Any]) -> str:
    """The caller API Gateway authenticated ("" when the route has no IAM authorization)."""
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    return str(iam.get("userArn") or "")


def body_of(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()


def to_response(answer: Answer) -> dict[str, Any]:
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer.body),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _state
    if _state is None:
        _state = _load()
    config, stream = _state
    answer = handle(principal_of(event), body_of(event), config.sensor_roles, stream.put)
    log.info(
        json.dumps(
            {
                "request_id": (event.get("requestContext") or {}).get("requestId"),
                "status": answer.status,
                "enterprise_id": answer.body.get("enterprise_id"),
                "records": len(answer.body.get("records", [])),
                "failed": answer.body.get("failed_record_count", 0),
                "reason": answer.body.get("message"),
            }
        )
    )
    return to_response(answer)
