"""The secrets backend's one addition to the Amazon provider's: a connection's password from the
secret its extra names, read at each lookup."""

from __future__ import annotations

import json

import pytest

from trustpipe_orchestration.secrets import ParameterStoreBackend, with_secret_password

SECRET = "arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1"
STORED = json.dumps(
    {
        "conn_type": "postgres",
        "host": "db.example",
        "port": 5432,
        "schema": "trustpipe",
        "login": "trustpipe_admin",
        "extra": {"sslmode": "require", "password_secret": SECRET},
    }
)


def test_the_password_comes_from_the_named_secret_and_the_reference_goes() -> None:
    reads: list[str] = []

    def read(arn: str) -> str:
        reads.append(arn)
        return json.dumps({"username": "trustpipe_admin", "password": "s3cret"})

    got = json.loads(with_secret_password(STORED, read))
    assert got["password"] == "s3cret" and got["extra"] == {"sslmode": "require"}
    assert reads == [SECRET]


@pytest.mark.parametrize(
    "value",
    ["postgresql://u:p@h/db", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}})],
    ids=["uri", "json-without-reference"],
)
def test_other_connections_pass_unchanged(value: str) -> None:
    def read(arn: str) -> str:
        raise AssertionError("no secret is read")

    assert with_secret_password(value, read) == value


def test_the_backend_builds_the_connection_airflow_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ParameterStoreBackend(connections_prefix="/trustpipe-dev/airflow/connections")
    monkeypatch.setattr(backend, "get_conn_value", lambda conn_id, team_name=None: STORED)
    monkeypatch.setattr(backend, "read_secret", lambda arn: json.dumps({"password": "rotated"}))
    conn = backend.get_connection("trustpipe_db")
    assert conn.password == "rotated" and conn.host == "db.example" and conn.port == 5432
    assert conn.extra_dejson == {"sslmode": "require"}
