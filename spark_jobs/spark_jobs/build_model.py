"""Nightly model build: Spark MLlib logistic regression on labelled history, evaluated on a
time-based holdout, promoted only when it beats the current model (or a floor when none)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from spark_jobs import record_rules, trust_columns
from spark_jobs.session import AVRO_FORMAT
from trustpipe import contracts, counters
from trustpipe.counters import MIN_SEEN, SMOOTHING
from trustpipe.model.artifact import ModelArtifact, ModelBuildError, Thresholds
from trustpipe.model.features import FEATURES, INTERNAL_IP, Profile, Reputation
from trustpipe.model.suffixes import SuffixList

HOLDOUT_SHARE = 0.25
AUC_FLOOR = 0.75
QUARANTINE_PRECISION, LABEL_PRECISION = 0.95, 0.5
DEFAULT_THRESHOLDS = Thresholds(quarantine=0.9, label=0.5)


@dataclass
class BuildResult:
    artifact: ModelArtifact
    promoted: bool
    reason: str
    current_auc: float | None
    tiles: Tiles | None = None
    """The counters' exact tiles of the history, when asked for (``count_tiles``)."""

    def summary(self) -> dict[str, Any]:
        """The candidate, its holdout metrics, the current model's AUC and the gate's decision."""
        return {
            "version": self.artifact.version,
            "promoted": self.promoted,
            "reason": self.reason,
            "metrics": self.artifact.metadata["metrics"],
            "current_auc": self.current_auc,
        }


KEY = ["enterprise_id", "message_id"]
TRUTH = "enterprise_id string, message_id string, label double, reviewed double"
"""Ground truth as the build joins it: ``label`` 1.0 for malicious, ``reviewed`` 1.0 when a
reviewer's decision gave it."""


def labelled_history(
    spark: SparkSession,
    message_paths: list[str],
    label_paths: list[str],
    review_paths: Sequence[str] = (),
) -> DataFrame:
    """Messages (v4) joined with their ground truth by (enterprise, message id): one Message-ID
    at two enterprises is two messages, each with its own label; ``label`` 1.0 for malicious."""
    reader = json.dumps(contracts.reader_schema())
    messages = spark.read.format(AVRO_FORMAT).option("avroSchema", reader).load(message_paths)
    return messages.join(ground_truth(spark, label_paths, review_paths), KEY)


def ground_truth(spark: SparkSession, label_paths: Sequence[str], review_paths: Sequence[str]) -> DataFrame:
    """The simulator's labels, where a reviewer decided a message its latest decision's instead:
    a plain override, weighed as any other row (docs/model.md says why)."""
    reviewed = review_labels(spark, review_paths)
    simulated = simulator_labels(spark, label_paths).join(reviewed, KEY, "left_anti")
    return reviewed.unionByName(simulated)


def simulator_labels(spark: SparkSession, label_paths: Sequence[str]) -> DataFrame:
    if not label_paths:
        return spark.createDataFrame([], TRUTH)
    return (
        spark.read.format(AVRO_FORMAT)
        .load(list(label_paths))
        .select(*KEY, F.col("is_malicious").cast("double").alias("label"), F.lit(0.0).alias("reviewed"))
    )


def review_labels(spark: SparkSession, review_paths: Sequence[str]) -> DataFrame:
    """Each reviewed message's latest decision (``schemas/review_label.avsc``): the latest
    ``decided_at`` wins, and in one millisecond confirm_malicious over the benign decisions."""
    if not review_paths:
        return spark.createDataFrame([], TRUTH)
    latest = Window.partitionBy(*KEY).orderBy(F.col("decided_at").desc(), F.col("is_malicious").desc())
    return (
        spark.read.format(AVRO_FORMAT)
        .load(list(review_paths))
        .withColumn("nth", F.row_number().over(latest))
        .filter(F.col("nth") == 1)
        .select(*KEY, F.col("is_malicious").cast("double").alias("label"), F.lit(1.0).alias("reviewed"))
    )


def split_by_time(history: DataFrame) -> tuple[DataFrame, DataFrame, datetime]:
    """Oldest (1 - HOLDOUT_SHARE) for training, the newest for the holdout."""
    millis = history.select((F.col("received_at").cast("double") * 1000).alias("t"))
    (cutoff_ms,) = millis.approxQuantile("t", [1 - HOLDOUT_SHARE], 0.001)
    cutoff = datetime.fromtimestamp(cutoff_ms / 1000, UTC)
    return (
        history.filter(F.col("received_at") < F.lit(cutoff)),
        history.filter(F.col("received_at") >= F.lit(cutoff)),
        cutoff,
    )


