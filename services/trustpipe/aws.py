"""AWS clients: one factory, clients created on first use, pointed at the settings' endpoint."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from trustpipe.settings import Settings

# The moto server accepts any credentials; real AWS uses the default credential chain.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=70)


class AwsClients:
    """Lazily created boto3 clients sharing one session (clients are thread-safe, sessions not)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._create(service)
            return self._clients[service]

    def _create(self, service: str) -> Any:
        extra: dict[str, Any] = {}
        if self._settings.aws_endpoint:
            extra = {"endpoint_url": self._settings.aws_endpoint, **LOCAL_CREDENTIALS}
        session = boto3.session.Session(region_name=self._settings.region)
        return session.client(service, config=_RETRIES, **extra)  # type: ignore[call-overload]

    @property
    def s3(self) -> Any:
        return self.client("s3")
