"""The local front door's HTTP edge on loopback (Kinesis faked, no stack): what API Gateway
would answer before the Lambda runs (404, 413, 403), then the core's own answers."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.fakes import FakeKinesis
from trustpipe import ingest
from trustpipe.settings import Settings
from trustpipe_frontdoor import local_server
from trustpipe_sensors.frontdoor import http_post, signed_headers

ACME = ingest.SensorCredentials(
    "acme", "ASIAACME", "acme-secret", "acme-token", "arn:aws:sts::123456789012:assumed-role/sensor-acme/s"
)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, FakeKinesis]]:
    kinesis = FakeKinesis()
    monkeypatch.setattr(local_server, "_kinesis", lambda _settings: kinesis)
    settings = Settings.from_json(
        (Path(__file__).parents[2] / "unit/fixtures/settings.json").read_text(), "x"
    )
    tenants = {"acme": {"sensor_role_arn": "arn:aws:iam::123456789012:role/sensor-acme"}}
    settings = Settings.from_dict({**settings.__dict__, "tenants": tenants})
    credentials = tmp_path / ingest.SENSOR_CREDENTIALS_FILE
    ingest.save_sensor_credentials(credentials, [ACME])
    httpd = local_server.make_server(settings, credentials, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", kinesis
    finally:
        httpd.shutdown()
        httpd.server_close()


def post(url: str, body: bytes, sign: bool = True, path: str = ingest.RECORDS_PATH) -> tuple[int, Any]:
    target = url + path
    headers = signed_headers(ACME, "us-east-1", target, body) if sign else {}
    status, raw = http_post(target, headers, body)
    return status, json.loads(raw)


def test_a_signed_batch_is_put_and_answered_per_record(server: tuple[str, FakeKinesis]) -> None:
    url, kinesis = server
    status, answer = post(url, ingest.request_body([(b"\x00a", "m1"), (b"\x00b", "m2")]))
    assert status == 200 and answer["failed_record_count"] == 0
    assert [r["PartitionKey"] for r in kinesis.stored] == ["acme/m1", "acme/m2"]


def test_the_edge_refuses_before_the_core(server: tuple[str, FakeKinesis]) -> None:
    url, kinesis = server
    body = ingest.request_body([(b"\x00a", "m1")])
    assert post(url, body, sign=False)[0] == 403
    assert post(url, body, path="/records/../admin")[0] == 404
    assert post(url, b"{not json")[0] == 400  # signed, but no batch: the core's reason
    assert post(url, b"{not json")[1]["message"].startswith("body is not JSON")
    # a declared length past 10 MB is refused unread
    host = url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.putrequest("POST", ingest.RECORDS_PATH)
    conn.putheader("Content-Length", str(ingest.API_GATEWAY_MAX_PAYLOAD_BYTES + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    assert kinesis.calls == []
