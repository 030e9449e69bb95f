"""Airflow's Variables and Connections from Parameter Store, as Terraform writes them.

The Amazon provider's Parameter Store backend, with one addition: a connection whose ``extra``
names a ``password_secret`` gets its password from that Secrets Manager secret (the one RDS
manages and rotates for the database) each time the connection is looked up. Terraform writes the
``trustpipe_db`` connection with the secret's ARN, so the password is never in Terraform's state,
a parameter, user data or a Variable, and a rotation needs no restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.secrets.systems_manager import SystemsManagerParameterStoreBackend

from trustpipe.db import secret

PASSWORD_SECRET = "password_secret"  # noqa: S105 (the name of an extra, not a password)
"""The connection extra naming the secret (JSON with a ``password``) its password comes from."""


class ParameterStoreBackend(SystemsManagerParameterStoreBackend):
    """``AIRFLOW__SECRETS__BACKEND=trustpipe_orchestration.secrets.ParameterStoreBackend``."""

    @cached_property
    def secrets_manager(self) -> Any:
        import boto3

        return boto3.session.Session(region_name=self.kwargs.get("region_name")).client("secretsmanager")

    def deserialize_connection(self, conn_id: str, value: str) -> Any:
        return super().deserialize_connection(conn_id, with_secret_password(value, self.read_secret))

    def read_secret(self, secret_id: str) -> str:
        return str(self.secrets_manager.get_secret_value(SecretId=secret_id)["SecretString"])


def with_secret_password(value: str, read_secret: Callable[[str], str]) -> str:
    """A JSON connection with the password of the secret its extra names (the reference removed,
    so the driver never sees it); any other connection unchanged."""
    if not value.lstrip().startswith("{"):
        return value
    data = json.loads(value)
    extra = data.get("extra")
    if isinstance(extra, str):
        extra = json.loads(extra or "{}")
    if not isinstance(extra, dict) or PASSWORD_SECRET not in extra:
        return value
    _, password = secret.credentials(read_secret(extra.pop(PASSWORD_SECRET)))
    return json.dumps({**data, "password": password, "extra": extra})
