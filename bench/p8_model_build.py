"""P8: the nightly model build as its training window grows. Rows/s of `build_model.run` at 6
and 24 simulated hours, and the driver's peak RSS at each (the Python driver, where a collect of
training rows would land, and the JVM beside it): the goal is that the 24-hour build's driver
needs at most 1.5x the 6-hour one's.

P8c: the nightly build at the larger window with the counters' tiles (``count_tiles``: the
history's exact day tiles and windows counted, then written to a redis-server of this run's own,
as ``runner.build`` does when the settings name a Redis) against the same build without them, the
build as it was before the counters. Both rescan the whole history: the build trains on it, and
its reputation features leave each row's own label out, so the tiles add a pass rather than
replace one.

Each build runs in a fresh process (a process's peak RSS only grows), on files written
beforehand by this one (the simulator's own memory is not the build's). Given a SparkSession (the
test suite's), both builds run on it in this process instead: the figures then measure nothing,
but every call the builds make is made."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import NOTHING, Result, Shared
from trustpipe import contracts, layout
from trustpipe.codec import container_bytes

FIRST_HOUR = layout.parse_hour("2026-11-20T00")
NEEDS: tuple[str, ...] = ("spark",)


@dataclass(frozen=True)
class Size:
    hours: tuple[int, int]
    """The smaller and the larger training window."""
    scale: float
    """Of the simulator's traffic (1.0: about 4,700 messages an hour)."""


FULL = Size(hours=(6, 24), scale=1.0)
SMOKE = Size(hours=(1, 1), scale=0.3)
"""One build compared with itself (with the tiles, for P8c's calls): a build is dozens of Spark
jobs, each with its fixed cost however few its rows, and the smoke checks the calls, not the
growth."""


def _write_history(
    folder: Path, hours: int, scale: float, first: datetime = FIRST_HOUR
) -> tuple[list[Path], list[Path]]:
    """``hours`` hours of sensor files and their ground truth from ``first``, as the sensors land
    them (in ``folder``'s ``m`` and ``l``)."""
    from datetime import timedelta

    from trustpipe_sensors.sensor import generate_quarter, label, to_version
    from trustpipe_sensors.world import World

    world = World.build(3)
    label_schema = contracts.load(contracts.GROUND_TRUTH_LABEL)
    messages, labels = [], []
    for h in range(hours):
        hour = first + timedelta(hours=h)
        for start in layout.quarter_starts(hour):
            for ent in world.enterprises.values():
                drop = generate_quarter(world, ent, start, 8, scale)
                name = f"{layout.format_hour(start)}-{start.minute:02d}-{ent.enterprise_id}.avro"
                records = (to_version(m.record, ent.sensor_version) for m in drop)
                (folder / "m" / name).write_bytes(
                    container_bytes(contracts.email_metadata(ent.sensor_version), records)
                )
                (folder / "l" / name).write_bytes(container_bytes(label_schema, map(label, drop)))
                messages.append(folder / "m" / name)
                labels.append(folder / "l" / name)
    return messages, labels


