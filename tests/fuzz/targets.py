"""Fuzz targets: bytes (or a request) in; only the component's own errors may come out.

- ``framed``: a Kinesis record's bytes through ``FramedDecoder`` (every sensor version known);
- ``container``: an S3 object's bytes through ``ContainerReader`` with the v4 reader schema, as
  read plainly and as the landing reader reads it (within ``LANDING_LIMITS``);
- ``registry``: an HTTP request through the registry's resolver (the Lambda's request parsing),
  on an in-memory store holding one subject: every answer is a response below 500 with a JSON
  body, an error answer carries the registry's ``error_code``.

The hypothesis tests (``make test``) and the atheris runner (``make fuzz``) drive the same
targets; inputs that once escaped are kept in ``regressions/<target>/`` and replayed by the tests.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from schema_registry_lambda.api import create_app
from schema_registry_lambda.local_server import _LocalContext, to_event
from schema_registry_lambda.registry import Registry
from schema_registry_lambda.store import InMemoryStore
from tests.harness.factories import email_v1
from trustpipe import contracts
from trustpipe.codec import (
    LANDING_LIMITS,
    CodecError,
    ContainerReader,
    FramedDecoder,
    FramedEncoder,
    InMemorySchemas,
    container_bytes,
)

REGRESSIONS = Path(__file__).parent / "regressions"
VERSIONS = (1, 2, 3, 4)
_DECODER = FramedDecoder(
    InMemorySchemas({10 + v: contracts.email_metadata(v) for v in VERSIONS}), contracts.reader_schema()
)
_READER = contracts.reader_schema()
SUBJECT = "email-metadata-value"


def framed(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        _DECODER.decode(data)


def container(data: bytes) -> None:
    for limits in (None, LANDING_LIMITS):
        try:
            for _ in ContainerReader(io.BytesIO(data), _READER, limits):
                pass
        except CodecError:
            pass


class RegistryAnsweredBadly(AssertionError):
    """The registry answered a request with a server error or a body that is not its JSON."""


def _app() -> Any:
    store = InMemoryStore()
    app = create_app(Registry(store))
    answer = app.resolve(
        to_event(
            "POST",
            f"/subjects/{SUBJECT}/versions",
            {"Content-Type": "application/json"},
            json.dumps({"schema": json.dumps(contracts.email_metadata(1))}).encode(),
            "127.0.0.1",
        ),
        _LocalContext(),
    )
    assert answer["statusCode"] == 200, answer
    return app


_REGISTRY = _app()


def registry(method: str, target: str, content_type: str, body: bytes) -> None:
    """One request; raises ``RegistryAnsweredBadly`` for a 5xx or a malformed answer (and lets
    any exception the resolver did not turn into an answer escape: that is the finding)."""
    event = to_event(method, target, {"Content-Type": content_type}, body, "127.0.0.1")
    answer = _REGISTRY.resolve(event, _LocalContext())
    status = int(answer["statusCode"])
    if status >= 500:
        raise RegistryAnsweredBadly(f"{method} {target!r}: {status} {answer.get('body')}")
    if status >= 400:
        payload = json.loads(answer["body"] or "null")
        if not isinstance(payload, dict) or "error_code" not in payload:
            raise RegistryAnsweredBadly(f"{method} {target!r}: {status} without error_code: {payload}")


def registry_bytes(data: bytes) -> None:
    """``registry`` driven by raw bytes (atheris): method, target and body split from them."""
    head, _, body = data.partition(b"\n\n")
    parts = head.decode("utf-8", errors="replace").split(" ", 2)
    method = parts[0] if parts[0] else "GET"
    target = parts[1] if len(parts) > 1 else "/"
    target = target if target.startswith("/") else "/" + target
    content_type = parts[2] if len(parts) > 2 else "application/json"
    registry(method, target, content_type, body)


def seeds() -> dict[str, list[bytes]]:
    """Valid inputs to mutate from."""
    records = [FramedEncoder(11, contracts.email_metadata(1)).encode(email_v1())]
    files = [container_bytes(contracts.email_metadata(1), [email_v1(), email_v1(message_id="<m-2@x>")])]
    requests = [
        b"POST /subjects/"
        + SUBJECT.encode()
        + b"/versions application/json\n\n"
        + json.dumps({"schema": json.dumps(contracts.email_metadata(2))}).encode(),
        b"GET /schemas/ids/1 application/json\n\n",
        b"PUT /config/" + SUBJECT.encode() + b' application/json\n\n{"compatibility": "BACKWARD"}',
        b"POST /compatibility/subjects/" + SUBJECT.encode() + b"/versions/latest application/json\n\n{}",
    ]
    return {"framed": records, "container": files, "registry": requests}


BYTE_TARGETS = {"framed": framed, "container": container, "registry": registry_bytes}


def regressions(target: str) -> list[Path]:
    return sorted((REGRESSIONS / target).glob("*")) if (REGRESSIONS / target).is_dir() else []
