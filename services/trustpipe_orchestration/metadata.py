"""Airflow's metadata connection, fresh credentials for each new connection.

Airflow builds its metadata engine once per process from ``[database] sql_alchemy_conn``: a
password in that URL (or printed once by ``sql_alchemy_conn_cmd``) goes stale when RDS rotates
it, and new connections fail until a restart. Instead the URL carries no password and a
SQLAlchemy ``do_connect`` listener, installed by the host's ``airflow_local_settings.py`` before
Airflow makes its engine, asks for one at each new DBAPI connection: on AWS an RDS IAM token for
Airflow's own role (``trustpipe_airflow``), which no rotation touches.
"""

from __future__ import annotations

import os
from typing import Any

from trustpipe.db import roles
from trustpipe.settings import SettingsError

_installed: list[Any] = []


def install(host: str, token: roles.Token) -> None:
    """From now on, every SQLAlchemy engine of this process that opens a connection to ``host``
    without a password gets one from ``token`` (host, port, user) for that connection. Other
    hosts, and URLs that carry a password, are left alone. Idempotent per host."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def fresh_password(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if cparams.get("host") == host and not cparams.get("password"):
            cparams["password"] = token(host, int(cparams.get("port") or 5432), str(cparams["user"]))

    uninstall()
    event.listen(Engine, "do_connect", fresh_password)
    _installed.append(fresh_password)


def uninstall() -> None:
    """Remove what ``install`` added (a test's teardown)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    while _installed:
        event.remove(Engine, "do_connect", _installed.pop())


def install_from_environment(environ: dict[str, str] | None = None) -> None:
    """What the Airflow host's ``airflow_local_settings.py`` calls: RDS IAM tokens for the host of
    ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (which must verify the server), in
    ``AWS_DEFAULT_REGION``. Nothing when that URL is not PostgreSQL (a local SQLite)."""
    import boto3
    from sqlalchemy.engine import make_url

    env = os.environ if environ is None else environ
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not url.startswith("postgresql"):
        return
    roles.require_verified(url)
    region = env.get("AWS_DEFAULT_REGION")
    if not region:
        raise SettingsError("AWS_DEFAULT_REGION is not set: an RDS IAM token is signed for a region")
    host = make_url(url).host
    if not host:
        raise SettingsError("Airflow's metadata URL names no host")
    install(host, roles.rds_token(boto3.session.Session(region_name=region).client("rds"), region))
