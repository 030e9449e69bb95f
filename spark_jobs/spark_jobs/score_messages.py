"""Hourly batch scoring: an hour's landing files of every sensor version, resolved to v4, scored
with the model's native column expressions; scored messages, stats and a manifest out.

extract (stage + validate at the edge) -> transform (score) -> load (publish, manifest last).
A rerun of an hour replaces that hour's output.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import counters_read, record_rules, trust_columns
from spark_jobs.session import AVRO_FORMAT
from spark_jobs.staging import StagedHour, stage_hour
from trustpipe import contracts, layout, s3
from trustpipe.codec import container_bytes
from trustpipe.errors import RunError
from trustpipe.landing import SetAside
from trustpipe.model.artifact import ModelArtifact
from trustpipe.progress import Progress, quiet

ROWS_PER_OUTPUT_FILE = 250_000
SCORED_INPUTS = [
    "message_id",
    "enterprise_id",
    "received_at",
    "from_address",
    "from_display_name",
    "reply_to",
    "sending_ip",
    "_file",
]
"""The input columns a ScoredMessage carries (the rest are only needed for features)."""
CHANNEL = "_channel"
"""The enterprise whose landing prefix a row's file lies under: the authenticated one."""
REASON = "_set_aside_reason"


class ReconciliationError(RunError):
    """Records in and records out of the job disagree: nothing is published."""


@dataclass
class HourResult:
    """What one run of an hour did; the manifest is this, as JSON."""

    hour: str
    model_version: str
    scored_at: str
    model_promotion: int = 0
    """The model's promotion number, carried by each verdict (the importers order verdicts by it)."""
    records_in: int = 0
    records_out: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    set_aside: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    """Records of readable files set aside one by one: per file and reason, how many."""
    stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records_set_aside(self) -> int:
        return sum(r["records"] for r in self.rejected)

    def summary(self) -> dict[str, Any]:
        """What a caller reads: the counts, the verdicts and the model (the manifest has the rest)."""
        return {
            "hour": self.hour,
            "model_version": self.model_version,
            "model_promotion": self.model_promotion,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "verdicts": self.verdicts,
            "set_aside": len(self.set_aside),
            "records_set_aside": self.records_set_aside,
        }


def read_v4(spark: SparkSession, paths: list[str]) -> DataFrame:
    """Sensor files of any version, resolved by Avro to the v4 reader schema, with their file name."""
    return (
        spark.read.format(AVRO_FORMAT)
        .option("avroSchema", json.dumps(contracts.reader_schema()))
        .load(paths)
        .withColumn("_file", F.col("_metadata.file_name"))
    )


def to_scored_messages(
    scored: DataFrame,
    model_version: str,
    hour: str,
    scored_at: datetime,
    versions_by_file: dict[str, int],
    model_promotion: int = 0,
) -> DataFrame:
    """The ScoredMessage shape, each verdict with its model's version and promotion number. Each
    row's sensor version comes from its file's, by a broadcast join on the file name: a literal
    map would be scanned key by key for every row (an hour of hundreds of files made it hundreds
    of string comparisons a row)."""
    versions = scored.sparkSession.createDataFrame(
        sorted(versions_by_file.items()), "_file string, sensor_schema_version int"
    )
    from_domain = trust_columns.domain_of(F.col("from_address"))
    return scored.join(F.broadcast(versions), "_file", "left").select(
        "message_id",
        "enterprise_id",
        "received_at",
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
        "from_address",
        "from_display_name",
        from_domain.alias("from_domain"),
        "reply_to",
        "sending_ip",
        "score",
        "verdict",
        "reasons",
        F.lit(model_version).alias("model_version"),
        F.lit(model_promotion).cast("long").alias("model_promotion"),
        F.lit("BATCH").alias("source"),
        F.lit(hour).alias("source_ref"),
        "sensor_schema_version",
    )


