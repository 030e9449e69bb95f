"""Client of the schema registry (Confluent's REST API): register, fetch by id, latest version.

Every producer and consumer uses it with the codec's framing: a producer registers its writer
schema once and frames records with the id; a consumer fetches each id once and caches it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from urllib3.util import Retry

from trustpipe.bounded import ExpiringSet
from trustpipe.codec import UnknownSchemaIdError
from trustpipe.contracts import Schema
from trustpipe.errors import RunError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
# Server faults and connection errors retry with capped, jittered backoff; 4xx never do.
RETRIES = Retry(
    total=6,
    connect=6,
    read=3,
    status=6,
    backoff_factor=0.2,
    backoff_max=5.0,
    backoff_jitter=0.2,
    status_forcelist=(500, 502, 503, 504),
    allowed_methods=None,
    raise_on_status=False,
)
UNKNOWN_ID_SECONDS = 60.0
"""How long an id the registry said it does not have is answered as unknown without asking: a
producer sending random ids costs one request per id a minute, not one per record (the registry's
API is throttled), and a schema registered meanwhile is found within the minute."""
UNKNOWN_ID_MEMORY = 10_000
"""How many such ids are remembered at once (the most recent; an older one is asked again)."""
SCHEMA_NOT_FOUND = 40403
"""The registry's error code for "no schema with this id" (Confluent's, with HTTP 404)."""


Signer = Callable[[str, str, dict[str, str], bytes | None], dict[str, str]]
"""(method, url, headers, body) -> the headers to send: SigV4 on AWS (the API's routes take IAM
authorization), nothing added locally."""


class RegistryClientError(RunError):
    """The registry answered with an error (or could not be reached)."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(f"schema registry: {message} (HTTP {status}, code {error_code})")
        self.status = status
        self.error_code = error_code


@dataclass(frozen=True)
class RegisteredSchema:
    """A subject version as the registry reports it."""

    subject: str
    version: int
    schema_id: int
    schema: Schema


class RegistryClient:
    """Thread-safe; ``get_by_id`` asks the registry once per id for the life of the process, and
    once per ``UNKNOWN_ID_SECONDS`` for an id it answered it does not have."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        retries: Retry = RETRIES,
        sign: Signer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._sign = sign
        self._http = urllib3.PoolManager(retries=retries, timeout=timeout)
        self._by_id: dict[int, Schema] = {}
        self._registered: dict[tuple[str, str], int] = {}
        self._unknown = ExpiringSet(UNKNOWN_ID_SECONDS, UNKNOWN_ID_MEMORY, clock)
        self._lock = threading.Lock()
        self.requests = 0
        """HTTP requests made (retries aside); how consumers prove they cache."""

    def register(self, subject: str, schema: Schema) -> int:
        """The id of ``schema`` under ``subject``, registering it if needed (cached per process)."""
        text = json.dumps(schema, separators=(",", ":"))
        key = (subject, text)
        if key not in self._registered:
            body = self._call("POST", f"/subjects/{quote(subject, safe='')}/versions", {"schema": text})
            with self._lock:
                self._registered[key] = int(body["id"])
                self._by_id.setdefault(int(body["id"]), schema)
        return self._registered[key]

    def get_by_id(self, schema_id: int) -> Schema:
        """The schema registered under ``schema_id``; UnknownSchemaIdError when there is none.

        A definite "not found" (HTTP 404, code 40403) is remembered for ``UNKNOWN_ID_SECONDS``:
        the id is unknown without a request until then, so a schema registered under it meanwhile
        is found once that memory expires. A registry that cannot be reached, throttles or fails
        is never remembered: its RegistryClientError stays transient."""
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        with self._lock:
            if schema_id in self._unknown:
                raise UnknownSchemaIdError(f"schema id {schema_id} is not registered")
            if schema_id not in self._by_id:
                try:
                    body = self._call("GET", f"/schemas/ids/{schema_id}")
                except RegistryClientError as err:
                    if err.status == 404:
                        if err.error_code == SCHEMA_NOT_FOUND:
                            self._unknown.add(schema_id)
                        raise UnknownSchemaIdError(f"schema id {schema_id} is not registered") from err
                    raise
                self._by_id[schema_id] = json.loads(body["schema"])
            return self._by_id[schema_id]

    __call__ = get_by_id  # a codec SchemaLookup

    def latest(self, subject: str) -> RegisteredSchema:
        body = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions/latest")
        return RegisteredSchema(
            body["subject"], int(body["version"]), int(body["id"]), json.loads(body["schema"])
        )

    def _call(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        self.requests += 1
        data = None if payload is None else json.dumps(payload).encode()
        url = self.base_url + path
        headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
        if self._sign is not None:
            headers = self._sign(method, url, headers, data)
        try:
            response = self._http.request(method, url, body=data, headers=headers)
        except urllib3.exceptions.HTTPError as err:
            raise RegistryClientError(0, 0, f"unreachable at {self.base_url}: {err}") from err
        try:
            body: dict[str, Any] = json.loads(response.data or b"{}")
        except json.JSONDecodeError as err:
            raise RegistryClientError(response.status, 0, "answer is not JSON") from err
        if response.status >= 400:
            raise RegistryClientError(
                response.status,
                int(body.get("error_code", response.status)),
                str(body.get("message", "")),
            )
        return body
