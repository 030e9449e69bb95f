"""The database's credentials from the secret RDS manages for it: read when a connection is made,
so a rotated password is picked up on the next connect, and never written to a file, a unit, user
data or Terraform's state."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

from trustpipe.settings import SettingsError

ReadSecret = Callable[[str], str]
"""A secret's ARN -> its SecretString (Secrets Manager's GetSecretValue)."""


def has_password(database_url: str) -> bool:
    return urlsplit(database_url).password is not None


def credentials(secret_string: str) -> tuple[str | None, str]:
    """(user, password) of an RDS-managed secret (``{"username": ..., "password": ...}``)."""
    try:
        data = json.loads(secret_string)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("password"), str):
        raise SettingsError('the database secret is not the JSON RDS writes ({"username", "password"})')
    user = data.get("username")
    return (user if isinstance(user, str) else None), data["password"]


def with_credentials(database_url: str, secret_string: str) -> str:
    """``database_url`` with the user and password of an RDS-managed secret."""
    secret_user, password = credentials(secret_string)
    parts = urlsplit(database_url)
    user = secret_user or parts.username
    if not user:
        raise SettingsError("neither the database URL nor its secret names a user")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def resolve(database_url: str, secret_arn: str | None, read_secret: ReadSecret) -> str:
    """The URL to connect with: as given when it carries a password or there is no secret, else
    with the secret's credentials (read now)."""
    if secret_arn is None or has_password(database_url):
        return database_url
    return with_credentials(database_url, read_secret(secret_arn))