def score_staged(
    spark: SparkSession | Callable[[], SparkSession],
    staged: StagedHour,
    artifact: ModelArtifact,
    hour: datetime,
    scored_at: datetime,
    out_dir: str,
    counters_client: Any = None,
    labels: dict[tuple[str, str], bool] | None = None,
) -> HourResult:
    """Score the staged files into ``out_dir`` (a path or s3:// URI); ReconciliationError when
    counts disagree. With ``counters_client`` (Redis), the senders' reputation is read from the
    counters as of the hour's day (``counters_read``), as the stream scorer reads it, and the
    ``labels`` of the hour's messages ((enterprise, message id) -> malicious) are added to them."""
    label = layout.format_hour(hour)
    result = HourResult(
        label,
        artifact.version,
        scored_at.isoformat(),
        model_promotion=artifact.promotion,
        records_in=staged.records,
        inputs=[
            {"key": f.key, "records": f.records, "schema_version": f.schema_version} for f in staged.files
        ],
        set_aside=[asdict(s) for s in staged.set_aside],
    )
    if not staged.files:
        return result
    df = read_v4(spark if isinstance(spark, SparkSession) else spark(), staged.paths)
    files = staged.by_file_name()
    checked = with_channel_check(df, {name: f.enterprise_id for name, f in files.items()}).transform(
        lambda d: with_record_rules(d, hour + timedelta(hours=1))
    )
    accepted = checked.where(F.col(REASON).isNull()).drop(REASON, CHANNEL)
    versions = {name: f.schema_version for name, f in files.items()}
    if counters_client is not None:
        artifact = counters_read.with_counters(accepted, artifact, counters_client, hour.date())
    scored = trust_columns.score(accepted, artifact, keep=SCORED_INPUTS)
    out = to_scored_messages(scored, artifact.version, label, scored_at, versions, artifact.promotion)
    out = out.persist()
    try:
        result.records_out = out.count()
        if counters_client is not None and labels:
            counters_read.add_hour_labels(out, labels, artifact, counters_client)
        if result.records_out != result.records_in:  # only then is a second pass needed
            result.rejected = set_aside_records(checked, files, f"{out_dir}/rejected")
        if result.records_out + result.records_set_aside != result.records_in:
            raise ReconciliationError(
                f"{label}: {result.records_in} records in valid files, {result.records_out} scored, "
                f"{result.records_set_aside} set aside"
            )
        partitions = max(1, -(-result.records_out // ROWS_PER_OUTPUT_FILE))
        scored_schema = json.dumps(contracts.load(contracts.SCORED_MESSAGE))
        (
            out.coalesce(partitions)
            .write.format(AVRO_FORMAT)
            .option("avroSchema", scored_schema)
            .mode("overwrite")
            .save(f"{out_dir}/messages")
        )
        result.stats = hour_stats(out, artifact.version, label, staged.set_aside, scored_at, result.rejected)
    finally:
        out.unpersist()
    result.verdicts = {v: sum(s[k] for s in result.stats) for v, k in contracts.STATS_COUNTERS.items()}
    return result


def with_channel_check(df: DataFrame, channel_of_file: dict[str, str]) -> DataFrame:
    """``df`` with the enterprise of each row's channel (its file's ``enterprise=`` prefix, which
    only that enterprise's sensors can write) and the reason the row is set aside: null, or a
    record that claims another enterprise (tenants.EnterpriseMismatchError in the stream path)."""
    channels = df.sparkSession.createDataFrame(
        sorted(channel_of_file.items()), f"_file string, {CHANNEL} string"
    )
    claimed = F.substring(F.col("enterprise_id"), 1, 40)
    mismatch = F.concat(
        F.lit("EnterpriseMismatchError: record claims enterprise '"),
        claimed,
        F.lit("' but arrived on the channel of '"),
        F.col(CHANNEL),
        F.lit("'"),
    )
    reason = F.when(F.col("enterprise_id") != F.col(CHANNEL), mismatch)
    return df.join(F.broadcast(channels), "_file", "left").withColumn(REASON, reason)


def with_record_rules(checked: DataFrame, reference: datetime) -> DataFrame:
    """``checked`` (``with_channel_check``'s) with the rows that keep their channel but break a
    record rule (``trustpipe.records``, as of ``reference``: the hour's end, when its records were
    all seen, so a backfill judges an hour as its first run did) set aside with that rule's
    reason, the scorer's word for word."""
    return checked.withColumn(REASON, F.coalesce(F.col(REASON), record_rules.reason(reference)))


def set_aside_records(checked: DataFrame, files: dict[str, Any], out: str) -> list[dict[str, Any]]:
    """Write the rows ``with_channel_check`` and ``with_record_rules`` set aside to ``out`` as JSON
    lines (the landing key, claimed enterprise, message id and reason of each); how many per file
    and reason."""
    rejected = checked.where(F.col(REASON).isNotNull())
    counts = rejected.groupBy("_file", CHANNEL, REASON).count().collect()
    keys = checked.sparkSession.createDataFrame(
        sorted((name, f.key) for name, f in files.items()), "_file string, key string"
    )
    (
        rejected.join(F.broadcast(keys), "_file", "left")
        .select(
            "key",
            F.col(CHANNEL).alias("enterprise_id"),
            F.substring("enterprise_id", 1, 64).alias("claimed_enterprise_id"),
            F.substring("message_id", 1, 256).alias("message_id"),
            F.col(REASON).alias("reason"),
        )
        .coalesce(1)
        .write.mode("overwrite")
        .json(out)
    )
    return [
        {
            "key": files[r["_file"]].key,
            "enterprise_id": r[CHANNEL],
            "reason": r[REASON],
            "records": r["count"],
        }
        for r in sorted(counts, key=lambda r: (r["_file"], r[REASON]))
    ]


def hour_stats(
    out: DataFrame,
    model_version: str,
    hour: str,
    set_aside: Iterable[SetAside],
    computed_at: datetime,
    rejected: Iterable[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """ScoringStats rows of the hour: verdicts per enterprise, with what was set aside of each
    (whole objects' readable records and single records) and the histogram of its scores
    (contracts.SCORE_HISTOGRAM_BINS equal bins over [0, 1], 1.0 in the last)."""
    score_bin = F.least(
        F.floor(F.col("score") * contracts.SCORE_HISTOGRAM_BINS), F.lit(contracts.SCORE_HISTOGRAM_BINS - 1)
    )
    rows = (
        out.groupBy("enterprise_id")
        .agg(
            F.count("*").alias("messages"),
            F.sum((F.col("verdict") == "QUARANTINE").cast("long")).alias("quarantined"),
            F.sum((F.col("verdict") == "LABEL").cast("long")).alias("labelled"),
            F.sum((F.col("verdict") == "PASS_THROUGH").cast("long")).alias("passed"),
            F.avg("score").alias("mean_score"),
            F.array(
                *(F.sum((score_bin == b).cast("long")) for b in range(contracts.SCORE_HISTOGRAM_BINS))
            ).alias("score_histogram"),
        )
        .orderBy("enterprise_id")
        .collect()
    )
    aside: Counter[str] = Counter()
    for s in set_aside:
        aside[s.enterprise_id] += s.records_readable
    for r in rejected:
        aside[r["enterprise_id"]] += r["records"]
    return [
        {
            **row.asDict(),
            "hour": hour,
            "model_version": model_version,
            "set_aside": aside[row["enterprise_id"]],
            "computed_at": computed_at,
        }
        for row in rows
    ]


def publish(client: Any, bucket: str, hour: datetime, parts: Iterable[bytes], result: HourResult) -> None:
    """Upload the hour's files under stable names, drop what an earlier run left, manifest last."""
    stale = {o["Key"] for o in s3.list_objects(client, bucket, layout.scored_hour_prefix(hour))}
    result.files = []
    for n, body in enumerate(parts):
        key = layout.scored_part_key(hour, n)
        result.files.append({"key": key, "records": _count(body), "kind": "scored_messages"})
        s3.put(client, bucket, key, body)
    if result.stats:
        key = layout.stats_key(hour)
        s3.put(
            client,
            bucket,
            key,
            container_bytes(contracts.load(contracts.SCORING_STATS), result.stats),
        )
        result.files.append({"key": key, "records": len(result.stats), "kind": "scoring_stats"})
    written = {f["key"] for f in result.files} | {layout.manifest_key(hour)}
    for key in sorted(stale - written):
        client.delete_object(Bucket=bucket, Key=key)
    manifest = {
        **asdict(result),
        "stats": [{**s, "computed_at": str(s["computed_at"])} for s in result.stats],
    }
    s3.put(client, bucket, layout.manifest_key(hour), json.dumps(manifest, indent=1, sort_keys=True).encode())


def publish_work(client: Any, out: str, scored_bucket: str, hour: datetime, result: HourResult) -> None:
    """Publish the parts Spark wrote under ``out`` (s3://bucket/prefix), then clear the prefix."""
    work_bucket, _, work_prefix = out.removeprefix("s3://").partition("/")
    publish(client, scored_bucket, hour, _work_parts(client, f"{out}/messages/"), result)
    for o in s3.list_objects(client, work_bucket, f"{work_prefix}/"):
        client.delete_object(Bucket=work_bucket, Key=o["Key"])


def publish_set_aside_records(
    client: Any, landing_bucket: str, hour: datetime, parts: Iterable[bytes]
) -> None:
    """The hour's single set-aside records under ``layout.set_aside_records_prefix`` of the
    landing bucket, beside the objects set aside whole; what an earlier run left is replaced."""
    stale = {o["Key"] for o in s3.list_objects(client, landing_bucket, layout.set_aside_records_prefix(hour))}
    written = set()
    for n, body in enumerate(p for p in parts if p):
        key = layout.set_aside_records_key(hour, n)
        s3.put(client, landing_bucket, key, body)
        written.add(key)
    for key in sorted(stale - written):
        client.delete_object(Bucket=landing_bucket, Key=key)


def _count(body: bytes) -> int:
    return sum(block.num_records for block in fastavro.block_reader(io.BytesIO(body)))


def run_hour(
    spark: SparkSession | Callable[[], SparkSession],
    client: Any,
    landing_bucket: str,
    scored_bucket: str,
    artifact: ModelArtifact,
    hour: datetime,
    scored_at: datetime | None = None,
    work_uri: str | None = None,
    progress: Progress = quiet,
    served: frozenset[str] | None = None,
    counters_client: Any = None,
    labels_bucket: str | None = None,
) -> HourResult:
    """One hour: stage, score, publish (``spark`` may be a factory: an hour with nothing to score
    starts no JVM). Locally the files pass through a temporary directory; with
    ``work_uri`` (s3://bucket/prefix, on a cluster) the judged files are staged there, Spark reads
    them and writes its parts there, publishing copies the parts to their stable names and clears
    the prefix. With ``served``,
    files of other enterprises are set aside unscored. With ``counters_client`` (Redis), the
    senders' reputation comes from the counters as of the hour (``score_staged``), and the hour's
    ground truth under ``labels_bucket`` is added to them once scored."""
    scored_at = scored_at or datetime.now(UTC)
    steps = f"{layout.format_hour(hour)}: stage, score, publish"
    progress(steps, 0, 3)
    labels = None
    if counters_client is not None and labels_bucket is not None:
        labels = counters_read.hour_labels(client, labels_bucket, hour)
    if work_uri:
        out = f"{work_uri.rstrip('/')}/{layout.format_hour(hour)}"
        staged = stage_hour(client, landing_bucket, hour, f"{out}/input", served)
        progress(steps, 1, 3)
        result = score_staged(spark, staged, artifact, hour, scored_at, out, counters_client, labels)
        progress(steps, 2, 3)
        publish_set_aside_records(client, landing_bucket, hour, _work_parts(client, f"{out}/rejected/"))
        publish_work(client, out, scored_bucket, hour, result)
        progress(steps, 3, 3)
        return result
    with tempfile.TemporaryDirectory(prefix="trustpipe-score-") as tmp:
        work = Path(tmp)
        staged = stage_hour(client, landing_bucket, hour, work / "input", served)
        progress(steps, 1, 3)
        result = score_staged(
            spark, staged, artifact, hour, scored_at, str(work / "output"), counters_client, labels
        )
        progress(steps, 2, 3)
        rejected = sorted((work / "output" / "rejected").glob("part-*.json"))
        publish_set_aside_records(client, landing_bucket, hour, (p.read_bytes() for p in rejected))
        parts = sorted((work / "output" / "messages").glob("part-*.avro"))
        publish(client, scored_bucket, hour, (p.read_bytes() for p in parts), result)
        progress(steps, 3, 3)
        return result


def _work_parts(client: Any, uri: str) -> Iterator[bytes]:
    """The bodies of the ``part-*`` objects Spark wrote under ``uri`` (s3://bucket/prefix/), in
    key order."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    for obj in sorted(s3.list_objects(client, bucket, prefix), key=lambda o: str(o["Key"])):
        if obj["Key"].rsplit("/", 1)[-1].startswith("part-"):
            yield s3.get(client, bucket, obj["Key"])