def _with_org(df: DataFrame, suffixes: SuffixList) -> DataFrame:
    return trust_columns.with_org_domains(
        df, {"org": trust_columns.domain_of(F.col("from_address"))}, suffixes
    )


def profiles(train: DataFrame, suffixes: SuffixList) -> dict[str, Profile]:
    """Each enterprise's own domains and its people's names, from its internal mail."""
    internal = _with_org(train.filter(F.col("sending_ip").startswith(INTERNAL_IP)), suffixes).withColumn(
        "name", F.lower(F.trim(F.col("from_display_name")))
    )
    domains = internal.groupBy("enterprise_id", "org").count().filter(F.col("count") >= MIN_SEEN).collect()
    names = internal.filter(F.col("name") != "").select("enterprise_id", "name").distinct().collect()
    result: dict[str, Profile] = {}
    for ent in sorted({r["enterprise_id"] for r in domains}):
        result[ent] = Profile(
            tuple(sorted(r["org"] for r in domains if r["enterprise_id"] == ent)),
            frozenset(r["name"] for r in names if r["enterprise_id"] == ent),
        )
    return result


def _keys(df: DataFrame, suffixes: SuffixList) -> DataFrame:
    return _with_org(df, suffixes).withColumn("prefix", trust_columns.ip_prefix())


def reputation(
    train: DataFrame, prior: float, suffixes: SuffixList
) -> tuple[Reputation, DataFrame, DataFrame]:
    """Smoothed malicious rates by org domain and /24, plus their counts (for leave-one-out)."""
    keyed = _keys(train, suffixes)
    tables = []
    for key in ("org", "prefix"):
        counts = keyed.groupBy(key).agg(F.count("*").alias(f"{key}_n"), F.sum("label").alias(f"{key}_bad"))
        tables.append(counts)
    rates = [
        {r[0]: (r[2] + prior * SMOOTHING) / (r[1] + SMOOTHING) for r in t.collect() if r[1] >= MIN_SEEN}
        for t in tables
    ]
    return Reputation(rates[0], rates[1], prior), tables[0], tables[1]


def _leave_one_out(
    features: DataFrame, org_counts: DataFrame, prefix_counts: DataFrame, prior: float, suffixes: SuffixList
) -> DataFrame:
    """Training rows must not see their own label in the reputation they are trained on."""
    joined = _keys(features, suffixes).join(org_counts, "org", "left").join(prefix_counts, "prefix", "left")
    columns = {}
    for key, rate, unseen in (
        ("org", "domain_reputation", "domain_unseen"),
        ("prefix", "ip_reputation", "ip_unseen"),
    ):
        n, bad = F.col(f"{key}_n") - 1, F.col(f"{key}_bad") - F.col("label")
        seen = n >= MIN_SEEN
        columns[rate] = F.when(seen, (bad + prior * SMOOTHING) / (n + SMOOTHING)).otherwise(F.lit(prior))
        columns[unseen] = F.when(seen, F.lit(0.0)).otherwise(F.lit(1.0))
    return joined.withColumns(columns)


@dataclass(frozen=True)
class Tiles:
    """The counters' exact tiles from labelled history (``trustpipe.counters``): each entity's
    day tiles, and its window's sum through the history's last day."""

    days: list[tuple[str, str, date, int, int]]
    """(aggregate, entity, day, labelled messages, malicious labels)."""
    through: date
    windows: list[tuple[str, str, int, int]]
    """(aggregate, entity, labelled messages, malicious labels) of the window through ``through``."""


def tiles(history: DataFrame, suffixes: SuffixList) -> Tiles:
    """The counters' exact tiles of ``history`` (labelled, record rules applied): one
    aggregation per aggregate; only the per-entity, per-day counts reach the driver."""
    keyed = _keys(history, suffixes).withColumn("day", F.to_date("received_at"))
    days: list[tuple[str, str, date, int, int]] = []
    for aggregate, key in ((counters.ORG, "org"), (counters.NET, "prefix")):
        rows = keyed.groupBy(key, "day").agg(F.count("*").alias("n"), F.sum("label").alias("bad")).collect()
        days += [(aggregate, r[key], r["day"], int(r["n"]), int(r["bad"])) for r in rows]
    if not days:
        raise ModelBuildError("no labelled history to count")
    through = max(d for _, _, d, _, _ in days)
    start = through - timedelta(days=counters.WINDOW_DAYS - 1)
    sums: dict[tuple[str, str], tuple[int, int]] = {}
    for aggregate, entity, day, n, bad in days:
        if day >= start:
            was = sums.get((aggregate, entity), (0, 0))
            sums[(aggregate, entity)] = (was[0] + n, was[1] + bad)
    windows = [(a, e, n, bad) for (a, e), (n, bad) in sorted(sums.items())]
    return Tiles(sorted(days), through, windows)


