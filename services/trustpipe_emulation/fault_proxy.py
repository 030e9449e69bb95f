"""A fault-injecting proxy in front of the moto server, for the chaos run.

Every client of the chaos run (boto3 in the Python workers, the AWS SDK for Java in the KCL's
daemons) is pointed at this proxy instead of the moto server, so an injected fault travels the
same way a real AWS fault does: an HTTP response the SDK parses, classifies (throttled,
retryable 5xx) and retries with its own policy, or a connection that drops mid-response.
Nothing in the pipeline's code knows the proxy is there.

Faults follow a schedule of windows (``Window``), armed by writing the schedule file with the
time they count from (the proxy reads it every second): during a window, each request to its
service meets the window's fault with the window's probability. The kinds:

- ``throttle``: the service's own throttling error (Kinesis ``ProvisionedThroughputExceededException``,
  DynamoDB ``ThrottlingException``, S3 ``503 SlowDown``, SQS/SNS ``Throttling``);
- ``error``: a 500 in the service's protocol;
- ``slow``: the request is forwarded after a delay;
- ``drop``: the request is forwarded (the moto server acts on it) and the connection is closed
  before the response is complete, so the client cannot know whether it took effect. Over HTTP/2
  (the KCL's Kinesis client) an application cannot reset its stream: a stream left unfinished
  is ended later, when the connection goes, and the AWS SDK for Java takes that empty answer
  for a whole one (an empty ``GetShardIterator`` or ``GetRecords`` answer reads as a closed
  shard, and the group checkpoints past records it never read). So there the forwarded request
  is answered with the service's 500: it took effect, and the client is told it failed, which
  leaves it as unsure as a dropped connection does.

The service is read from the request's SigV4 credential scope. Served by hypercorn over HTTP/1.1
and h2c, as the moto server is (the KCL's Kinesis client speaks HTTP/2 only). Run as
``python -m trustpipe_emulation.fault_proxy --upstream URL --schedule FILE --stats FILE --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KINDS = ("throttle", "error", "slow", "drop")
SERVICES = ("kinesis", "dynamodb", "sqs", "s3", "sns")
SLOW_SECONDS = (0.5, 3.0)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
_THROTTLE_CODE = {
    "kinesis": "ProvisionedThroughputExceededException",
    "dynamodb": "ThrottlingException",
    "sqs": "ThrottlingException",
}


@dataclass(frozen=True)
class Window:
    """From ``start`` to ``end`` seconds after the proxy started, requests to ``service`` meet
    ``kind`` with ``probability``."""

    service: str
    kind: str
    start: float
    end: float
    probability: float


def service_of(headers: dict[str, str]) -> str:
    """The AWS service a signed request is for (its SigV4 credential scope), or ''."""
    found = _SCOPE.search(headers.get("authorization", ""))
    return found.group(1) if found else ""


def choose(windows: Sequence[Window], elapsed: float, service: str, draw: float) -> str | None:
    """The fault this request meets (``draw`` uniform in [0, 1)), or None."""
    for w in windows:
        if w.service == service and w.start <= elapsed < w.end and draw < w.probability:
            return w.kind
    return None


def fault_response(
    service: str, kind: str, json_protocol: bool
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of an injected ``throttle`` or ``error`` in ``service``'s
    protocol (JSON for Kinesis, DynamoDB and SQS; XML for S3 and the query protocol)."""
    throttle = kind == "throttle"
    message = "Rate exceeded (injected)" if throttle else "We encountered an internal error (injected)"
    if json_protocol:
        code = _THROTTLE_CODE.get(service, "ThrottlingException") if throttle else "InternalFailure"
        body = json.dumps({"__type": code, "message": message}).encode()
        return 400 if throttle else 500, [(b"content-type", b"application/x-amz-json-1.1")], body
    xml = [(b"content-type", b"application/xml")]
    if service == "s3":
        code = "SlowDown" if throttle else "InternalError"
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        return 503 if throttle else 500, xml, body
    code, side = ("Throttling", "Sender") if throttle else ("InternalFailure", "Receiver")
    body = (
        f"<ErrorResponse><Error><Type>{side}</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>injected</RequestId></ErrorResponse>"
    ).encode()
    return 400 if throttle else 500, xml, body


Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class FaultProxy:
    """The ASGI application: forward to ``upstream`` unless the schedule says otherwise; count
    what was injected (by service and kind) into ``stats``."""

    def __init__(self, upstream: str, schedule: Path, seed: int, stats: Path) -> None:
        import httpx

        self.upstream = upstream.rstrip("/")
        self.schedule = schedule
        self.t0, self.windows = load_schedule(schedule)
        self.rng = random.Random(seed)
        self.stats_path = stats
        self.injected: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.client = httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = await _read_body(receive)
        service = service_of(headers)
        self.requests[service] += 1
        kind = choose(self.windows, time.time() - self.t0, service, self.rng.random()) if self.t0 else None
        if kind is not None:
            self.injected[f"{service} {kind}"] += 1
        if kind in ("throttle", "error"):
            status, out_headers, payload = fault_response(service, kind, "x-amz-target" in headers)
            await _respond(send, status, out_headers, payload)
            return
        if kind == "slow":
            await asyncio.sleep(self.rng.uniform(*SLOW_SECONDS))
        status, out_headers, payload = await self._forward(scope, headers, body)
        if kind == "drop" and scope.get("http_version") == "2":
            status, out_headers, payload = fault_response(service, "error", "x-amz-target" in headers)
        elif kind == "drop":
            # The upstream acted; the client gets the response's status line and then the
            # connection closes: the body is chunked (no length) and never ends (hypercorn closes
            # a response the app left unfinished), so no client can take half a body for all of it.
            unsized = [(k, v) for k, v in out_headers if k != b"content-length"]
            await send({"type": "http.response.start", "status": status, "headers": unsized})
            return
        await _respond(send, status, out_headers, payload)

    async def _forward(
        self, scope: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        query = scope.get("query_string", b"").decode()
        url = self.upstream + scope["raw_path"].decode() + (f"?{query}" if query else "")
        forwarded = [(k, v) for k, v in headers.items() if k not in _HOP_BY_HOP]
        request = self.client.build_request(scope["method"], url, headers=forwarded, content=body)
        response = await self.client.send(request, stream=True)
        try:
            payload = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        out = [
            (k.encode(), v.encode())
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ]
        if scope["method"] != "HEAD":
            out.append((b"content-length", str(len(payload)).encode()))
        elif "content-length" in response.headers:
            out.append((b"content-length", response.headers["content-length"].encode()))
        return response.status_code, out, payload

    def tick(self) -> None:
        """Once a second: the schedule read again, the counts written."""
        self.t0, self.windows = load_schedule(self.schedule)
        self.stats_path.write_text(
            json.dumps({"requests": dict(self.requests), "injected": dict(self.injected)}, sort_keys=True)
        )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    has_length = any(k.lower() == b"content-length" for k, _ in headers)
    if not has_length:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def load_schedule(path: Path) -> tuple[float, list[Window]]:
    """The schedule file: its windows and the wall-clock time they count from (none yet: no faults)."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return 0.0, []
    return float(data["t0"]), [Window(**w) for w in data["windows"]]


def dump_schedule(windows: Sequence[Window], t0: float, path: Path) -> None:
    """Arm ``windows`` from ``t0`` (epoch seconds); the proxy reads the file again every second."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"t0": t0, "windows": [asdict(w) for w in windows]}))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fault_proxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--schedule", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from trustpipe_emulation.moto_h2c import KEEP_ALIVE_SECONDS, stop_signal

    app = FaultProxy(args.upstream, args.schedule, args.seed, args.stats)
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.accesslog = None
    config.errorlog = "-"

    async def serve_and_report() -> None:
        async def every_second() -> None:
            while True:
                app.tick()
                await asyncio.sleep(1)

        reporter = asyncio.create_task(every_second())
        try:
            await serve(app, config, shutdown_trigger=stop_signal())  # type: ignore[arg-type]
        finally:
            reporter.cancel()
            app.tick()

    asyncio.run(serve_and_report())


if __name__ == "__main__":
    main()
