"""AWS clients: one factory per entry point, clients created on first use, pointed at the
settings' endpoint. Build one ``AwsClients`` at the edge (CLI command, DAG task, worker) and pass
it down: its clients (and their connection pools) are then shared by everything below."""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from trustpipe.errors import EndpointUnreachableError
from trustpipe.registry_client import RegistryClient
from trustpipe.settings import Settings, SettingsError

# The moto server accepts any credentials; real AWS uses the default credential chain.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=70)


class AwsClients:
    """Lazily created boto3 clients sharing one session (clients are thread-safe, sessions not)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        """The deployment these clients talk to."""
        return self._settings

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
        client = session.client(service, config=_RETRIES, **extra)  # type: ignore[call-overload]
        client.meta.events.register(
            "after-call-error", functools.partial(_unreachable, client.meta.endpoint_url)
        )
        return client

    @property
    def s3(self) -> Any:
        return self.client("s3")

    def secret_string(self, secret_id: str) -> str:
        """A Secrets Manager secret's current value (the database's RDS-managed credentials)."""
        try:
            return str(self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
        except ClientError as err:
            raise SettingsError(
                f"cannot read the secret {secret_id}: {err.response['Error'].get('Code', err)}"
            ) from err

    def registry(self) -> RegistryClient:
        """A client of the deployment's schema registry: requests SigV4-signed on AWS (the API
        takes IAM authorization), plain to the local stack's server."""
        url = self._settings.registry_url
        if not url:
            raise SettingsError("the settings have no registry_url: is the local stack up?")
        if self._settings.aws_endpoint:
            return RegistryClient(url)
        session = boto3.session.Session(region_name=self._settings.region)
        return RegistryClient(url, sign=functools.partial(sign_request, session, self._settings.region))


def sign_request(
    session: Any, region: str, method: str, url: str, headers: dict[str, str], body: bytes | None
) -> dict[str, str]:
    """``headers`` plus SigV4 for API Gateway (service ``execute-api``), with the session's
    current credentials (instance-profile credentials rotate: fetched per request)."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(session.get_credentials().get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def _unreachable(endpoint: str, exception: Exception, **_: Any) -> None:
    """botocore's after-call-error hook: an endpoint that never answered becomes one
    EndpointUnreachableError naming it (after botocore's own retries), not a stack of botocore
    frames. Every other error passes through unchanged."""
    if isinstance(exception, EndpointConnectionError | ConnectTimeoutError):
        raise EndpointUnreachableError(
            f"cannot reach the AWS endpoint {endpoint}: is the stack up (`trustpipe local up`), "
            "and are the settings' endpoint and region right?"
        ) from exception
