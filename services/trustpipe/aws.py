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
from trustpipe.transient import is_transient

# The moto server accepts any credentials; real AWS uses the default credential chain.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
ASSUMED_ROLE_SECONDS = 3600
"""An assumed role's session: STS's default and the most a role chained from an instance profile
may ask for (a role's MaxSessionDuration does not apply to role chaining)."""
_RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=70)


class AwsClients:
    """Lazily created boto3 clients sharing one session (clients are thread-safe, sessions not).

    With ``role_arn`` every client acts as that role: it is assumed once, when the first client
    is created (so create them when the work that needs the role comes, not hours before: the
    session lasts ASSUMED_ROLE_SECONDS)."""

    def __init__(
        self, settings: Settings, role_arn: str | None = None, session_name: str = "trustpipe"
    ) -> None:
        self._settings = settings
        self._role_arn = role_arn
        self._session_name = session_name
        self._assumed: dict[str, str] | None = None
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

    def _create(self, service: str, as_role: bool = True) -> Any:
        extra: dict[str, Any] = {}
        if self._settings.aws_endpoint:
            extra = {"endpoint_url": self._settings.aws_endpoint, **LOCAL_CREDENTIALS}
        if as_role and self._role_arn is not None:
            extra |= self._role_credentials()
        session = boto3.session.Session(region_name=self._settings.region)
        client = session.client(service, config=_RETRIES, **extra)  # type: ignore[call-overload]
        client.meta.events.register(
            "after-call-error", functools.partial(_unreachable, client.meta.endpoint_url)
        )
        return client

    def _role_credentials(self) -> dict[str, str]:
        """The role's temporary credentials, assumed with this entry point's own ones."""
        if self._assumed is None:
            sts = self._create("sts", as_role=False)
            try:
                credentials = sts.assume_role(
                    RoleArn=self._role_arn,
                    RoleSessionName=self._session_name,
                    DurationSeconds=ASSUMED_ROLE_SECONDS,
                )["Credentials"]
            except ClientError as err:
                if is_transient(err):
                    raise
                raise SettingsError(
                    f"cannot assume the role {self._role_arn}: {err.response['Error'].get('Code', err)}"
                ) from err
            self._assumed = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        return self._assumed

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
