"""Who logs in to the store, and with what: each deployable that touches the database as a
PostgreSQL role of its own (created, with only the grants it uses, by migration 0008), on AWS
with an IAM authentication token made for each new connection and TLS verified against the RDS
certificate authorities shipped on the host.

The master user's secret (RDS-managed, rotated) is read only by the one-shot migration unit
(``trustpipe db upgrade``, ``db create``); the services never read it, so its rotation never
touches them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from trustpipe.db import partitions
from trustpipe.settings import SettingsError

IMPORTER = "trustpipe_importer"
"""The importers (batch and stream), their forwarder and the stores' own checks in a backfill."""
AIRFLOW = "trustpipe_airflow"
"""The Airflow host: its metadata database (it owns it) and the DAGs' checks and retention."""
PARTITION_OWNER = partitions.PARTITION_OWNER
"""Owns ``scored_messages`` and its day partitions (no login): PostgreSQL lets only the parent's
owner create or drop a partition, so the importers (creating days) and Airflow (dropping them)
are members, and act as it only for that (``partitions.act_as_owner``)."""
REVIEW = "trustpipe_review"
"""The review API: appends reviewers' decisions (``review_decisions``, migration 0009)."""
LOGINS = (IMPORTER, AIRFLOW, REVIEW)
"""The roles a service logs in as (each its IAM policy's ``rds-db:connect`` user)."""

RDS_CA_BUNDLE = "/etc/trustpipe/rds-global-bundle.pem"
"""The RDS global CA bundle on the worker image and the Airflow host (the Ansible role puts it
there when the image is built)."""
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
VERIFIED_SSLMODE = "verify-full"

Token = Callable[[str, int, str], str]
"""(host, port, user) -> a password for one new connection (an RDS IAM token on AWS)."""


def rds_token(rds_client: Any, region: str) -> Token:
    """RDS IAM authentication tokens from ``rds_client`` (signed locally, no call to AWS: each is
    valid for 15 minutes, and is asked for anew at each connection)."""

    def token(host: str, port: int, user: str) -> str:
        value: str = rds_client.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )
        return value

    return token


def require_verified(database_url: str) -> None:
    """SettingsError unless ``database_url`` verifies the server: ``sslmode=verify-full`` with an
    ``sslrootcert`` (a token sent to an unverified server could be replayed for 15 minutes)."""
    query = parse_qs(urlsplit(database_url).query)
    if query.get("sslmode") != [VERIFIED_SSLMODE] or not query.get("sslrootcert"):
        raise SettingsError(
            f"the database URL must carry sslmode={VERIFIED_SSLMODE} and sslrootcert=<CA bundle> "
            "with IAM authentication"
        )


def as_user(database_url: str, user: str) -> str:
    """``database_url`` logging in as ``user``, with no password (it comes per connection)."""
    parts = urlsplit(database_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}"))


def address(database_url: str) -> tuple[str, int]:
    """(host, port) of ``database_url``, as an IAM token is signed for."""
    parts = urlsplit(database_url)
    if not parts.hostname:
        raise SettingsError("the database URL names no host")
    return parts.hostname, parts.port or 5432
