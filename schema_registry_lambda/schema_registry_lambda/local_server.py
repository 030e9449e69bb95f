"""Serve the registry's resolver over plain HTTP, as API Gateway's REST API proxy would:
`trustpipe registry serve`, the demo and the tests run the Lambda's own app this way."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from schema_registry_lambda.api import create_app
from schema_registry_lambda.dynamodb import DynamoStore
from schema_registry_lambda.registry import Registry
from schema_registry_lambda.store import InMemoryStore, Store

if TYPE_CHECKING:  # the Lambda zip carries this module (to_event) but not trustpipe.aws
    from trustpipe.aws import AwsClients

STORES = ("memory", "dynamodb", "auto")


STAGE = "registry"
"""The stage the events name (the schema_registry module's default stage_name)."""


def to_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (payload 1.0) for one request to ``/{proxy+}``."""
    # The request target is a path and a query, never a URL: urlsplit would read "//x/..." as a
    # host (and refuse "//[" outright).
    path, _, raw_query = target.partition("?")
    multi = parse_qs(raw_query, keep_blank_values=True)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path.strip("/") else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
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


def make_server(app: APIGatewayRestResolver, host: str, port: int) -> ThreadingHTTPServer:
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
            for name, values in (result.get("multiValueHeaders") or {}).items():
                for value in values:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            return  # access logs off; the registry logs what matters

    return ThreadingHTTPServer((host, port), Handler)


def build_store(kind: str, aws: Callable[[], AwsClients]) -> tuple[Store, str]:
    """The store to serve from (``kind`` is one of STORES), and a label saying which. ``aws`` is
    called only when the store needs the deployment (its SettingsError says why it cannot)."""
    from trustpipe.settings import SettingsError

    if kind not in STORES:
        raise SettingsError(f"--store must be one of {', '.join(STORES)}, not {kind!r}")
    if kind == "memory":
        return InMemoryStore(), "in-memory store"
    try:
        clients = aws()
    except SettingsError:
        if kind == "dynamodb":
            raise
        return InMemoryStore(), "in-memory store (the local stack is not up)"
    table = clients.settings.registry_table_name
    return DynamoStore(clients.client("dynamodb"), table), f"DynamoDB table {table}"


def serve(store: Store, host: str, port: int, say: Callable[[str], None], label: str) -> None:
    """Serve until Ctrl-C."""
    server = make_server(create_app(Registry(store)), host, port)
    say(f"schema registry on http://{host}:{server.server_port} ({label}); Ctrl-C stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextmanager
def running(store: Store) -> Iterator[str]:
    """The registry on ``store``, on a free loopback port, in a thread; its URL."""
    server = make_server(create_app(Registry(store)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
