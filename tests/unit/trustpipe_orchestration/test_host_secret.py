"""The Airflow host's secret: each key checked as Airflow will use it, one clear reason when one is
not; the keys read by the command Airflow's ``*_CMD`` options run (in-process moto)."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.fernet import Fernet
from moto import mock_aws

from tests.harness.cli import run_cli
from tests.harness.paths import ROOT
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings, SettingsError
from trustpipe_orchestration import host_secret
from trustpipe_orchestration.host_secret import HostSecretError

ALPHANUMERIC = string.ascii_letters + string.digits
"""GetRandomPassword's alphabet with exclude_punctuation: a subset of URL-safe base64's."""


def terraform_fernet_key(rng: random.Random) -> str:
    """A fernet key as infra/modules/orchestration writes it: 43 random characters and "="."""
    return "".join(rng.choice(ALPHANUMERIC) for _ in range(43)) + "="


GOOD = {
    "fernet_key": terraform_fernet_key(random.Random(34)),
    "jwt_secret": "j" * 64,
    "api_secret_key": "k" * 64,
    "admin_username": "admin",
    "admin_password": "p" * 32,
}


def test_a_secret_as_terraform_writes_it_is_read_and_its_fernet_key_works() -> None:
    # WHEN the secret Terraform writes is parsed
    secret = host_secret.parse(json.dumps(GOOD))
    # THEN each of Airflow's keys is its own, and the fernet key is one cryptography accepts
    assert [host_secret.value(secret, key) for key in host_secret.AIRFLOW_KEYS] == [
        GOOD["fernet_key"],
        GOOD["jwt_secret"],
        GOOD["api_secret_key"],
    ]
    box = Fernet(secret.fernet_key.encode())
    assert box.decrypt(box.encrypt(b"connection password")) == b"connection password"
    # and no key is shown when the secret is printed or logged
    assert all(GOOD[k] not in repr(secret) for k in ("fernet_key", "jwt_secret", "admin_password"))


def test_every_key_of_terraforms_shape_is_a_fernet_key() -> None:
    # GIVEN keys as Terraform makes them (the 43rd character's last two bits are padding, which
    # base64 decoding drops: any character will do)
    rng = random.Random(7)
    for key in [terraform_fernet_key(rng) for _ in range(300)] + ["9" * 43 + "=", "z" * 43 + "="]:
        # THEN each is accepted here and by cryptography alike
        host_secret.parse(json.dumps({**GOOD, "fernet_key": key}))
        assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "is not a JSON object"),
        ('["fernet_key"]', "is not a JSON object"),
        (json.dumps({**GOOD, "jwt_secret": None}), "has no jwt_secret"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "admin_password"}), "has no admin_password"),
        (json.dumps({**GOOD, "admin_username": ""}), "has no admin_username"),
        (json.dumps({**GOOD, "api_secret_key": "short"}), "api_secret_key is shorter than 32 characters"),
        (json.dumps({**GOOD, "fernet_key": "A" * 43}), "fernet_key is not URL-safe base64"),
        (json.dumps({**GOOD, "fernet_key": "QUJD"}), "fernet_key is 3 bytes, not 32"),
        (json.dumps({**GOOD, "fernet_key": "é" * 44}), "fernet_key is not URL-safe base64"),
    ],
)
def test_a_secret_airflow_could_not_use_is_refused_with_one_reason(text: str, reason: str) -> None:
    with pytest.raises(HostSecretError, match=reason):
        host_secret.parse(text)


def test_only_airflows_keys_are_printed() -> None:
    secret = host_secret.parse(json.dumps(GOOD))
    with pytest.raises(HostSecretError, match="no Airflow key 'admin_password': one of fernet_key"):
        host_secret.value(secret, "admin_password")


@pytest.fixture
def aws() -> Iterator[AwsClients]:
    with mock_aws():
        settings = Settings.from_dict({**_fixture_settings(), "aws_endpoint": None})
        yield AwsClients(settings)


def _fixture_settings() -> dict[str, Any]:
    return dict(json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text()))


def test_the_keys_are_read_from_secrets_manager_now(aws: AwsClients) -> None:
    # GIVEN the host secret in Secrets Manager
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="trustpipe-dev/airflow/host", SecretString=json.dumps(GOOD))["ARN"]
    # WHEN it is read, then rotated by hand and read again
    first = host_secret.read(arn, aws.secret_string)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({**GOOD, "jwt_secret": "n" * 64}))
    second = host_secret.read(arn, aws.secret_string)
    # THEN each read sees the secret's current value (nothing cached on the host)
    assert first.jwt_secret == GOOD["jwt_secret"] and second.jwt_secret == "n" * 64


def test_a_secret_the_host_cannot_read_is_named(aws: AwsClients) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trustpipe-dev/airflow/host-AbCdEf"
    with pytest.raises(
        SettingsError, match=r"cannot read the secret .*host-AbCdEf: ResourceNotFoundException"
    ):
        host_secret.read(arn, aws.secret_string)


def test_the_cli_refuses_a_key_airflow_never_asks_for_before_any_request(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text((ROOT / "tests/unit/fixtures/settings.json").read_text())
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"
    result = run_cli("airflow-host", "secret", "admin_password", "--secret", arn, "--settings", str(settings))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "no Airflow key 'admin_password'" in line