GRID = tuple(step / 100 for step in range(5, 100))
"""The thresholds a build may choose: 0.05 to 0.99 in steps of 0.01."""


def _choose(flagged: list[tuple[int, float]], precision: float, fallback: float) -> float:
    """The lowest threshold of ``GRID`` whose precision reaches ``precision``, from the rows at or
    above each threshold: ``flagged[i]`` = (how many, how many malicious) for ``GRID[i]``."""
    for t, (n, bad) in zip(GRID, flagged, strict=True):
        if n and bad / n >= precision:
            return t
    return fallback


def thresholds(scored_train: DataFrame) -> dict[str, Thresholds]:
    """Each enterprise's QUARANTINE and LABEL thresholds. One aggregation over the scored rows
    (per enterprise, for every threshold of the grid: rows at or above it and how many of them
    are malicious): only those counts reach the driver, however many rows were trained on."""
    score, label = F.col("score"), F.col("label")
    columns = []
    for i, t in enumerate(GRID):
        above = score >= F.lit(t)
        columns += [
            F.count(F.when(above, True)).alias(f"n{i}"),
            F.sum(F.when(above, label).otherwise(F.lit(0.0))).alias(f"bad{i}"),
        ]
    result = {}
    for row in scored_train.groupBy("enterprise_id").agg(*columns).collect():
        flagged = [(int(row[f"n{i}"]), float(row[f"bad{i}"])) for i in range(len(GRID))]
        quarantine = _choose(flagged, QUARANTINE_PRECISION, DEFAULT_THRESHOLDS.quarantine)
        label_t = min(_choose(flagged, LABEL_PRECISION, DEFAULT_THRESHOLDS.label), quarantine)
        result[row["enterprise_id"]] = Thresholds(quarantine, label_t)
    return dict(sorted(result.items()))


def evaluate(spark_scored: DataFrame) -> dict[str, float]:
    """AUC, and precision/recall of the QUARANTINE verdict, on scored labelled rows."""
    auc = BinaryClassificationEvaluator(rawPredictionCol="score", labelCol="label").evaluate(spark_scored)
    row = spark_scored.agg(
        F.sum(((F.col("verdict") == "QUARANTINE") & (F.col("label") == 1)).cast("long")).alias("tp"),
        F.sum((F.col("verdict") == "QUARANTINE").cast("long")).alias("flagged"),
        F.sum(F.col("label")).alias("positives"),
        F.count("*").alias("rows"),
    ).first()
    assert row is not None
    return {
        "auc": round(auc, 6),
        "precision": round(row["tp"] / row["flagged"], 6) if row["flagged"] else 0.0,
        "recall": round(row["tp"] / row["positives"], 6) if row["positives"] else 0.0,
        "rows": int(row["rows"]),
    }


CURVE_GRID = tuple(step / 100 for step in range(0, 101))
"""Thresholds the holdout curves are counted at (ROC and precision-recall, drawn from them)."""


def curve(spark_scored: DataFrame) -> dict[str, Any]:
    """The holdout's confusion counts at each threshold of CURVE_GRID (flagged = score at or above
    it): true and false positives, with the positives and negatives in all. One aggregation; only
    the counts reach the driver."""
    score, label = F.col("score"), F.col("label")
    columns = [F.sum(label).alias("positives"), F.count("*").alias("rows")]
    for i, t in enumerate(CURVE_GRID):
        above = score >= F.lit(t)
        columns += [
            F.sum(F.when(above, label).otherwise(F.lit(0.0))).alias(f"tp{i}"),
            F.count(F.when(above & (label == 0), True)).alias(f"fp{i}"),
        ]
    row = spark_scored.agg(*columns).first()
    assert row is not None
    positives = int(row["positives"] or 0)
    return {
        "thresholds": list(CURVE_GRID),
        "tp": [int(row[f"tp{i}"] or 0) for i in range(len(CURVE_GRID))],
        "fp": [int(row[f"fp{i}"]) for i in range(len(CURVE_GRID))],
        "positives": positives,
        "negatives": int(row["rows"]) - positives,
    }


def _version(trained_at: datetime, window: Iterable[str]) -> str:
    digest = hashlib.sha256(",".join(window).encode()).hexdigest()[:8]
    return f"{trained_at:%Y%m%dT%H%M%S}-{digest}"


