"""The fault proxy's decisions and the errors it injects, as the SDKs' own parsers read them."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from trustpipe_emulation.fault_proxy import (
    KINDS,
    Window,
    choose,
    dump_schedule,
    fault_response,
    load_schedule,
    service_of,
)

AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
OPERATIONS = {
    "kinesis": "PutRecords",
    "dynamodb": "PutItem",
    "sqs": "SendMessageBatch",
    "s3": "GetObject",
    "sns": "Publish",
}


@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_the_service_is_read_from_the_signature(service: str) -> None:
    assert service_of({"authorization": AUTH.format(service=service)}) == service


def test_an_unsigned_request_has_no_service_and_meets_no_fault() -> None:
    windows = [Window("s3", "throttle", 0, 100, 1.0)]
    assert service_of({}) == ""
    assert choose(windows, 5, "", 0.0) is None


def test_a_window_applies_to_its_service_and_time_with_its_probability() -> None:
    windows = [Window("kinesis", "drop", 10, 20, 0.3)]
    assert choose(windows, 15, "kinesis", 0.29) == "drop"
    assert choose(windows, 15, "kinesis", 0.31) is None
    assert choose(windows, 9.9, "kinesis", 0.0) is None
    assert choose(windows, 20, "kinesis", 0.0) is None
    assert choose(windows, 15, "sqs", 0.0) is None


def test_the_schedule_is_armed_by_writing_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "faults.json"
    assert load_schedule(path) == (0.0, [])
    windows = [Window(s, k, 1, 2, 0.5) for s in OPERATIONS for k in KINDS]
    dump_schedule(windows, 1234.5, path)
    assert load_schedule(path) == (1234.5, windows)


def _parsed(service: str, kind: str) -> dict:  # type: ignore[type-arg]
    model = botocore.session.get_session().get_service_model(service)
    operation = model.operation_model(OPERATIONS[service])
    status, headers, body = fault_response(service, kind, json_protocol=model.protocol.startswith("json"))
    parser = create_parser(model.protocol)
    response = {"status_code": status, "headers": {k.decode(): v.decode() for k, v in headers}, "body": body}
    return {"status": status, "parsed": parser.parse(response, operation.output_shape)}


@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_an_injected_throttle_is_a_throttling_error_to_botocore(service: str) -> None:
    got = _parsed(service, "throttle")
    assert got["parsed"]["Error"]["Message"].endswith("(injected)")
    assert ThrottledRetryableChecker().is_retryable(_context(got)), got


@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_an_injected_error_is_a_retryable_5xx(service: str) -> None:
    got = _parsed(service, "error")
    assert got["status"] == 500
    assert TransientRetryableChecker().is_retryable(_context(got)), got


def _context(got: dict) -> RetryContext:  # type: ignore[type-arg]
    class Response:
        status_code = got["status"]

    return RetryContext(attempt_number=1, parsed_response=got["parsed"], http_response=Response())


def _dropped(tmp_path, http_version: str) -> tuple[list[str], list[dict]]:  # type: ignore[no-untyped-def,type-arg]
    """One Kinesis GetShardIterator through a proxy whose schedule drops every Kinesis request:
    the requests the upstream received, and the ASGI messages the client was sent."""
    import asyncio
    import time

    import httpx

    from trustpipe_emulation.fault_proxy import FaultProxy

    upstream: list[str] = []

    def moto(request: httpx.Request) -> httpx.Response:
        upstream.append(request.headers["x-amz-target"])
        return httpx.Response(200, stream=httpx.ByteStream(b'{"ShardIterator": "it-1"}'))

    schedule = tmp_path / "faults.json"
    dump_schedule([Window("kinesis", "drop", 0, 3600, 1.0)], time.time(), schedule)
    proxy = FaultProxy("http://moto", schedule, 7, tmp_path / "stats.json")
    proxy.client = httpx.AsyncClient(transport=httpx.MockTransport(moto))
    scope = {
        "type": "http",
        "http_version": http_version,
        "method": "POST",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"authorization", AUTH.format(service="kinesis").encode()),
            (b"x-amz-target", b"Kinesis_20131202.GetShardIterator"),
        ],
    }
    sent: list[dict] = []  # type: ignore[type-arg]

    async def receive() -> dict:  # type: ignore[type-arg]
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)

    asyncio.run(proxy(scope, receive, send))
    return upstream, sent


def test_a_drop_over_http1_acts_upstream_and_leaves_the_body_unfinished(tmp_path) -> None:  # type: ignore[no-untyped-def]
    upstream, sent = _dropped(tmp_path, "1.1")
    assert upstream == ["Kinesis_20131202.GetShardIterator"]
    assert [m["type"] for m in sent] == ["http.response.start"]  # no body, no length: unfinished
    assert b"content-length" not in dict(sent[0]["headers"])


def test_a_drop_over_http2_acts_upstream_and_answers_an_error_never_an_empty_success(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # An HTTP/2 stream left unfinished ends empty when its connection goes, and the AWS SDK for
    # Java reads an empty GetShardIterator answer as a closed shard: records would be skipped.
    upstream, sent = _dropped(tmp_path, "2")
    assert upstream == ["Kinesis_20131202.GetShardIterator"]
    start, body = sent
    assert start["status"] == 500
    assert json.loads(body["body"])["__type"] == "InternalFailure"
