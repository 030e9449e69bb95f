"""The database's credentials from its Secrets Manager secret (the moto server's), on the local
PostgreSQL: each connect reads the secret, so a rotated password is used at once; `trustpipe db
url` prints what Airflow's metadata connection runs, `db create` makes Airflow's database once."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.harness.cli import run_cli
from trustpipe.aws import AwsClients
from trustpipe.db.connect import connector
from trustpipe.settings import Settings

ROLE = "secret_user"


@pytest.fixture
def secret_settings(settings: Settings, aws: AwsClients, tmp_path: Path) -> tuple[Settings, str, Path]:
    """The stack's settings with a password-less URL and a secret holding another user's login."""
    assert settings.database_url
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            conn.execute(f"CREATE ROLE {ROLE} LOGIN CREATEDB")
    arn = aws.client("secretsmanager").create_secret(
        Name=f"rds!db-{uuid.uuid4()}", SecretString=json.dumps({"username": ROLE, "password": "first:p@ss"})
    )["ARN"]
    derived = dataclasses.replace(settings, database_secret_arn=arn)
    path = tmp_path / "settings.json"
    derived.save(path)
    return derived, arn, path


def test_each_connect_reads_the_secret_so_a_rotation_is_picked_up(
    secret_settings: tuple[Settings, str, Path], aws: AwsClients
) -> None:
    settings, arn, _ = secret_settings
    connect = connector(settings)
    with connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (ROLE,)
        assert conn.info.password == "first:p@ss"
    aws.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": ROLE, "password": "rotated"})
    )
    with connect() as conn:
        assert conn.info.password == "rotated"


def test_db_url_and_create_for_airflows_database(secret_settings: tuple[Settings, str, Path]) -> None:
    settings, _, path = secret_settings
    name = f"airflow_{uuid.uuid4().hex[:8]}"
    out = run_cli("db", "url", "--settings", str(path), "--database", name, "--driver", "postgresql+psycopg2")
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    assert url.startswith(f"postgresql+psycopg2://{ROLE}:first%3Ap%40ss@") and url.endswith(f"/{name}")
    created = run_cli("db", "create", name, "--settings", str(path))
    assert created.returncode == 0 and f"database {name} created" in created.stdout, created.stderr
    again = run_cli("db", "create", name, "--settings", str(path))
    assert again.returncode == 0 and "already exists" in again.stdout
    with psycopg.connect(url.replace("+psycopg2", "")) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == (name, ROLE)
    assert settings.database_url
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name}")


def test_a_secret_that_cannot_be_read_is_one_line(secret_settings: tuple[Settings, str, Path]) -> None:
    settings, _, _ = secret_settings
    gone = "arn:aws:secretsmanager:us-east-1:1:secret:gone"  # Rich once drew ":secret:" as an emoji
    broken = dataclasses.replace(settings, database_secret_arn=gone)
    path = secret_settings[2].with_name("broken.json")
    broken.save(path)
    out = run_cli("db", "url", "--settings", str(path))
    assert out.returncode == 2
    assert f"cannot read the secret {gone}: ResourceNotFoundException" in out.stderr
    assert "Traceback" not in out.stderr
