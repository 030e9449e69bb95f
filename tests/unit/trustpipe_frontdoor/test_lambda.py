"""The front door's Lambda: its handler over the core with the configuration the ingest module
writes, and a zip that runs on the Lambda runtime alone (the core modules it needs, no others)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.harness.fakes import FakeKinesis
from trustpipe import ingest
from trustpipe_frontdoor import build, handler
from trustpipe_frontdoor.core import RawStream

ACME = "arn:aws:sts::123456789012:assumed-role/sensor-acme/s"
CONFIG = json.dumps(
    {"raw_stream_name": "raw", "sensor_roles": {"acme": "arn:aws:iam::123456789012:role/sensor-acme"}}
)


def event(principal: str | None, body: bytes) -> dict[str, object]:
    context: dict[str, object] = {"requestId": "r1"}
    if principal is not None:
        context["authorizer"] = {"iam": {"userArn": principal}}
    return {"requestContext": context, "body": base64.b64encode(body).decode(), "isBase64Encoded": True}


def test_the_handler_stamps_the_caller_api_gateway_named(monkeypatch: pytest.MonkeyPatch) -> None:
    kinesis = FakeKinesis()
    config = handler.Config.from_json(CONFIG)
    monkeypatch.setattr(handler, "_state", (config, RawStream(kinesis, config.raw_stream_name)))
    response = handler.handler(event(ACME, ingest.request_body([(b"\x00a", "m1")])), None)
    assert response["statusCode"] == 200
    assert json.loads(str(response["body"]))["enterprise_id"] == "acme"
    assert [r["PartitionKey"] for r in kinesis.stored] == ["acme/m1"]
    # a request that reached it without IAM authorization (a misconfigured route) is nobody's
    refused = handler.handler(event(None, ingest.request_body([(b"\x00a", "m1")])), None)
    assert refused["statusCode"] == 403 and len(kinesis.stored) == 1


def test_the_zip_carries_its_handler_and_only_the_core_it_imports(tmp_path: Path) -> None:
    zip_path = build.build(tmp_path / "frontdoor.zip")
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "unpacked")
    assert "trustpipe_frontdoor/handler.py" in names and "trustpipe_frontdoor/local_server.py" not in names
    # the handler imports from the zip alone, no site-packages (boto3 is the runtime's, imported
    # on first use)
    probe = (
        "import sys; sys.path.insert(0, '.'); "
        "import trustpipe_frontdoor.handler, trustpipe; print(trustpipe.__file__)"
    )
    unpacked = tmp_path / "unpacked"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], cwd=unpacked, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(unpacked / "trustpipe" / "__init__.py")
    # the same zip twice is the same bytes: Terraform updates the function only when code changes
    assert build.build(tmp_path / "again.zip").read_bytes() == zip_path.read_bytes()