def _vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(
    folder: Path, hours: int, of_hours: int, spark: Any = None, redis_url: str | None = None
) -> dict[str, float]:
    """One build over the first ``hours`` of the ``of_hours`` hours in ``folder``: rows, seconds,
    peak RSS; on a SparkSession of its own unless given one. With ``redis_url``, the build counts
    the counters' tiles and writes them there, in its seconds."""
    from spark_jobs import build_model
    from spark_jobs.session import local_session
    from trustpipe import counters

    per_hour = len(list((folder / "m").glob("*"))) // of_hours
    names = sorted(p.name for p in (folder / "m").glob("*"))[: per_hour * hours]  # hour first
    own = spark is None
    spark = spark or local_session(f"bench-p8-{hours}h", "local[2]", shuffle_partitions=4)
    began = time.perf_counter()
    result = build_model.run(
        spark,
        [str(folder / "m" / n) for n in names],
        [str(folder / "l" / n) for n in names],
        [f"{hours}h"],
        None,
        count_tiles=redis_url is not None,
    )
    tiles = 0
    if redis_url is not None and result.tiles is not None:
        client = counters.client(redis_url)
        counters.write_build(client, result.tiles.days, result.tiles.through, result.tiles.windows)
        client.close()
        tiles = len(result.tiles.days) + len(result.tiles.windows)
    seconds = time.perf_counter() - began
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
    out = {
        "rows": float(result.artifact.metadata["training_rows"]),
        "seconds": seconds,
        "python_peak_rss_kb": float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "jvm_peak_rss_kb": float(_vm_hwm_kb(jvm)),
        "auc": float(result.artifact.metadata["metrics"]["auc"]),
        "tiles": float(tiles),
    }
    if own:
        spark.stop()
    return out


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-p8-") as tmp:
        folder = Path(tmp)
        (folder / "m").mkdir()
        (folder / "l").mkdir()
        _write_history(folder, size.hours[-1], size.scale)
        windows, last = sorted(set(size.hours)), size.hours[-1]
        runs = {hours: _build(folder, hours, last, shared.spark) for hours in windows if len(windows) > 1}
        with own_redis(folder / "redis") as url:
            tiled = _build(folder, last, last, shared.spark, url)
        # one build at the smoke size, its calls checked, not its figures (each build costs dozens
        # of Spark jobs): the tiled one serves P8 and P8b too, compared with itself
        runs = runs or {last: tiled}
    small, large = runs[size.hours[0]], runs[size.hours[-1]]
    detail = {
        f"{h}h": {
            "training_rows": int(r["rows"]),
            "rows_per_s": round(r["rows"] / r["seconds"], 1),
            "python_peak_rss_mb": round(r["python_peak_rss_kb"] / 1024, 1),
            "jvm_peak_rss_mb": round(r["jvm_peak_rss_kb"] / 1024, 1),
            "auc": r["auc"],
        }
        for h, r in runs.items()
    }
    return [
        Result(
            "P8",
            f"model build driver peak RSS, {size.hours[-1]} h vs {size.hours[0]} h of history"
            " (Python driver)",
            large["python_peak_rss_kb"] / 1024,
            small["python_peak_rss_kb"] / 1024,
            "<= 1.5",
            "MB",
            detail,
        ),
        Result(
            "P8b",
            f"model build rows/s, {size.hours[-1]} h vs {size.hours[0]} h of history",
            large["rows"] / large["seconds"],
            small["rows"] / small["seconds"],
            "report",
            "rows/s",
        ),
        Result(
            "P8c",
            f"model build seconds at {size.hours[-1]} h of history, with the counters' tiles counted and"
            " written to Redis vs without",
            tiled["seconds"],
            large["seconds"],
            "report",
            "s",
            {"tiles_written": int(tiled["tiles"]), "training_rows": int(tiled["rows"])},
        ),
    ]


@contextmanager
def own_redis(folder: Path) -> Iterator[str]:
    """A redis-server of this run's own, stopped by its pid."""
    from trustpipe_stack.servers import RedisServer

    server = RedisServer(folder)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _build(
    folder: Path, hours: int, of_hours: int, spark: Any, redis_url: str | None = None
) -> dict[str, float]:
    """One build: in a fresh process of its own, or on ``spark`` in this one when given."""
    if spark is not None:
        return child(folder, hours, of_hours, spark, redis_url)
    argv = ["--child", str(folder), "--hours", str(hours), "--of-hours", str(of_hours)]
    argv += ["--redis-url", redis_url] if redis_url else []
    done = subprocess.run(
        [sys.executable, "-m", "bench.p8_model_build", *argv], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=Path)
    parser.add_argument("--hours", type=int)
    parser.add_argument("--of-hours", type=int)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.hours, args.of_hours, redis_url=args.redis_url)))
