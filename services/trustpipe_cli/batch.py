"""The batch path run by hand: `build-model`, `promote-model`, `score-hour` and `backfill`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from trustpipe import layout
from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe_cli.options import (
    HourOpt,
    JsonOpt,
    SettingsPath,
    StateDir,
    console,
    err_console,
    load_clients,
    resolve_hour,
)
from trustpipe_cli.progress import bars


def register(app: typer.Typer) -> None:
    app.command("build-model")(build_model_cmd)
    app.command("score-hour")(score_hour_cmd)
    app.command("backfill")(backfill_cmd)
    app.command("promote-model")(promote_model_cmd)


def build_model_cmd(
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Train on the hours before this one (YYYY-MM-DDTHH); default: the last full hour."
        ),
    ] = None,
    hours: Annotated[
        int, typer.Option(help="Hours of labelled history to train on.", min=2, max=24 * 14)
    ] = 24,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
    as_json: JsonOpt = False,
) -> None:
    """Train the trust model with Spark MLlib; promote it when it beats the current one."""
    from spark_jobs.runner import build

    end = resolve_hour(until)
    aws = load_clients(state_dir, settings_path)
    with bars(err_console if as_json else console) as progress:
        result = build(aws, end, hours, progress=progress)
    m = result.artifact.metadata["metrics"]
    if as_json:
        print(json.dumps(result.summary(), indent=1))
        return
    outcome = "promoted to current" if result.promoted else "NOT promoted"
    console.print(
        f"model {result.artifact.version}: holdout AUC {m['auc']:.4f}, precision {m['precision']:.3f}, "
        f"recall {m['recall']:.3f}; {outcome} ({result.reason})"
    )


def promote_model_cmd(
    version: Annotated[str, typer.Argument(help="A saved model version (models/<version>/ in the archive).")],
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Make a saved model current under a new promotion number: a rollback promotes the previous
    version again, and its verdicts (scored from now, or by a backfill) replace the stored ones."""
    from trustpipe.model import artifact as model_store

    aws = load_clients(state_dir, settings_path)
    bucket = aws.settings.archive_bucket
    number = model_store.promote(aws.s3, bucket, model_store.load(aws.s3, bucket, version))
    console.print(f"model {version} is current, promotion {number}")


def score_hour_cmd(
    hour: HourOpt = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Default: the current model.")
    ] = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
    as_json: JsonOpt = False,
) -> None:
    """Score one hour of landing files with Spark (local[*]); a rerun replaces the hour's output."""
    from spark_jobs.runner import score

    start = resolve_hour(hour)
    aws = load_clients(state_dir, settings_path)
    with bars(err_console if as_json else console) as progress:
        result = score(aws, start, model_version=model_version, progress=progress)
    if as_json:
        print(json.dumps(result.summary(), indent=1))
        return
    console.print(
        f"{result.hour}: {result.records_in} records in, {result.records_out} scored with model "
        f"{result.model_version}; verdicts {result.verdicts}; {len(result.set_aside)} file(s) set aside"
    )


def backfill_cmd(
    first: Annotated[str, typer.Option("--from", help="First hour to re-score, YYYY-MM-DDTHH (UTC).")],
    last: Annotated[str, typer.Option("--to", help="Last hour to re-score (inclusive).")],
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-score and re-import past hours with the current model (the job run directly; idempotent)."""
    from trustpipe_orchestration.hour import backfill, hours_between, in_process

    hours = hours_between(layout.parse_hour(first), layout.parse_hour(last))  # before anything starts
    aws = load_clients(state_dir, settings_path)
    parts = in_process(aws)  # Spark starts with the first hour that has something to score
    shown = err_console if as_json else console
    with bars(shown) as progress:
        done = backfill(aws, parts.db, hours, parts.score, parts.drain, say=shown.print, progress=progress)
    if as_json:
        print(json.dumps([asdict(d) for d in done], indent=1))
        return
    console.print(f"[green]backfilled {len(done)} hours[/]: {sum(d.records for d in done):,} messages")
