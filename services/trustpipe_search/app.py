"""The indexer's wiring: settings -> clients -> the stream worker or the queue worker; and the
reindex of hours from the lake (`trustpipe search reindex`)."""

from __future__ import annotations

import sys
from pathlib import Path

from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder
from trustpipe.settings import Settings, SettingsError
from trustpipe.telemetry import WorkerMetrics, configure_logging
from trustpipe.workers import INDEXER
from trustpipe_search import engine
from trustpipe_search.queue import Counts, QueueIndexer
from trustpipe_search.stream import StreamIndexer
from trustpipe_stream import aside


def stream_indexer(aws: AwsClients) -> StreamIndexer:
    """The indexer a shard's processor runs (scored stream -> the search store), and the Lambda
    form's worker (``trustpipe_search.lambda_handler``)."""
    settings = aws.settings
    client = engine.connect(settings)
    engine.ensure_template(client)
    return StreamIndexer(
        decoder=FramedDecoder(aws.registry(), contracts.load(contracts.SCORED_MESSAGE)),
        client=client,
        keep_aside=aside.to_s3(aws.s3, settings.archive_bucket, INDEXER.group),
    )


def queue_indexer(aws: AwsClients, wait_seconds: int = 20, visibility_timeout: int = 300) -> QueueIndexer:
    """The indexer of the batch path's announcements (its own queue)."""
    settings = aws.settings
    if not settings.search_queue_url:
        raise SettingsError("settings have no search_queue_url: the indexer's queue")
    client = engine.connect(settings)
    engine.ensure_template(client)
    return QueueIndexer(
        aws.client("sqs"),
        aws.s3,
        client,
        settings.search_queue_url,
        settings.archive_bucket,
        wait_seconds=wait_seconds,
        visibility_timeout=visibility_timeout,
    )


def run_queue(
    aws: AwsClients, once: bool = False, work_dir: Path | None = None, visibility_timeout: int = 300
) -> Counts:
    """The queue worker until SIGTERM (or, with ``once``, until the queue is empty)."""
    configure_logging(INDEXER.service, sys.stdout)
    worker = queue_indexer(aws, wait_seconds=2 if once else 20, visibility_timeout=visibility_timeout)
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        worker.metrics = WorkerMetrics(INDEXER.service, work_dir / "indexer-queue-metrics.log")
    worker.install_signal_handlers()
    return worker.run(once=once)


def run_stream_service(settings: Settings, settings_path: Path, slot: str, work_dir: Path) -> int:
    """`trustpipe indexer run --source stream`: the indexer group's KCL daemon until SIGTERM."""
    from trustpipe_stream import service  # the KCL's runtime: the Lambda form's zip has none

    return service.run_group(settings, settings_path, INDEXER, slot, work_dir)
