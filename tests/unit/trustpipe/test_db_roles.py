"""How a service logs in on AWS (trustpipe.db.roles, the importer's connector): its own role, an
RDS IAM token made for each connection, TLS verified; hostile settings refused with one reason."""

from __future__ import annotations

import json
from typing import Any

import boto3
import psycopg
import pytest

from tests.harness.paths import ROOT
from trustpipe.db import connect as app
from trustpipe.db import roles
from trustpipe.settings import Settings, SettingsError
from trustpipe_orchestration import metadata

BASE = json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text())
VERIFIED = f"postgresql://trustpipe_admin@db.example:5432/trustpipe?sslmode=verify-full&sslrootcert={roles.RDS_CA_BUNDLE}"


class FakeRds:
    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def generate_db_auth_token(self, **kwargs: Any) -> str:
        self.asked.append(kwargs)
        return f"token-{len(self.asked)}"


def aws_settings(url: str = VERIFIED) -> Settings:
    return Settings.from_dict({**BASE, "database_url": url, "database_iam_auth": True, "aws_endpoint": None})


def test_each_connection_gets_a_fresh_token_for_the_services_own_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN AWS settings and an RDS client that counts the tokens it signs
    rds = FakeRds()
    monkeypatch.setattr(app.AwsClients, "client", lambda _self, _name: rds)
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(psycopg, "connect", lambda url, **kwargs: seen.append((url, kwargs)))
    # WHEN the importer connects twice
    connect = app.connector(aws_settings())
    connect()
    connect()
    # THEN twice as trustpipe_importer, each with a token of its own, never the master's secret
    assert [kw["password"] for _, kw in seen] == ["token-1", "token-2"]
    assert all(
        url.startswith("postgresql://trustpipe_importer@db.example:5432/trustpipe?") for url, _ in seen
    )
    assert rds.asked[0] == {
        "DBHostname": "db.example",
        "Port": 5432,
        "DBUsername": roles.IMPORTER,
        "Region": "us-east-1",
    }


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@db.example:5432/trustpipe?sslmode=require",
        "postgresql://u@db.example:5432/trustpipe?sslmode=verify-full",
        f"postgresql://u@db.example:5432/trustpipe?sslmode=verify-ca&sslrootcert={roles.RDS_CA_BUNDLE}",
        "postgresql://u@db.example:5432/trustpipe",
    ],
)
def test_iam_authentication_over_an_unverified_connection_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="must carry sslmode=verify-full and sslrootcert"):
        app.connector(aws_settings(url))


def test_a_real_rds_token_names_the_user_and_host_and_is_signed_here() -> None:
    client = boto3.client("rds", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    token = roles.rds_token(client, "eu-west-1")("db.example", 5432, roles.AIRFLOW)
    assert token.startswith("db.example:5432/?Action=connect&DBUser=trustpipe_airflow&")
    assert "X-Amz-Signature=" in token


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_settings_refuse_a_database_iam_auth_that_is_not_a_boolean(value: Any) -> None:
    data = {**BASE, "database_iam_auth": value}
    with pytest.raises(SettingsError, match="database_iam_auth must be true or false"):
        Settings.from_dict(data)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://a@h/airflow?sslmode=require"},
            "must carry sslmode=verify-full",
        ),
        (
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": VERIFIED.replace("postgresql", "postgresql+psycopg2")},
            "AWS_DEFAULT_REGION is not set",
        ),
    ],
)
def test_airflows_metadata_listener_refuses_an_unverified_url_or_no_region(
    env: dict[str, str], reason: str
) -> None:
    with pytest.raises(SettingsError, match=reason):
        metadata.install_from_environment(env)


def test_airflows_metadata_listener_leaves_a_local_sqlite_alone() -> None:
    metadata.install_from_environment({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/a.db"})
    assert metadata._installed == []
