"""The database URL with its secret's credentials, and the URL forms `trustpipe db url` prints."""

from __future__ import annotations

import json

import pytest

from trustpipe.db import migrate, secret
from trustpipe.settings import SettingsError

URL = "postgresql://trustpipe_admin@db.example:5432/trustpipe?sslmode=require"


def test_the_secret_fills_user_and_password_quoted() -> None:
    value = json.dumps({"username": "trustpipe_admin", "password": "p@ss:w/rd%"})
    url = secret.with_credentials(URL, value)
    assert url == "postgresql://trustpipe_admin:p%40ss%3Aw%2Frd%25@db.example:5432/trustpipe?sslmode=require"


def test_resolve_reads_the_secret_only_when_the_url_has_no_password() -> None:
    reads: list[str] = []

    def read(arn: str) -> str:
        reads.append(arn)
        return json.dumps({"username": "u", "password": "p"})

    assert secret.resolve(URL, None, read) == URL
    assert secret.resolve("postgresql://u:given@h/db", "arn:s", read) == "postgresql://u:given@h/db"
    assert reads == []
    assert secret.resolve(URL, "arn:s", read) == "postgresql://u:p@db.example:5432/trustpipe?sslmode=require"
    assert secret.resolve(URL, "arn:s", read) and reads == ["arn:s", "arn:s"]  # read per connect


@pytest.mark.parametrize(
    "value",
    ["not json", "[]", json.dumps({"username": "u"}), json.dumps({"password": 7}), ""],
    ids=["malformed", "not-an-object", "no-password", "password-not-text", "empty"],
)
def test_a_secret_that_is_not_rds_shaped_is_one_clear_error(value: str) -> None:
    with pytest.raises(SettingsError, match="not the JSON RDS writes"):
        secret.with_credentials(URL, value)


def test_no_user_anywhere_is_an_error() -> None:
    with pytest.raises(SettingsError, match="names a user"):
        secret.with_credentials("postgresql://db.example/trustpipe", json.dumps({"password": "p"}))


def test_url_forms_and_another_database_on_the_same_server() -> None:
    url = "postgresql://u:p@db.example:5432/trustpipe?sslmode=require"
    assert migrate.with_driver(url, "postgresql+psycopg2", "airflow") == (
        "postgresql+psycopg2://u:p@db.example:5432/airflow?sslmode=require"
    )
    assert migrate.with_driver(url, "postgresql") == url
    with pytest.raises(SettingsError, match="driver must be one of"):
        migrate.with_driver(url, "mysql")
