"""The Spark jobs' runner: settings and clients in, a job run out. One runner for every caller:
spark-submit's ``main`` (EMR, or ``python -m spark_jobs.runner``), the CLI's `build-model` and
`score-hour`, the hourly DAG's local runner, backfill and the demo."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from spark_jobs import build_model, score_messages
from spark_jobs.session import local_session
from spark_jobs.staging import stage_hour
from trustpipe import contracts, counters, landing, layout, review_labels, s3
from trustpipe.aws import AwsClients
from trustpipe.codec import container_bytes
from trustpipe.model import artifact as model_store
from trustpipe.model.artifact import ModelBuildError, ModelNotFoundError
from trustpipe.model.suffixes import SuffixList
from trustpipe.progress import Progress, quiet
from trustpipe.records import RECEIVED_AHEAD
from trustpipe.settings import Settings

log = logging.getLogger("trustpipe.build")
STAGED = "labelled hours staged"
TRAINED = "model trained and evaluated (Spark)"
Spark = SparkSession | Callable[[], SparkSession]
"""A session, or a factory for one: an hour with nothing to score starts no JVM."""


def build(
    aws: AwsClients,
    until: datetime,
    hours: int,
    spark: SparkSession | None = None,
    trained_at: datetime | None = None,
    promote: bool = True,
    progress: Progress = quiet,
    models: AwsClients | None = None,
) -> build_model.BuildResult:
    """Train on the ``hours`` before ``until``; save the artifact, and move `current` if it passed
    the promotion gate (and ``promote``: the nightly DAG promotes in a task of its own). The
    artifact is written with ``models``' clients when given (the nightly build's models role:
    created now, after training, its session is fresh), else with ``aws``'. With a Redis in the
    settings, the history's exact tiles are written to the counters (``trustpipe.counters``)."""
    settings, client = aws.settings, aws.s3
    window = [until - timedelta(hours=h) for h in range(hours, 0, -1)]
    try:
        current = model_store.load(client, settings.archive_bucket)
    except ModelNotFoundError:
        current = None
    with tempfile.TemporaryDirectory(prefix="trustpipe-build-") as tmp:
        work = Path(tmp)
        messages, labels, reviews = _stage_history(aws, window, until, trained_at, work, progress)
        if not messages or not (labels or reviews):
            raise ModelBuildError(
                f"no labelled history in the {hours} hours before {layout.format_hour(until)}: "
                "run `trustpipe sensors run` for those hours first"
            )
        progress(TRAINED, 0, 1)
        result = build_model.run(
            spark or local_session("build_model"),
            messages,
            labels,
            [layout.format_hour(h) for h in window],
            current,
            trained_at,
            until,
            count_tiles=settings.redis_url is not None,
            review_paths=reviews,
        )
        progress(TRAINED, 1, 1)
    make_current = result.promoted and promote
    model_store.save((models or aws).s3, settings.archive_bucket, result.artifact, make_current=make_current)
    if result.tiles is not None:
        _write_tiles(settings, result.tiles)
    return result


def _stage_history(
    aws: AwsClients,
    window: list[datetime],
    until: datetime,
    trained_at: datetime | None,
    work: Path,
    progress: Progress = quiet,
) -> tuple[list[str], list[str], list[str]]:
    """The ``window``'s sensor files, ground truth and reviewers' decisions, staged under ``work``."""
    settings, client = aws.settings, aws.s3
    messages, labels = [], []
    for n, hour in enumerate(window):
        staged = stage_hour(client, settings.landing_bucket, hour, work / f"messages-{n}")
        messages += staged.paths
        labels += _download(client, settings.archive_bucket, hour, work / f"labels-{n}")
        progress(STAGED, n + 1, len(window))
    reviews = stage_review_labels(client, settings.archive_bucket, window[0], until, trained_at, work)
    return messages, labels, reviews


def tile_suffixes(aws: AwsClients) -> SuffixList:
    """The Public Suffix List a recount keys its tiles with: the current model's, or the bundled
    one when there is no model."""
    try:
        return model_store.load(aws.s3, aws.settings.archive_bucket).suffixes
    except ModelNotFoundError:
        return SuffixList.bundled()


