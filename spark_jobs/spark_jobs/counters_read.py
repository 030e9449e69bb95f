"""The batch job's side of the counters (``trustpipe.counters``): the reputation of every sender
domain and /24 of an hour, read from the tiles as of the hour's day on the driver, so that the
hour is scored with the same tables the stream scorer reads for the same messages and tiles; and
the hour's ground truth, once scored, added to its days' tiles (``add_hour_labels``), so that the
counters learn the day's labels within the hour after they land instead of at the next build."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs import trust_columns
from trustpipe import contracts, counters, landing, layout, s3
from trustpipe.codec import ContainerLimits, ContainerReader
from trustpipe.errors import PermanentError
from trustpipe.model.artifact import ModelArtifact

log = logging.getLogger("trustpipe.batch")


def entities(df: DataFrame, artifact: ModelArtifact) -> set[tuple[str, str]]:
    """Every (aggregate, entity) the rows of ``df`` (v4) count towards, keyed as the features
    key them (``trustpipe.counters.entities``' twin)."""
    keyed = trust_columns.with_org_domains(
        df, {"_org": trust_columns.domain_of(F.col("from_address"))}, artifact.suffixes
    ).withColumn("_prefix", trust_columns.ip_prefix())
    rows = keyed.select("_org", "_prefix").distinct().collect()
    return {(counters.ORG, r["_org"]) for r in rows} | {(counters.NET, r["_prefix"]) for r in rows}


def with_counters(df: DataFrame, artifact: ModelArtifact, client: Any, day: date) -> ModelArtifact:
    """``artifact`` with the reputation tables of ``df``'s senders read from the counters as of
    ``day``; the artifact itself (its snapshot) when no build wrote the tiles or Redis does not
    answer (logged: the hour is scored, never stopped)."""
    try:
        counts = counters.read(client, entities(df, artifact), day)
    except counters.unavailable() as err:
        log.warning("counters unavailable, scoring the hour with the model's snapshot: %s", err)
        return artifact
    if counts is None:
        return artifact
    return replace(artifact, reputation=counters.reputation(counts, artifact.reputation.prior))


LABEL_LIMITS = ContainerLimits(max_object_bytes=64 * 1024**2, max_header_bytes=64 * 1024, seconds=60.0)
"""A quarter's ground truth is one label per message (a few dozen bytes each): read within these."""
LABEL_CHUNK = 5000
"""Labels per round trip to Redis."""


def hour_labels(client: Any, bucket: str, hour: datetime) -> dict[tuple[str, str], bool]:
    """The hour's ground truth under ``bucket``'s labels prefix: (enterprise, message id) ->
    malicious. A file that cannot be read, or a label filed under another enterprise's prefix, is
    left out with its reason logged: the counters learn it at the next build, or never."""
    labels: dict[tuple[str, str], bool] = {}
    schema = contracts.load(contracts.GROUND_TRUTH_LABEL)
    for obj in landing.hour_keys(client, bucket, hour, layout.LABELS_PREFIX):
        key, enterprise_id = obj["Key"], layout.enterprise_of(obj["Key"])
        try:
            body = s3.get(client, bucket, key, LABEL_LIMITS.max_object_bytes)
            found = list(ContainerReader(io.BytesIO(body), schema, LABEL_LIMITS))
        except PermanentError as err:
            log.warning("labels %s left out of the counters: %s: %s", key, type(err).__name__, err)
            continue
        strays = sum(1 for label in found if label["enterprise_id"] != enterprise_id)
        if strays:
            log.warning("labels %s: %d labels of another enterprise than its prefix's left out", key, strays)
        for label in found:
            if label["enterprise_id"] == enterprise_id:
                labels[(enterprise_id, label["message_id"])] = bool(label["is_malicious"])
    return labels


def add_hour_labels(
    scored: DataFrame, labels: dict[tuple[str, str], bool], artifact: ModelArtifact, client: Any
) -> int:
    """Add the labels of ``scored``'s messages (the hour's, as scored) to their days' tiles
    (``counters.add_labels``: idempotent, so a rerun of the hour counts nothing twice); how many.
    A label of no message of the hour counts nothing. Redis not answering is logged, never
    fails the hour: the next build counts the labels exactly."""
    if not labels:
        return 0
    # the day in Spark's session time zone (UTC): a timestamp collected to Python is in the
    # driver's local time
    day = F.to_date("received_at").alias("_day")
    rows = scored.select("enterprise_id", "message_id", "from_address", "sending_ip", day)
    suffixes, added, chunk = artifact.suffixes, 0, []
    try:
        for row in rows.toLocalIterator():
            malicious = labels.get((row["enterprise_id"], row["message_id"]))
            if malicious is None:
                continue
            record = row.asDict()
            record["received_at"] = datetime.combine(record.pop("_day"), time(), UTC)
            chunk.append((row["enterprise_id"], record, suffixes, malicious))
            if len(chunk) >= LABEL_CHUNK:
                added += _add(client, chunk)
        added += _add(client, chunk)
        log.info("%d of the hour's %d labels added to the counters", added, len(labels))
    except counters.unavailable() as err:
        log.warning(
            "counters unavailable: %d of the hour's labels added, the rest at the next build: %s", added, err
        )
    return added


def _add(client: Any, chunk: list[Any]) -> int:
    pipe = client.pipeline(transaction=False)
    counters.add_labels(pipe, chunk)
    pipe.execute()
    done = len(chunk)
    chunk.clear()
    return done
