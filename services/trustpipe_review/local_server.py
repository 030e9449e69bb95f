"""Serve the review API's resolver over plain HTTP as API Gateway's HTTP API would (payload 2.0
events): `trustpipe review serve` on the local stack and the tests run the Lambda's own app so.
The server plays the JWT authorizer too: each bearer token is checked against the user pool's
JWKS (``TokenVerifier``) and its claims put into the event where API Gateway puts them; a token
refused is a 401 before the app sees the request."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from trustpipe_review.api import resolve
from trustpipe_review.auth import TokenVerifier
from trustpipe_review.errors import UnauthenticatedError

STAGE = "$default"
MAX_READ_BYTES = 64 * 1024
"""What the server reads of a body at most (the API refuses over 4 KiB with one reason; a larger
Content-Length is refused without reading it)."""


def to_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload 2.0) for one request on the ``$default`` stage."""
    path, _, raw_query = target.partition("?")
    lower = {k.lower(): v for k, v in headers.items()}
    query: dict[str, str] = {}
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        query[unquote_plus(name)] = unquote_plus(value)
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lower,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lower.get("host", "localhost"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": STAGE,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }


PUBLIC_PATHS = frozenset({"/openapi.json", "/", "/page.js", "/config.json"})
"""Routes without the authorizer: the API's own description and the review page's files (the
page signs in at the user pool itself)."""


def authorize(event: dict[str, Any], verifier: TokenVerifier) -> dict[str, Any] | None:
    """What API Gateway's JWT authorizer does: the event's verified claims put in its request
    context; or, for a token refused, the 401 answer (None: authorized, or a public route)."""
    if event["rawPath"] in PUBLIC_PATHS:
        return None
    try:
        claims = verifier.claims((event.get("headers") or {}).get("authorization"))
    except UnauthenticatedError as err:
        return {
            "statusCode": int(err.status),
            "headers": {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
            "body": json.dumps({"error": err.reason}),
        }
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return None


class _LocalContext:
    function_name = "review-api-local"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:review-api-local"
    aws_request_id = "local"


def make_server(
    app: APIGatewayHttpResolver, verifier: TokenVerifier | None, host: str, port: int
) -> ThreadingHTTPServer:
    """An HTTP server dispatching to ``app``, one request at a time through the resolver (it
    keeps the current event on itself), each token checked by ``verifier`` first (None: no
    authorizer, the app refuses every request without claims)."""
    lock = threading.Lock()
    context = _LocalContext()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_READ_BYTES:
                self._send(413 if length > 0 else 400, b'{"error": "a body of this length is refused"}', {})
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            event = to_event(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            refused = authorize(event, verifier) if verifier is not None else None
            if refused is not None:
                result = refused
            else:
                with lock:
                    result = resolve(app, event, context)
            headers = dict(result.get("headers") or {})
            self._send(int(result["statusCode"]), (result.get("body") or "").encode(), headers)

        def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            return

    return ThreadingHTTPServer((host, port), Handler)


def serve(
    app: APIGatewayHttpResolver, verifier: TokenVerifier, host: str, port: int, say: Callable[[str], None]
) -> None:
    """Serve until Ctrl-C."""
    server = make_server(app, verifier, host, port)
    say(f"review API on http://{host}:{server.server_port} (OpenAPI at /openapi.json); Ctrl-C stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextmanager
def running(app: APIGatewayHttpResolver, verifier: TokenVerifier | None) -> Iterator[str]:
    """``app`` on a free loopback port, in a thread; its URL."""
    server = make_server(app, verifier, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
