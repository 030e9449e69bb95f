"""`trustpipe build-model` and `trustpipe score-hour` against the local stack (Spark in-process)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from spark_jobs import build_model, score_messages
from spark_jobs.session import local_session
from spark_jobs.staging import stage_hour
from trustpipe import landing, layout, s3
from trustpipe.aws import AwsClients
from trustpipe.model import artifact as model_store
from trustpipe.model.artifact import ModelBuildError, ModelError
from trustpipe.settings import Settings


def _spark(spark: SparkSession | None, name: str) -> SparkSession:
    return spark or local_session(name)


def build(
    settings: Settings,
    until: datetime,
    hours: int,
    spark: SparkSession | None = None,
    trained_at: datetime | None = None,
    promote: bool = True,
) -> build_model.BuildResult:
    """Train on the ``hours`` before ``until``; save the artifact, and move `current` if it passed
    the promotion gate (and ``promote``: the nightly DAG promotes in a task of its own)."""
    client = AwsClients(settings).s3
    window = [until - timedelta(hours=h) for h in range(hours, 0, -1)]
    try:
        current = model_store.load(client, settings.archive_bucket)
    except ModelError:
        current = None
    with tempfile.TemporaryDirectory(prefix="trustpipe-build-") as tmp:
        work = Path(tmp)
        messages, labels = [], []
        for n, hour in enumerate(window):
            staged = stage_hour(client, settings.landing_bucket, hour, work / f"messages-{n}")
            messages += staged.paths
            labels += _download(client, settings.archive_bucket, hour, work / f"labels-{n}")
        if not messages or not labels:
            raise ModelBuildError(
                f"no labelled history in the {hours} hours before {layout.format_hour(until)}: "
                "run `trustpipe sensors run` for those hours first"
            )
        result = build_model.run(
            _spark(spark, "build_model"),
            messages,
            labels,
            [layout.format_hour(h) for h in window],
            current,
            trained_at,
        )
    make_current = result.promoted and promote
    model_store.save(client, settings.archive_bucket, result.artifact, make_current=make_current)
    return result


def _download(client: Any, bucket: str, hour: datetime, into: Path) -> list[str]:
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, obj in enumerate(landing.hour_keys(client, bucket, hour, layout.LABELS_PREFIX)):
        path = into / f"{n:05d}.avro"
        path.write_bytes(s3.get(client, bucket, obj["Key"]))
        paths.append(str(path))
    return paths


def score(
    settings: Settings,
    hour: datetime,
    spark: SparkSession | None = None,
    model_version: str | None = None,
    scored_at: datetime | None = None,
) -> score_messages.HourResult:
    """Score one hour with the current (or a named) model."""
    client = AwsClients(settings).s3
    artifact = model_store.load(client, settings.archive_bucket, model_version)
    return score_messages.run_hour(
        spark or (lambda: local_session("score_messages")),
        client,
        settings.landing_bucket,
        settings.scored_bucket,
        artifact,
        hour,
        scored_at,
    )