def recount(aws: AwsClients, until: datetime, hours: int, spark: SparkSession) -> build_model.Tiles:
    """The counters' exact tiles of the ``hours`` before ``until`` written again, as a build
    writes them, without training: what the next build gives a Redis that lost its data (the
    chaos run restarts it empty, then checks the tiles with this). The current model's Public
    Suffix List keys them (``tile_suffixes``)."""
    suffixes = tile_suffixes(aws)
    window = [until - timedelta(hours=h) for h in range(hours, 0, -1)]
    with tempfile.TemporaryDirectory(prefix="trustpipe-recount-") as tmp:
        messages, labels, reviews = _stage_history(aws, window, until, None, Path(tmp))
        if not messages or not (labels or reviews):
            raise ModelBuildError(
                f"no labelled history in the {hours} hours before {layout.format_hour(until)}"
            )
        history = build_model.training_history(spark, messages, labels, until, reviews)
        tiles = build_model.tiles(history, suffixes)
    _write_tiles(aws.settings, tiles)
    return tiles


def _write_tiles(settings: Settings, tiles: build_model.Tiles) -> None:
    """The build's exact tiles to the counters. A Redis that does not answer loses only them:
    readers keep the previous build's, then the model's snapshot once it is ``BUILT_DAYS`` old."""
    try:
        client = counters.from_settings(settings)
        if client is not None:
            counters.write_build(client, tiles.days, tiles.through, tiles.windows)
    except counters.unavailable() as err:
        log.warning("counters not written (the model is saved): %s", err)


REVIEW_GRACE = timedelta(days=7)
"""A build takes the decisions made up to a week past its window's end (and before it runs): a
rebuild of an old window sees those made since, never the whole archive's."""


def stage_review_labels(
    client: Any, bucket: str, first_hour: datetime, until: datetime, trained_at: datetime | None, into: Path
) -> list[str]:
    """The reviewers' decisions that can concern the window's messages (decided from a day before
    its first hour, for clocks, until the build), in one Avro file for Spark; [] when none."""
    through = min(trained_at or datetime.now(UTC), until + REVIEW_GRACE)
    found = review_labels.gather(client, bucket, first_hour - RECEIVED_AHEAD, through)
    log.info("review labels: %d decisions, %d left out", len(found.labels), len(found.refused))
    if not found.labels:
        return []
    path = into / "review-labels.avro"
    path.write_bytes(container_bytes(contracts.load(contracts.REVIEW_LABEL), found.labels))
    return [str(path)]


def _download(client: Any, bucket: str, hour: datetime, into: Path) -> list[str]:
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, obj in enumerate(landing.hour_keys(client, bucket, hour, layout.LABELS_PREFIX)):
        path = into / f"{n:05d}.avro"
        path.write_bytes(s3.get(client, bucket, obj["Key"]))
        paths.append(str(path))
    return paths


def score(
    aws: AwsClients,
    hour: datetime,
    spark: Spark | None = None,
    model_version: str | None = None,
    scored_at: datetime | None = None,
    work_uri: str | None = None,
    progress: Progress = quiet,
) -> score_messages.HourResult:
    """Score one hour with the current (or a named) model; see ``score_messages.run_hour``."""
    settings = aws.settings
    artifact = model_store.load(aws.s3, settings.archive_bucket, model_version)
    return score_messages.run_hour(
        spark or (lambda: local_session("score_messages")),
        aws.s3,
        settings.landing_bucket,
        settings.scored_bucket,
        artifact,
        hour,
        scored_at,
        work_uri,
        progress,
        settings.enterprises or None,  # settings from before the tenant map check nothing
        counters.from_settings(settings),
        settings.archive_bucket,
    )


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: ``runner --hour YYYY-MM-DDTHH --settings settings.json``."""
    import argparse

    parser = argparse.ArgumentParser(prog="score_messages", description=score_messages.__doc__)
    parser.add_argument("--hour", required=True, type=layout.parse_hour)
    parser.add_argument("--settings", required=True, help="settings.json: a path or an s3:// URI")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--model-version", default=None)
    parser.add_argument(
        "--work-uri",
        default=None,
        help="s3:// prefix for Spark's output on a cluster (read landing in place)",
    )
    args = parser.parse_args(argv)
    aws = AwsClients(Settings.load_uri(args.settings))
    spark = local_session("score_messages", args.master)
    result = score(aws, args.hour, spark, args.model_version, work_uri=args.work_uri)
    print(json.dumps(result.summary()))


if __name__ == "__main__":
    main()
