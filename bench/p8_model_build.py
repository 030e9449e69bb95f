"""P8: the nightly model build as its training window grows. Rows/s of `build_model.run` at 6
and 24 simulated hours, and the driver's peak RSS at each (the Python driver, where a collect of
training rows would land, and the JVM beside it): the goal is that the 24-hour build's driver
needs at most 1.5x the 6-hour one's.

Each build runs in a fresh process (a process's peak RSS only grows), on files written
beforehand by this one (the simulator's own memory is not the build's)."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Result
from trustpipe import contracts, layout
from trustpipe.codec import container_bytes

HOURS = (6, 24)
SCALE = 1.0  # about 4,700 messages an hour
FIRST_HOUR = layout.parse_hour("2026-11-20T00")


def _write_history(folder: Path, hours: int) -> tuple[list[Path], list[Path]]:
    """``hours`` hours of sensor files and their ground truth, as the sensors land them."""
    from datetime import timedelta

    from trustpipe_sensors.sensor import generate_quarter, label, to_version
    from trustpipe_sensors.world import World

    world = World.build(3)
    label_schema = contracts.load(contracts.GROUND_TRUTH_LABEL)
    messages, labels = [], []
    for h in range(hours):
        hour = FIRST_HOUR + timedelta(hours=h)
        for start in layout.quarter_starts(hour):
            for ent in world.enterprises.values():
                drop = generate_quarter(world, ent, start, 8, SCALE)
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


def child(folder: Path, hours: int) -> dict[str, float]:
    """One build over the first ``hours`` hours in ``folder``: rows, seconds, peak RSS."""
    from spark_jobs import build_model
    from spark_jobs.session import local_session

    per_hour = len(list((folder / "m").glob("*"))) // HOURS[-1]
    names = sorted(p.name for p in (folder / "m").glob("*"))[: per_hour * hours]  # hour first
    spark = local_session(f"bench-p8-{hours}h", "local[2]", shuffle_partitions=4)
    began = time.perf_counter()
    result = build_model.run(
        spark,
        [str(folder / "m" / n) for n in names],
        [str(folder / "l" / n) for n in names],
        [f"{hours}h"],
        None,
    )
    seconds = time.perf_counter() - began
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
    out = {
        "rows": float(result.artifact.metadata["training_rows"]),
        "seconds": seconds,
        "python_peak_rss_kb": float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "jvm_peak_rss_kb": float(_vm_hwm_kb(jvm)),
        "auc": float(result.artifact.metadata["metrics"]["auc"]),
    }
    spark.stop()
    return out


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-p8-") as tmp:
        folder = Path(tmp)
        (folder / "m").mkdir()
        (folder / "l").mkdir()
        _write_history(folder, HOURS[-1])
        runs = {}
        for hours in HOURS:
            done = subprocess.run(
                [sys.executable, "-m", "bench.p8_model_build", "--child", str(folder), "--hours", str(hours)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[hours] = json.loads(done.stdout.strip().splitlines()[-1])
    small, large = runs[HOURS[0]], runs[HOURS[-1]]
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
            f"model build driver peak RSS, {HOURS[-1]} h vs {HOURS[0]} h of history (Python driver)",
            large["python_peak_rss_kb"] / 1024,
            small["python_peak_rss_kb"] / 1024,
            "<= 1.5",
            "MB",
            detail,
        ),
        Result(
            "P8b",
            f"model build rows/s, {HOURS[-1]} h vs {HOURS[0]} h of history",
            large["rows"] / large["seconds"],
            small["rows"] / small["seconds"],
            "report",
            "rows/s",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=Path)
    parser.add_argument("--hours", type=int)
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.hours)))
