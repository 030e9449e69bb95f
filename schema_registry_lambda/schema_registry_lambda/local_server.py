"""Serve the registry's resolver over plain HTTP, as API Gateway HTTP API (payload 2.0) would."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver


def to_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event for one request."""
    url = urlsplit(target)
    query = {k: ",".join(v) for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": query or None,
        "requestContext": {
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }


class _LocalContext:
    """The few LambdaContext attributes the resolver and logger read."""

    function_name = "schema-registry-local"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:schema-registry-local"
    aws_request_id = "local"


def make_server(app: APIGatewayHttpResolver, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server dispatching to ``app``; requests run one at a time through the resolver
    (it keeps the current event on itself), connections are accepted concurrently."""
    lock = threading.Lock()
    context = _LocalContext()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            event = to_event(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            with lock:
                result = app.resolve(event, context)  # type: ignore[arg-type]
            payload = (result.get("body") or "").encode()
            self.send_response(int(result["statusCode"]))
            for name, value in (result.get("headers") or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            return  # access logs off; the registry logs what matters

    return ThreadingHTTPServer((host, port), Handler)