def build(
    history: DataFrame,
    window: list[str],
    current: ModelArtifact | None,
    trained_at: datetime | None = None,
    count_tiles: bool = False,
) -> BuildResult:
    """Train, evaluate on the time holdout, and decide promotion against ``current``; with
    ``count_tiles``, count the history's exact tiles for the counters too."""
    trained_at = trained_at or datetime.now(UTC)
    history = history.persist()
    train, holdout, cutoff = split_by_time(history)
    reviewed = F.sum("reviewed") if "reviewed" in train.columns else F.lit(0)
    stats = train.agg(
        F.count("*").alias("n"), F.avg("label").alias("prior"), reviewed.alias("reviewed")
    ).first()
    assert stats is not None
    if stats["n"] < 500 or not 0 < (stats["prior"] or 0) < 1:
        raise ModelBuildError(
            f"{stats['n']} labelled training rows with malicious share {stats['prior']}: "
            "need 500+ with both kinds"
        )
    prior = float(stats["prior"])
    suffixes = SuffixList.bundled()
    rep, org_counts, prefix_counts = reputation(train, prior, suffixes)
    draft = ModelArtifact(
        version=_version(trained_at, window),
        intercept=0.0,
        weights=dict.fromkeys(FEATURES, 0.0),
        default_thresholds=DEFAULT_THRESHOLDS,
        thresholds={},
        profiles=profiles(train, suffixes),
        reputation=rep,
        suffixes=suffixes,
    )
    train_features = _leave_one_out(
        trust_columns.with_features(train, draft), org_counts, prefix_counts, prior, suffixes
    )
    assembled = VectorAssembler(inputCols=list(FEATURES), outputCol="features").transform(train_features)
    # Computed once and cut from its plan: the optimizer passes over the fit's input (the Public
    # Suffix List's sets among its expressions) cost seconds each, and the fit asks many times.
    assembled = assembled.select("features", "label").localCheckpoint()
    fitted = LogisticRegression(maxIter=200, regParam=0.001, labelCol="label").fit(assembled)
    weights = dict(zip(FEATURES, (float(w) for w in fitted.coefficients), strict=True))
    model = ModelArtifact(**{**draft.__dict__, "intercept": float(fitted.intercept), "weights": weights})
    model = ModelArtifact(**{**model.__dict__, "thresholds": thresholds(trust_columns.score(train, model))})
    scored_holdout = trust_columns.score(holdout, model).persist()
    metrics = evaluate(scored_holdout)
    curves = {"candidate": curve(scored_holdout)}
    scored_holdout.unpersist()
    current_auc = None
    if current:
        scored_current = trust_columns.score(holdout, current).persist()
        current_auc = evaluate(scored_current)["auc"]
        curves["current"] = {"version": current.version, **curve(scored_current)}
        scored_current.unpersist()
    counted = tiles(history, suffixes) if count_tiles else None
    history.unpersist()
    metadata = {
        "trained_at": trained_at.isoformat(),
        "training_window": window,
        "holdout_from": cutoff.isoformat(),
        "training_rows": int(stats["n"]),
        "reviewed_training_rows": int(stats["reviewed"] or 0),
        "malicious_share": round(prior, 6),
        "public_suffix_list": suffixes.version,
        "metrics": metrics,
        "holdout_curves": curves,
    }
    model = ModelArtifact(**{**model.__dict__, "metadata": metadata})
    if current_auc is None:
        promoted = metrics["auc"] >= AUC_FLOOR
        reason = f"no current model; holdout AUC {metrics['auc']:.4f} vs floor {AUC_FLOOR}"
    else:
        promoted = metrics["auc"] > current_auc
        previous = current.version if current else ""
        reason = f"holdout AUC {metrics['auc']:.4f} vs current {previous} {current_auc:.4f}"
    return BuildResult(model, promoted, reason, current_auc, counted)


def training_history(
    spark: SparkSession,
    message_paths: list[str],
    label_paths: list[str],
    until: datetime,
    review_paths: Sequence[str] = (),
) -> DataFrame:
    """What a build trains and evaluates on: the labelled history of ``message_paths`` (reviewers'
    decisions over the simulator's labels), less the records that break a record rule
    (``trustpipe.records``, as of ``until``): the scoring job would set them aside, and a negative
    count is no value the features take."""
    history = labelled_history(spark, message_paths, label_paths, review_paths)
    return history.where(record_rules.reason(until).isNull())


def run(
    spark: SparkSession,
    message_paths: list[str],
    label_paths: list[str],
    window: list[str],
    current: ModelArtifact | None,
    trained_at: datetime | None = None,
    until: datetime | None = None,
    count_tiles: bool = False,
    review_paths: Sequence[str] = (),
) -> BuildResult:
    """Build from the ``training_history`` as of ``until`` (the training window's end) or
    ``trained_at``."""
    trained_at = trained_at or datetime.now(UTC)
    kept = training_history(spark, message_paths, label_paths, until or trained_at, review_paths)
    return build(kept, window, current, trained_at, count_tiles)
