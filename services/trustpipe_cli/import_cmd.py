"""`trustpipe db upgrade` and `trustpipe importer run` against a deployment's settings."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from trustpipe.aws import AwsClients
from trustpipe.db import migrate
from trustpipe.settings import Settings, SettingsError
from trustpipe_importer.load import Connect
from trustpipe_importer.worker import Counts, Importer


def database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise SettingsError("settings have no database_url: set DATABASE_URL or run `trustpipe local up`")
    return settings.database_url


def connector(settings: Settings) -> Connect:
    url = database_url(settings)

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(url, connect_timeout=5)

    return connect


def upgrade(settings: Settings) -> None:
    migrate.upgrade(database_url(settings))


def importer(settings: Settings, wait_seconds: int = 20, visibility_timeout: int = 300) -> Importer:
    aws = AwsClients(settings)
    return Importer(
        aws.client("sqs"),
        aws.s3,
        connector(settings),
        settings.importer_queue_url,
        visibility_timeout=visibility_timeout,
        wait_seconds=wait_seconds,
    )


def run_importer(settings: Settings, once: bool = False, visibility_timeout: int = 300) -> Counts:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    worker = importer(settings, wait_seconds=2 if once else 20, visibility_timeout=visibility_timeout)
    worker.install_signal_handlers()
    return worker.run(once=once)


def import_until_done(settings: Settings, keys: list[str], attempts: int = 10) -> set[tuple[str, str]]:
    """Drain the importer queue until every object of ``keys``, as it is now, is in the ledger;
    what is still missing after ``attempts`` drains (empty: all imported)."""
    from trustpipe_importer.load import IMPORTED_SQL, current_versions

    connect = connector(settings)
    wanted = current_versions(AwsClients(settings).s3, settings.scored_bucket, keys)
    worker = importer(settings, wait_seconds=1)
    missing = wanted
    for _ in range(attempts):
        worker.run(once=True)
        with connect() as conn:
            rows = conn.execute(IMPORTED_SQL, {"keys": keys}).fetchall()
        missing = wanted - {(k, e) for k, e in rows}
        if not missing:
            break
    return missing
