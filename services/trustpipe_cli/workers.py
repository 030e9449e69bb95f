"""The workers the units start: `trustpipe scorer | importer | alerter run`, the importer DLQ's
redrive, and the forward of stored verdicts still waiting for the alerters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR, Settings
from trustpipe.workers import ALERTER, SCORER, STREAM_IMPORTER, Worker
from trustpipe_cli.options import (
    SettingsPath,
    StateDir,
    console,
    load_clients,
    load_settings,
    settings_file,
    work_dir_of,
)

importer_app = typer.Typer(
    help="Importer workers (SQS or the scored stream -> PostgreSQL).", no_args_is_help=True
)
scorer_app = typer.Typer(
    help="Stream scorers (raw stream -> trust model -> scored stream).", no_args_is_help=True
)
alerter_app = typer.Typer(help="Alerters (stored verdicts -> actions and alerts).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(importer_app, name="importer")
    app.add_typer(scorer_app, name="scorer")
    app.add_typer(alerter_app, name="alerter")


WorkDir = Annotated[
    Path | None,
    typer.Option(
        "--work-dir", help="Where the KCL daemon's properties and log go (default: <state-dir>/workers)."
    ),
]
SlotOpt = Annotated[
    str,
    typer.Option("--slot", help="This worker's slot on the host (systemd's %i): its stable KCL worker id."),
]


def _run_stream_worker(
    run_service: Callable[[Settings, Path, str, Path], int],
    worker: Worker,
    slot: str,
    work_dir: Path | None,
    state_dir: Path,
    settings_path: Path | None,
) -> None:
    """A stream worker's service until SIGTERM; its exit code is the command's."""
    settings = load_settings(state_dir, settings_path)
    work = work_dir_of(state_dir, settings_path, work_dir, f"{worker.group}-{slot}")
    raise typer.Exit(run_service(settings, settings_file(state_dir, settings_path), slot, work))


@scorer_app.command("run")
def scorer_run(
    slot: SlotOpt = "1",
    work_dir: WorkDir = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Score the raw stream with the current model onto the scored stream, one processor per leased
    shard (the Kinesis Client Library's daemon); SIGTERM checkpoints, releases leases and exits."""
    from trustpipe_scorer.app import run_service

    _run_stream_worker(run_service, SCORER, slot, work_dir, state_dir, settings_path)


@alerter_app.command("run")
def alerter_run(
    slot: SlotOpt = "1",
    work_dir: WorkDir = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Turn the stored QUARANTINE/LABEL verdicts of the imported stream into one action per message
    on the enterprise's action queue and batched alerts to its users; SIGTERM checkpoints and exits."""
    from trustpipe_alerter.app import run_service

    _run_stream_worker(run_service, ALERTER, slot, work_dir, state_dir, settings_path)


@importer_app.command("run")
def importer_run(
    source: Annotated[
        str, typer.Option(help="sqs: scored objects announced on the queue; stream: the scored stream.")
    ] = "sqs",
    once: Annotated[
        bool, typer.Option("--once", help="Stop when the queue is empty (sqs; tests, demos).")
    ] = False,
    visibility_timeout: Annotated[
        int, typer.Option(help="Seconds a received message stays hidden (extended while importing).", min=2)
    ] = 300,
    decode_processes: Annotated[
        int,
        typer.Option(
            help="Processes that decode a large object's Avro blocks (sqs; 1: this process decodes). "
            "For one importer on a host rather than one per core.",
            min=1,
        ),
    ] = 1,
    slot: SlotOpt = "1",
    work_dir: WorkDir = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Import scored objects announced on SQS (default), or the scored stream (--source stream),
    into PostgreSQL; SIGTERM drains and exits 0."""
    if source not in ("sqs", "stream"):
        raise typer.BadParameter("must be sqs or stream", param_hint="--source")
    if source == "stream":
        from trustpipe_importer.app import run_stream_service

        _run_stream_worker(run_stream_service, STREAM_IMPORTER, slot, work_dir, state_dir, settings_path)
    from trustpipe_importer.app import run_importer

    aws = load_clients(state_dir, settings_path)
    work = work_dir_of(state_dir, settings_path, work_dir, "importer-sqs")
    counts = run_importer(
        aws,
        once=once,
        visibility_timeout=visibility_timeout,
        work_dir=work,
        decode_processes=decode_processes,
    )
    console.print(
        f"imported {counts.imported} objects ({counts.records} records), {counts.duplicates} duplicates, "
        f"{counts.set_aside} set aside, {counts.retried} retried"
    )


@importer_app.command("redrive")
def importer_redrive(
    limit: Annotated[int | None, typer.Option(help="Move at most this many (default: all).", min=1)] = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Move the importer DLQ's messages back onto the importer queue (after fixing what failed
    them; runbook importer-dlq). Imports are idempotent: a message moved twice changes nothing."""
    from trustpipe_importer.redrive import redrive

    aws = load_clients(state_dir, settings_path)
    moved = redrive(aws.client("sqs"), aws.settings.importer_dlq_url, aws.settings.importer_queue_url, limit)
    console.print(f"moved {moved} messages from the importer DLQ back to the importer queue")


@importer_app.command("forward-pending")
def importer_forward_pending(
    min_age: Annotated[
        float, typer.Option("--min-age", help="Only verdicts waiting at least this many seconds.", min=0)
    ] = 300,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Forward to the alerters the stored QUARANTINE/LABEL verdicts still waiting in
    import_forwards (a forward refused after the commit: runbook importer-dlq), and mark the
    objects whose verdicts are all forwarded imported."""
    from trustpipe.db.connect import connector
    from trustpipe_importer.app import to_alerters
    from trustpipe_importer.load import forward_all_pending

    aws = load_clients(state_dir, settings_path)
    forwarded = forward_all_pending(connector(aws.settings), to_alerters(aws), min_age)
    console.print(f"forwarded {forwarded} stored verdicts to the alerters")
