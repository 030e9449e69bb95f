"""How an enterprise's sensors reach the raw stream: through the ingestion front door.

Each enterprise's batch is signed (SigV4, service ``execute-api``) with that enterprise's sensor
credentials and POSTed to ``<frontdoor_url>/records``; the front door stamps the enterprise it
authenticated on every record. Records the stream throttled, and requests answered 429 or 5xx,
are sent again with capped, jittered backoff; any other refusal (403, 400) is the sender's
mistake and raises at once.

``KinesisProducer`` puts straight to the stream with the key the front door would stamp: for the
tests and benchmarks that exercise the stream's consumers, not the sensors' path.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trustpipe import ingest, tenants
from trustpipe.errors import PermanentError, TransientError
from trustpipe.retry import Backoff
from trustpipe.settings import Settings, SettingsError
from trustpipe_stream.put import Putter

POST_ATTEMPTS = 10
BACKOFF = Backoff(0.1, 5.0)
REQUEST_TIMEOUT_SECONDS = 35
"""A little past API Gateway's 30 s integration timeout."""

Item = tuple[bytes, str]
"""(framed record, message id) of one message."""


class FrontDoorRefusedError(PermanentError):
    """The front door refused a batch for good (403: not a sensor; 400: not a batch)."""


class FrontDoorUnavailableError(TransientError):
    """Records still refused after every retry (throttled, or the front door failing)."""


class Producer(Protocol):
    """Where a stream run's sensors send each enterprise's messages."""

    calls: int
    retried: int

    def put(self, enterprise_id: str, items: Sequence[Item]) -> None: ...


def requests_of(items: Sequence[Item]) -> Iterator[Sequence[Item]]:
    """``items`` in front-door-sized requests: 500 records, 5 MiB of data at most."""
    start = 0
    while start < len(items):
        end, size = start, 0
        while (
            end < len(items)
            and end - start < ingest.MAX_REQUEST_RECORDS
            and (end == start or size + len(items[end][0]) <= ingest.MAX_REQUEST_DATA_BYTES)
        ):
            size += len(items[end][0])
            end += 1
        yield items[start:end]
        start = end


def http_post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST and the answer's status and body (an HTTP error status is an answer, not a raise)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        return 599, json.dumps({"message": f"front door unreachable: {err}"}).encode()


def signed_headers(
    credentials: ingest.SensorCredentials, region: str, url: str, body: bytes
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    frozen = Credentials(credentials.access_key_id, credentials.secret_access_key, credentials.session_token)
    SigV4Auth(frozen, ingest.SIGNING_SERVICE, region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class FrontDoorProducer:
    """Each enterprise's records POSTed to the front door, signed with its sensor session."""

    url: str
    region: str
    credentials_of: Callable[[str], ingest.SensorCredentials]
    post: Callable[[str, dict[str, str], bytes], tuple[int, bytes]] = http_post
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    calls: int = 0
    retried: int = 0

    def put(self, enterprise_id: str, items: Sequence[Item]) -> None:
        for request in requests_of(items):
            self._send(enterprise_id, request)

    def _send(self, enterprise_id: str, items: Sequence[Item]) -> None:
        endpoint = self.url.rstrip("/") + ingest.RECORDS_PATH
        pending, why = list(items), ""
        for attempt in range(POST_ATTEMPTS):
            body = ingest.request_body(pending)
            headers = signed_headers(self.credentials_of(enterprise_id), self.region, endpoint, body)
            self.calls += 1
            status, raw = self.post(endpoint, headers, body)
            answer = _json(raw)
            if status == 200:
                outcomes = answer.get("records", [])
                pending = [i for i, o in zip(pending, outcomes, strict=True) if "error_code" in o]
                if not pending:
                    return
                why = ", ".join(sorted({o["error_code"] for o in outcomes if "error_code" in o}))
            elif status == 429 or status >= 500:
                why = f"{status} {answer.get('message', '')}".strip()
            else:
                raise FrontDoorRefusedError(
                    f"the front door refused {enterprise_id}'s batch: {status} {answer.get('message', '')}"
                )
            self.retried += len(pending)
            self.sleep(BACKOFF.delay(attempt, self.jitter))
        raise FrontDoorUnavailableError(
            f"{len(pending)} of {enterprise_id}'s records still refused after {POST_ATTEMPTS} attempts: {why}"
        )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode(errors="replace")}
    return doc if isinstance(doc, dict) else {}


@dataclass
class KinesisProducer:
    """Straight to the stream, keyed as the front door stamps: ``<enterprise>/<message id>``."""

    putter: Putter

    @property
    def calls(self) -> int:
        return self.putter.calls

    @property
    def retried(self) -> int:
        return self.putter.retried

    def put(self, enterprise_id: str, items: Sequence[Item]) -> None:
        self.putter.put((data, tenants.partition_key(enterprise_id, mid)) for data, mid in items)


RENEW_BEFORE = timedelta(minutes=5)


@dataclass
class AssumedSessions:
    """On AWS: each enterprise's sensor session from STS AssumeRole of its sensor role (the
    tenant map's), renewed a few minutes before it expires."""

    sts: Any
    roles: dict[str, str]
    session_name: str = "trustpipe-sensor"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _cache: dict[str, tuple[ingest.SensorCredentials, datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, enterprise_id: str) -> ingest.SensorCredentials:
        with self._lock:
            cached = self._cache.get(enterprise_id)
            if cached is None or self.clock() >= cached[1] - RENEW_BEFORE:
                if enterprise_id not in self.roles:
                    raise FrontDoorRefusedError(f"enterprise {enterprise_id!r} has no sensor role")
                creds = ingest.assume_sensor_role(
                    self.sts, enterprise_id, self.roles[enterprise_id], self.session_name
                )
                cached = (creds, self.clock() + timedelta(hours=1))
                self._cache[enterprise_id] = cached
            return cached[0]


@dataclass
class LocalSessions:
    """The local stack: the sensor sessions it obtained from STS on the moto server (its
    front door checks signatures against the same file), read again when the stack renews them."""

    path: Path
    _seen: tuple[float, dict[str, ingest.SensorCredentials]] | None = None

    def __call__(self, enterprise_id: str) -> ingest.SensorCredentials:
        mtime = self.path.stat().st_mtime
        if self._seen is None or self._seen[0] != mtime:
            self._seen = (mtime, ingest.load_sensor_credentials(self.path))
        try:
            return self._seen[1][enterprise_id]
        except KeyError:
            raise FrontDoorRefusedError(
                f"the local stack holds no sensor session for {enterprise_id!r}"
            ) from None


def producer_for(settings: Settings, sts: Callable[[], Any]) -> FrontDoorProducer:
    """The sensors' way to the raw stream in this deployment (``sts``: a client of whoever may
    assume the sensor roles, asked for only on AWS)."""
    if not settings.frontdoor_url:
        raise SettingsError("the settings have no frontdoor_url: is the local stack (or the deployment) up?")
    sessions: Callable[[str], ingest.SensorCredentials]
    if settings.sensor_credentials_file:
        sessions = LocalSessions(Path(settings.sensor_credentials_file))
    else:
        roles = {ent: t["sensor_role_arn"] for ent, t in settings.tenants.items() if t.get("sensor_role_arn")}
        sessions = AssumedSessions(sts(), roles)
    return FrontDoorProducer(settings.frontdoor_url, settings.region, sessions)
