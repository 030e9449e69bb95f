"""The registry's resolver driven with API Gateway REST API proxy events (no network)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from schema_registry_lambda.api import create_app
from schema_registry_lambda.local_server import _LocalContext, to_event
from schema_registry_lambda.registry import Registry
from schema_registry_lambda.store import InMemoryStore


@dataclass
class Answer:
    status: int
    body: Any


class Api:
    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.app = create_app(Registry(self.store))

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: str | None = None,
        content_type: str = "application/vnd.schemaregistry.v1+json",
    ) -> Answer:
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        event = to_event(method, path, {"Content-Type": content_type}, data.encode(), "127.0.0.1")
        result = self.app.resolve(event, _LocalContext())  # type: ignore[arg-type]
        return Answer(int(result["statusCode"]), json.loads(result["body"]) if result["body"] else None)

    def register(self, subject: str, schema: Any) -> Answer:
        return self.call("POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)})

    def set_level(self, level: str, subject: str | None = None) -> None:
        path = "/config" if subject is None else f"/config/{subject}"
        assert self.call("PUT", path, {"compatibility": level}).status == 200


def record(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields)}
