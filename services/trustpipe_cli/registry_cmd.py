"""`trustpipe registry serve`: the registry's Lambda app over plain HTTP."""

from __future__ import annotations

from collections.abc import Callable

from schema_registry_lambda.api import create_app
from schema_registry_lambda.dynamodb import DynamoStore
from schema_registry_lambda.local_server import make_server
from schema_registry_lambda.registry import Registry
from schema_registry_lambda.store import InMemoryStore, Store
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings, SettingsError


def build_store(kind: str, settings: Callable[[], Settings]) -> tuple[Store, str]:
    """The store to serve from, and a label saying which."""
    if kind == "memory":
        return InMemoryStore(), "in-memory store"
    try:
        resolved = settings()
    except SettingsError:
        if kind == "dynamodb":
            raise
        return InMemoryStore(), "in-memory store (the local stack is not up)"
    client = AwsClients(resolved).client("dynamodb")
    return DynamoStore(client, resolved.registry_table_name), f"DynamoDB table {resolved.registry_table_name}"


def serve(store: Store, host: str, port: int, say: Callable[[str], None], label: str) -> None:
    server = make_server(create_app(Registry(store)), host, port)
    say(f"schema registry on http://{host}:{server.server_port} ({label}); Ctrl-C stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
