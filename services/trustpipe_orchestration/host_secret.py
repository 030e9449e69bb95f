"""The Airflow host's own keys and its admin's credentials, read from the secret Terraform
generates them into (infra/modules/orchestration: ``<name>/airflow/host``).

Nothing of it is on the host's disk: Airflow runs ``trustpipe airflow-host secret KEY`` for its
``fernet_key``, ``jwt_secret`` and ``secret_key`` options (``*_CMD``) each time a component
starts, and the boot unit runs ``trustpipe airflow-host admin`` to hold the UI's admin user to the
secret's password. A replaced host reads the same secret, so it decrypts what the last one
encrypted, accepts its tokens and keeps its admin. Reading and checking here import no Airflow
(the workers' venv runs ``trustpipe airflow-host secret``); only ``ensure_admin`` does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from trustpipe.errors import UserError

FERNET_KEY_BYTES = 32
"""A Fernet key is 32 bytes (16 to sign, 16 to encrypt), written as URL-safe base64."""
MIN_SECRET_CHARS = 32
"""The JWT secret and the API's session key: shorter ones are guessable offline."""
ADMIN_ROLE = "Admin"
"""FAB's built-in role with every permission."""
AIRFLOW_KEYS = ("fernet_key", "jwt_secret", "api_secret_key")
"""What Airflow's ``*_CMD`` options ask ``trustpipe airflow-host secret`` for; the admin's
credentials are the boot unit's only (``ensure_admin``)."""


class HostSecretError(UserError, ValueError):
    """The Airflow host's secret is missing a key or holds one Airflow could not use."""


@dataclass(frozen=True, repr=False)
class HostSecret:
    """The secret's five keys, each checked as Airflow will use it."""

    fernet_key: str
    jwt_secret: str
    api_secret_key: str
    admin_username: str
    admin_password: str

    def __repr__(self) -> str:  # a traceback or a log line never shows a key
        return f"HostSecret(admin_username={self.admin_username!r}, ...)"


def parse(secret_string: str) -> HostSecret:
    """The secret's JSON, each key present and usable; else one HostSecretError naming the key."""
    try:
        data: Any = json.loads(secret_string)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise HostSecretError("the Airflow host secret is not a JSON object")
    names = [f.name for f in fields(HostSecret)]
    for name in names:
        if not isinstance(data.get(name), str) or not data[name]:
            raise HostSecretError(f"the Airflow host secret has no {name} (a non-empty string)")
    for name in ("jwt_secret", "api_secret_key", "admin_password"):
        if len(data[name]) < MIN_SECRET_CHARS:
            raise HostSecretError(
                f"the Airflow host secret's {name} is shorter than {MIN_SECRET_CHARS} characters"
            )
    _check_fernet_key(data["fernet_key"])
    return HostSecret(**{name: data[name] for name in names})


def _check_fernet_key(key: str) -> None:
    """As ``cryptography.fernet.Fernet`` reads it: URL-safe base64 of exactly 32 bytes."""
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as err:
        raise HostSecretError("the Airflow host secret's fernet_key is not URL-safe base64") from err
    if len(raw) != FERNET_KEY_BYTES:
        raise HostSecretError(
            f"the Airflow host secret's fernet_key is {len(raw)} bytes, not {FERNET_KEY_BYTES}"
        )


def read(secret_id: str, read_secret: Callable[[str], str]) -> HostSecret:
    """The secret ``secret_id``, read now (``read_secret``: Secrets Manager's GetSecretValue)."""
    return parse(read_secret(secret_id))


def check_key(key: str) -> str:
    """``key`` if it is one of Airflow's keys (AIRFLOW_KEYS), else HostSecretError."""
    if key not in AIRFLOW_KEYS:
        raise HostSecretError(f"no Airflow key {key!r}: one of {', '.join(AIRFLOW_KEYS)}")
    return key


def value(secret: HostSecret, key: str) -> str:
    """One of Airflow's keys by the name the secret stores it under."""
    return str(getattr(secret, check_key(key)))


def ensure_admin(secret: HostSecret) -> str:
    """Hold FAB's admin user to the secret: created with the Admin role if missing, its password
    set to the secret's otherwise. Run once per boot, after ``airflow db migrate`` (the metadata
    database outlives the host, so the user does too); says what it did."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        user = security.find_user(username=secret.admin_username)
        if user is None:
            role = security.find_role(ADMIN_ROLE)
            created = security.add_user(
                secret.admin_username,
                "Airflow",
                "Admin",
                f"{secret.admin_username}@localhost",
                role,
                secret.admin_password,
            )
            if not created:
                raise HostSecretError(f"FAB refused to create the admin user {secret.admin_username!r}")
            return f"admin user {secret.admin_username} created"
        security.reset_password(user.id, secret.admin_password)
        return f"admin user {secret.admin_username}: password set from the secret"
