"""P3: the scoring job's rows/s against Spark's bare Avro read -> write of the same files, in the
same run (goal >= 0.5x), at two sizes: an hour of simulated traffic (about 50,000 rows) and one of
real volume (the same files copied to over 1,000,000 rows); a Python-UDF variant of the same model
(small size only) shows what native expressions buy. Both apply the job's record rules first
(``spark_jobs.record_rules``), as the job does.

Runs on a SparkSession of its own (``local[2]``), or on the one it is given (the test suite's)."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import NOTHING, Result, Shared
from spark_jobs import record_rules, trust_columns
from spark_jobs.score_messages import SCORED_INPUTS, read_v4, to_scored_messages
from spark_jobs.session import AVRO_FORMAT, local_session
from trustpipe import contracts, layout
from trustpipe.codec import container_bytes
from trustpipe.model.scorer import TrustModel
from trustpipe_sensors.handmade_model import artifact
from trustpipe_sensors.sensor import generate_quarter, to_version
from trustpipe_sensors.world import World

NEEDS: tuple[str, ...] = ("spark",)


@dataclass(frozen=True)
class Size:
    scale: float
    """Of an hour's simulated traffic, in 12 files (4.0: about 50,000 messages)."""
    large_copies: int
    """The large size is the same files this many times."""
    repeats: int
    """Each figure is the median of this many runs after a warm-up (on a shared machine the
    best of two moved the ratio by 0.08 between rounds)."""
    warm_up: bool
    hour_beside: bool
    """Whether the hour itself (the files once) and the Python-UDF variant are measured beside:
    each is another Spark query, and the scoring query's planning is seconds however few rows."""


FULL = Size(scale=4.0, large_copies=21, repeats=3, warm_up=True, hour_beside=True)  # 1,026,543 rows
SMOKE = Size(scale=0.05, large_copies=2, repeats=1, warm_up=False, hour_beside=False)


def _files(folder: Path, scale: float) -> tuple[list[str], dict[str, int]]:
    world = World.build(3)
    hour = layout.parse_hour("2026-11-26T13")
    paths, versions = [], {}
    for ent in world.enterprises.values():
        for n, start in enumerate(layout.quarter_starts(hour)):
            records = [
                to_version(m.record, ent.sensor_version)
                for m in generate_quarter(world, ent, start, 3, scale)
            ]
            path = folder / f"{ent.enterprise_id}-{n}.avro"
            path.write_bytes(container_bytes(contracts.email_metadata(ent.sensor_version), records))
            paths.append(str(path))
            versions[path.name] = ent.sensor_version
    return paths, versions


def _copies(paths: list[str], versions: dict[str, int], copies: int) -> list[str]:
    """``paths`` and ``copies - 1`` copies of each under new names (same sensor versions)."""
    copied = list(paths)
    for n in range(1, copies):
        for path in paths:
            name = Path(path).name.replace(".avro", f"-copy{n}.avro")
            target = Path(path).with_name(name)
            shutil.copyfile(path, target)
            versions[name] = versions[Path(path).name]
            copied.append(str(target))
    return copied


def _median(run: Callable[[], int], size: Size) -> float:
    """Rows/s of ``run``, the median of the size's repeats (after a warm-up: JIT, planning,
    caches)."""
    if size.warm_up:
        run()
    rates = []
    for _ in range(size.repeats):
        began = time.perf_counter()
        rows = run()
        rates.append(rows / (time.perf_counter() - began))
    return statistics.median(rates)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    spark = shared.spark or local_session("bench-p3", "local[2]", shuffle_partitions=4)
    try:
        return _measure(spark, size)
    finally:
        if shared.spark is None:
            spark.stop()


def _measure(spark: Any, size: Size) -> list[Result]:
    model = artifact()
    scorer = TrustModel(model)
    scored_schema = contracts.load(contracts.SCORED_MESSAGE)
    with tempfile.TemporaryDirectory(prefix="bench-p3-") as tmp:
        folder = Path(tmp)
        paths, versions = _files(folder, size.scale)
        large = _copies(paths, versions, size.large_copies)
        files = [paths, large] if size.hour_beside else [large]
        counts = {len(f): read_v4(spark, f).count() for f in files}

        def write(df: Any, files: list[str], name: str, schema: dict[str, Any] | None = None) -> int:
            writer = df.write.format(AVRO_FORMAT).mode("overwrite")
            if schema is not None:
                writer = writer.option("avroSchema", json.dumps(schema))
            writer.save(str(folder / name))
            return counts[len(files)]

        def bare(files: list[str]) -> int:
            return write(read_v4(spark, files).drop("_file"), files, "bare")

        def native(files: list[str]) -> int:
            # the job's own record rules first, as it applies them (every record keeps them here)
            kept = read_v4(spark, files).where(record_rules.reason(datetime.now(UTC)).isNull())
            scored = trust_columns.score(kept, model, keep=SCORED_INPUTS)
            return write(
                to_scored_messages(scored, model.version, "h", datetime.now(UTC), versions),
                files,
                "native",
                scored_schema,
            )

        def udf() -> int:
            from pyspark.sql import functions as F

            def py_score(row: Any) -> tuple[float, str, list[str]]:
                verdict = scorer.score(row.asDict(recursive=True))
                return verdict.score, verdict.verdict, verdict.reasons

            score_udf = F.udf(py_score, "struct<score:double,verdict:string,reasons:array<string>>")
            df = read_v4(spark, paths).where(record_rules.reason(datetime.now(UTC)).isNull())
            scored = df.withColumn("_v", score_udf(F.struct(*df.columns))).select("*", "_v.*").drop("_v")
            return write(
                to_scored_messages(scored, model.version, "h", datetime.now(UTC), versions),
                paths,
                "udf",
                scored_schema,
            )

        measured = {}
        if size.hour_beside:
            measured["bare"] = _median(lambda: bare(paths), size)
            measured["native"] = _median(lambda: native(paths), size)
            measured["udf"] = _median(udf, size)
        measured["bare_large"] = _median(lambda: bare(large), size)
        measured["native_large"] = _median(lambda: native(large), size)
    detail: dict[str, Any] = {"rows": counts[len(large)]}
    if size.hour_beside:
        detail |= {
            "small_rows": counts[len(paths)],
            "small_rows_per_s": round(measured["native"]),
            "small_baseline": round(measured["bare"]),
            "small_ratio": round(measured["native"] / measured["bare"], 3),
            "udf_rows_per_s": round(measured["udf"]),
            "udf_ratio": round(measured["udf"] / measured["bare"], 3),
        }
    return [
        Result(
            "P3",
            f"scoring job (native expressions) vs bare Avro read -> write, {counts[len(large)]:,} rows",
            measured["native_large"],
            measured["bare_large"],
            ">= 0.5 at >= 1M rows",
            "rows/s",
            detail,
        ),
    ]
