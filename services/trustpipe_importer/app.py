"""The importer's wiring: settings -> clients and a database connection -> the worker.

Used by `trustpipe importer run` (the ASG's unit; `--source stream` for the scored stream),
`trustpipe db upgrade`, and by the hour's use case (drain the queue until an hour's files are in
the ledger).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trustpipe import contracts, tenants
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.db import migrate
from trustpipe.db.connect import connector, database_url
from trustpipe.errors import TransientError
from trustpipe.settings import Settings
from trustpipe.telemetry import WorkerMetrics, configure_logging
from trustpipe.workers import STREAM_IMPORTER
from trustpipe_importer.blocks import DecodePool
from trustpipe_importer.load import IMPORTED_SQL, Forward, current_versions
from trustpipe_importer.stream import StreamImporter
from trustpipe_importer.worker import Counts, Importer
from trustpipe_stream.put import Putter


def upgrade(settings: Settings, wait_seconds: float = 0, say: Callable[[str], None] = print) -> None:
    """Apply the Alembic migrations to the settings' database (idempotent); a database that does
    not answer yet (a new RDS instance, a restart) is retried for up to ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    delay = 2.0
    while True:
        try:
            migrate.upgrade(database_url(settings))
            return
        except TransientError as err:
            if time.monotonic() + delay > deadline:
                raise
            say(f"{err}; retrying in {delay:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def importer(
    aws: AwsClients, wait_seconds: int = 20, visibility_timeout: int = 300, decode_processes: int = 1
) -> Importer:
    """The batch importer; with ``decode_processes`` > 1, a large object's blocks are decoded by
    that many worker processes (started on first use: close ``decode`` when done)."""
    return Importer(
        aws.client("sqs"),
        aws.s3,
        connector(aws.settings),
        aws.settings.importer_queue_url,
        visibility_timeout=visibility_timeout,
        wait_seconds=wait_seconds,
        forward=to_alerters(aws) if aws.settings.registry_url else None,
        decode=DecodePool(decode_processes) if decode_processes > 1 else None,
    )


def to_alerters(aws: AwsClients) -> Forward:
    """Stored QUARANTINE/LABEL verdicts onto the imported stream, framed with the registry's id of
    the ScoredMessage contract and keyed by ``tenants.partition_key``: both importers forward so,
    and the same alerters act on both paths, once per message."""
    schema = contracts.load(contracts.SCORED_MESSAGE)
    encoders: list[FramedEncoder] = []  # registered on first use: most objects pass no verdicts on
    putter = Putter(aws.client("kinesis"), aws.settings.imported_stream_name)

    def forward(rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if not encoders:
            encoders.append(
                FramedEncoder(aws.registry().register(contracts.SCORED_MESSAGE_SUBJECT, schema), schema)
            )
        putter.put(
            (encoders[0].encode(r), tenants.partition_key(r["enterprise_id"], r["message_id"])) for r in rows
        )

    return forward


def run_importer(
    aws: AwsClients,
    once: bool = False,
    visibility_timeout: int = 300,
    work_dir: Path | None = None,
    decode_processes: int = 1,
) -> Counts:
    """The worker until SIGTERM (or, with ``once``, until the queue is empty): JSON logs on stdout,
    each message's metrics appended to ``<work_dir>/importer-metrics.log``."""
    configure_logging("importer", sys.stdout)
    worker = importer(
        aws,
        wait_seconds=2 if once else 20,
        visibility_timeout=visibility_timeout,
        decode_processes=decode_processes,
    )
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        worker.metrics = WorkerMetrics("importer", work_dir / "importer-metrics.log")
    worker.install_signal_handlers()
    try:
        return worker.run(once=once)
    finally:
        if worker.decode is not None:
            worker.decode.close()


def import_until_done(aws: AwsClients, keys: list[str], attempts: int = 10) -> set[tuple[str, str]]:
    """Drain the importer queue until every object of ``keys``, as it is now, is in the ledger;
    what is still missing after ``attempts`` drains (empty: all imported)."""
    connect = connector(aws.settings)
    wanted = current_versions(aws.s3, aws.settings.scored_bucket, keys)
    worker = importer(aws, wait_seconds=1)
    missing = wanted
    for _ in range(attempts):
        worker.run(once=True)
        with connect() as conn:
            rows = conn.execute(IMPORTED_SQL, {"keys": keys}).fetchall()
        missing = wanted - {(k, e) for k, e in rows}
        if not missing:
            break
    return missing


def stream_importer(aws: AwsClients) -> StreamImporter:
    """The stream importer a shard's processor runs (scored stream -> PostgreSQL -> imported)."""
    settings = aws.settings
    return StreamImporter(
        decoder=FramedDecoder(aws.registry(), contracts.load(contracts.SCORED_MESSAGE)),
        connect=connector(settings),
        forward=to_alerters(aws),
        stream_name=settings.scored_stream_name,
    )


def run_stream_service(settings: Settings, settings_path: Path, slot: str, work_dir: Path) -> int:
    """`trustpipe importer run --source stream`: the importer group's KCL daemon until SIGTERM."""
    from trustpipe_stream import service  # the KCL's runtime: the Lambda form's zip has none

    return service.run_group(settings, settings_path, STREAM_IMPORTER, slot, work_dir)
