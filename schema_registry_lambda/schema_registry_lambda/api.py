"""The registry's API: Confluent Schema Registry's paths on a Powertools REST API resolver.

The same resolver serves the Lambda (API Gateway REST API proxy events: the registry is a private
REST API, reached from inside the VPC) and `trustpipe registry serve` (which turns plain HTTP
requests into the same events).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from schema_registry_lambda import errors
from schema_registry_lambda.errors import RegistryError
from schema_registry_lambda.registry import Registry

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPTED_CONTENT_TYPES = (
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
)
MAX_BODY_BYTES = 1024 * 1024  # a schema (<= 256 KiB) JSON-escaped inside a request body

log = logging.getLogger("schema_registry")
Observer = Callable[[str, int, float], None]
"""Called with (route name, HTTP status, seconds taken) after each request; metrics hook."""


def _json(status: int, body: Any) -> Response:  # type: ignore[type-arg]
    return Response(status_code=status, content_type=CONTENT_TYPE, body=json.dumps(body))


def create_app(registry: Registry, observe: Observer | None = None) -> APIGatewayRestResolver:
    """The registry's routes on a resolver; ``observe`` sees every outcome."""
    app = APIGatewayRestResolver(strip_prefixes=[])

    def flag(name: str) -> bool:
        return (app.current_event.get_query_string_value(name) or "false").lower() == "true"

    def body() -> Any:
        event = app.current_event
        content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in ACCEPTED_CONTENT_TYPES:
            raise errors.unsupported_media_type(content_type)
        raw = event.decoded_body or ""
        if len(raw.encode()) > MAX_BODY_BYTES:
            raise errors.schema_too_large(len(raw.encode()), MAX_BODY_BYTES)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as err:
            raise errors.bad_request(f"Malformed JSON request body: {err}") from err

    def route(name: str, handler: Callable[..., Any]) -> Callable[..., Response]:  # type: ignore[type-arg]
        def run(**params: str) -> Response:  # type: ignore[type-arg]
            started = time.perf_counter()
            decoded = {k: unquote(v) for k, v in params.items()}
            try:
                response = _json(200, handler(**decoded))
            except RegistryError as err:
                response = _json(err.status, {"error_code": err.error_code, "message": err.message})
            except Exception:
                log.exception("registry fault on %s", name)
                response = _json(500, {"error_code": 50001, "message": "Error in the backend data store"})
            if observe is not None:
                observe(name, response.status_code, time.perf_counter() - started)
            return response

        return run

    r = registry
    routes: list[tuple[str, str, str, Callable[..., Any]]] = [
        ("GET", "/", "root", lambda: {}),
        ("GET", "/schemas/types", "schema_types", lambda: ["AVRO"]),
        (
            "GET",
            "/schemas/ids/<schema_id>",
            "schema_by_id",
            lambda schema_id: r.schema_by_id(_id(schema_id)),
        ),
        (
            "GET",
            "/schemas/ids/<schema_id>/schema",
            "schema_by_id_raw",
            lambda schema_id: json.loads(r.schema_text(_id(schema_id))),
        ),
        ("GET", "/subjects", "subjects", lambda: r.subjects(flag("deleted"))),
        (
            "POST",
            "/subjects/<subject>",
            "lookup",
            lambda subject: r.lookup(subject, body(), flag("deleted")),
        ),
        (
            "DELETE",
            "/subjects/<subject>",
            "delete_subject",
            lambda subject: r.delete_subject(subject, flag("permanent")),
        ),
        (
            "GET",
            "/subjects/<subject>/versions",
            "versions",
            lambda subject: r.versions(subject, flag("deleted")),
        ),
        (
            "POST",
            "/subjects/<subject>/versions",
            "register",
            lambda subject: r.register(subject, body()),
        ),
        (
            "GET",
            "/subjects/<subject>/versions/<version>",
            "version",
            lambda subject, version: r.version(subject, version, flag("deleted")),
        ),
        (
            "GET",
            "/subjects/<subject>/versions/<version>/schema",
            "version_schema",
            lambda subject, version: json.loads(r.version(subject, version, flag("deleted"))["schema"]),
        ),
        (
            "DELETE",
            "/subjects/<subject>/versions/<version>",
            "delete_version",
            lambda subject, version: r.delete_version(subject, version, flag("permanent")),
        ),
        (
            "POST",
            "/compatibility/subjects/<subject>/versions/<version>",
            "compatibility",
            lambda subject, version: r.test_compatibility(subject, version, body(), flag("verbose")),
        ),
        (
            "POST",
            "/compatibility/subjects/<subject>/versions",
            "compatibility_all",
            lambda subject: r.test_compatibility(subject, None, body(), flag("verbose")),
        ),
        ("GET", "/config", "get_config", lambda: r.get_config(None)),
        ("PUT", "/config", "set_config", lambda: r.set_config(None, body())),
        (
            "GET",
            "/config/<subject>",
            "get_subject_config",
            lambda subject: r.get_config(subject, flag("defaultToGlobal")),
        ),
        (
            "PUT",
            "/config/<subject>",
            "set_subject_config",
            lambda subject: r.set_config(subject, body()),
        ),
        (
            "DELETE",
            "/config/<subject>",
            "delete_subject_config",
            lambda subject: r.delete_config(subject),
        ),
    ]
    for method, path, name, handler in routes:
        app.route(path, method)(route(name, handler))

    @app.not_found
    def not_found(_exc: Exception) -> Response:  # type: ignore[type-arg]
        return _json(404, {"error_code": 404, "message": f"HTTP 404 Not Found: {app.current_event.path}"})

    return app


def _id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise errors.schema_not_found(text) from None
