"""The scorer's wiring: settings -> clients -> the worker each shard's processor runs, and the
service (`trustpipe scorer run`) that runs the KCL daemon starting those processors."""

from __future__ import annotations

from pathlib import Path

from trustpipe import contracts, counters
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.model import artifact
from trustpipe.settings import Settings
from trustpipe.workers import SCORER
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_scorer.model_source import CurrentModel
from trustpipe_scorer.worker import MAX_MESSAGE_BYTES, ScorerWorker, sensor_version_of
from trustpipe_stream import aside
from trustpipe_stream.put import Putter


def build_worker(aws: AwsClients) -> ScorerWorker:
    settings = aws.settings
    registry = aws.registry()
    schema = contracts.load(contracts.SCORED_MESSAGE)
    client = aws.s3
    bucket = settings.archive_bucket
    redis = counters.from_settings(settings)
    return ScorerWorker(
        decoder=FramedDecoder(registry, contracts.reader_schema(), max_bytes=MAX_MESSAGE_BYTES),
        writer_version=sensor_version_of(registry),
        model=CurrentModel(
            lambda: artifact.current_version(client, bucket),
            lambda version: artifact.load(client, bucket, version),
        ),
        encoder=FramedEncoder(registry.register(contracts.SCORED_MESSAGE_SUBJECT, schema), schema),
        put=Putter(aws.client("kinesis"), settings.scored_stream_name).put,
        keep_aside=aside.to_s3(client, bucket, SCORER.group),
        enterprises=settings.enterprises,
        fresh=None if redis is None else FreshCounters(redis),
    )


def run_service(settings: Settings, settings_path: Path, slot: str, work_dir: Path) -> int:
    """`trustpipe scorer run`: the scorer group's KCL daemon until SIGTERM; the exit code."""
    from trustpipe_stream import service  # the KCL's runtime: the Lambda form's zip has none

    return service.run_group(settings, settings_path, SCORER, slot, work_dir)
