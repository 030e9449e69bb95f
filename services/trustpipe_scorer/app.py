"""The scorer's wiring: settings -> clients -> the worker each shard's processor runs, and the
service (`trustpipe scorer run`) that runs the KCL daemon starting those processors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trustpipe import contracts, layout, s3
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.model import artifact
from trustpipe.settings import Settings
from trustpipe_scorer.model_source import CurrentModel
from trustpipe_scorer.worker import ScorerWorker, sensor_version_of, set_aside_lines
from trustpipe_stream import service
from trustpipe_stream.processor import Rejected
from trustpipe_stream.put import Putter

GROUP = "scorer"
SCORED_SUBJECT = "scored-message-value"
"""The registry subject of the ScoredMessage records the scorers put on the scored stream."""


def build_worker(aws: AwsClients) -> ScorerWorker:
    settings = aws.settings
    registry = aws.registry()
    schema = contracts.load(contracts.SCORED_MESSAGE)
    client = aws.s3
    bucket = settings.archive_bucket

    def keep_aside(shard_id: str, rejected: Sequence[Rejected]) -> None:
        key = layout.stream_set_aside_key(GROUP, shard_id, rejected[0].record.sequence_number)
        s3.put(client, bucket, key, set_aside_lines(shard_id, rejected))

    return ScorerWorker(
        decoder=FramedDecoder(registry, contracts.reader_schema()),
        writer_version=sensor_version_of(registry),
        model=CurrentModel(
            lambda: artifact.current_version(client, bucket),
            lambda version: artifact.load(client, bucket, version),
        ),
        encoder=FramedEncoder(registry.register(SCORED_SUBJECT, schema), schema),
        put=Putter(aws.client("kinesis"), settings.scored_stream_name).put,
        keep_aside=keep_aside,
    )


def run_service(settings: Settings, settings_path: Path, slot: str, work_dir: Path) -> int:
    """`trustpipe scorer run`: the scorer group's KCL daemon until SIGTERM; the exit code."""
    return service.run_group(
        settings, settings_path, GROUP, settings.raw_stream_name, "trustpipe_scorer.processor", slot, work_dir
    )
