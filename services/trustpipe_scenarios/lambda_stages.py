"""Stream stages in their Lambda form on the local stack: each chosen stage's zip built (for this
interpreter's Python), and run by the emulated event source mapping
(``trustpipe_emulation.lambda_poller``) in place of its KCL service, for the demo's stream part,
the chaos run and P4."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from trustpipe.errors import UserError
from trustpipe.workers import STREAM_WORKERS, Worker
from trustpipe_deploy import stage_lambdas
from trustpipe_emulation import lambda_poller

LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
CONCURRENCY = 2
"""Function instances per stage: one per shard of the local streams (two at most)."""


def chosen(names: Sequence[str]) -> tuple[Worker, ...]:
    """The stream workers named (scorer, stream-importer, alerter); UserError for another name."""
    by_name = {w.name: w for w in STREAM_WORKERS}
    if unknown := sorted(set(names) - set(by_name)):
        raise UserError(f"no stream stage {', '.join(unknown)}: choose from {', '.join(by_name)}")
    return tuple(w for w in STREAM_WORKERS if w.name in names)


def build(stages: Sequence[Worker], out: Path) -> dict[str, Path]:
    """Each stage's zip in ``out`` (fast compression: it is unpacked once, here)."""
    return {w.name: stage_lambdas.build(w, out, python=LOCAL_PYTHON, compresslevel=1) for w in stages}


def command(worker: Worker, zip_path: Path, settings: Path, state_dir: Path) -> list[str]:
    """The process that runs ``worker`` as a function on its stream's mapping until SIGTERM."""
    return [
        sys.executable,
        "-m",
        "trustpipe_emulation.lambda_poller",
        "--zip",
        str(zip_path),
        "--handler",
        stage_lambdas.handler_of(worker),
        "--stream",
        worker.stream,
        "--settings",
        str(settings),
        "--state-dir",
        str(state_dir),
        "--name",
        worker.name,
        "--concurrency",
        str(CONCURRENCY),
    ]


def ready(state_dir: Path) -> bool:
    """Whether the stage's mapping reads every shard of its stream."""
    return (state_dir / lambda_poller.READY_FILE).exists()


def state_dir_of(workers_dir: Path, worker: Worker) -> Path:
    return workers_dir / f"{worker.name}-lambda"
