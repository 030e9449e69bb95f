"""Connections to the store: a new one per call, as the settings say to log in (the URL's login,
the database secret's, or an RDS IAM token for a service's own role on AWS). Every service that
reads or writes PostgreSQL connects through here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import psycopg

from trustpipe.aws import AwsClients
from trustpipe.db import migrate, roles, secret
from trustpipe.settings import Settings, SettingsError

Connect = Callable[[], psycopg.Connection[Any]]


def database_url(settings: Settings) -> str:
    """The settings' PostgreSQL URL as psycopg takes it (SQLAlchemy-style schemes accepted), with
    the credentials of the database's secret when the settings name one (read now: call it per
    connect, and a rotated password is picked up)."""
    if not settings.database_url:
        raise SettingsError("settings have no database_url: set DATABASE_URL or run `trustpipe local up`")
    url = migrate.libpq_url(settings.database_url)
    return secret.resolve(url, settings.database_secret_arn, AwsClients(settings).secret_string)


def connector(settings: Settings, user: str = roles.IMPORTER) -> Connect:
    """A new connection per call: on AWS (``database_iam_auth``) as ``user`` with an RDS IAM token
    made for it, over verified TLS; else with the URL's login or the database secret's (read per
    connect). Either way a rotated password never needs a restart."""
    url = database_url(dataclasses.replace(settings, database_secret_arn=None))  # a bad URL fails now
    if settings.database_iam_auth:
        return iam_connector(settings, url, user)
    return lambda: _connect(database_url(settings))


def iam_connector(settings: Settings, url: str, user: str) -> Connect:
    """Connections to ``url`` as ``user``, each with a token of its own (signed here, no call)."""
    roles.require_verified(url)
    login = roles.as_user(url, user)
    host, port = roles.address(login)
    token = roles.rds_token(AwsClients(settings).client("rds"), settings.region)
    return lambda: _connect(login, token(host, port, user))


def _connect(url: str, password: str | None = None) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, password=password, connect_timeout=5)
    except psycopg.OperationalError as err:
        raise migrate.unreachable(url, err) from err
