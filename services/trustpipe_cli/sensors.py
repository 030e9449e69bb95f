"""The sensor simulator (`trustpipe sensors run`) and the landing bucket (`trustpipe landing
inspect`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import Annotated

import typer

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe_cli.options import (
    HourOpt,
    SeedOpt,
    SettingsPath,
    StateDir,
    console,
    load_clients,
    resolve_hour,
)
from trustpipe_cli.progress import bars

sensors_app = typer.Typer(help="The sensor simulator.", no_args_is_help=True)
landing_app = typer.Typer(help="The landing bucket.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sensors_app, name="sensors")
    app.add_typer(landing_app, name="landing")


@sensors_app.command("run")
def sensors_run(
    hour: HourOpt = None,
    seed: SeedOpt = 42,
    enterprise: Annotated[
        list[str] | None,
        typer.Option("--enterprise", "-e", help="Only these enterprises (repeatable)."),
    ] = None,
    scale: Annotated[
        float, typer.Option(help="Multiply every enterprise's volume (batch).", min=0.001, max=100.0)
    ] = 1.0,
    mode: Annotated[
        str,
        typer.Option(help="batch: an hour of files in the landing bucket; stream: the raw Kinesis stream."),
    ] = "batch",
    rate: Annotated[
        float,
        typer.Option(help="Messages a second, all enterprises together (stream).", min=0.1, max=100_000),
    ] = 100.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (stream).", min=1, max=86_400)
    ] = None,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many messages (stream).", min=1, max=10_000_000)
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(help="Stream run id (default: a new one); with --seed it reproduces a run's messages."),
    ] = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Simulate the enterprises' sensors: an Avro file per enterprise per 15 minutes (batch), or
    framed records put on the raw stream every second (stream)."""
    if mode not in ("batch", "stream"):
        raise typer.BadParameter("must be batch or stream", param_hint="--mode")
    if mode == "stream":
        aws = load_clients(state_dir, settings_path)
        _sensors_stream(aws, seed, rate, duration, count, enterprise, run_id)
        return
    from trustpipe_sensors.app import run_batch

    start = resolve_hour(hour)
    aws = load_clients(state_dir, settings_path)
    with bars(console) as progress:
        drops = run_batch(aws, start, seed=seed, enterprise_ids=enterprise, scale=scale, progress=progress)
    by_ent: Counter[str] = Counter()
    for d in drops:
        by_ent[d.enterprise_id] += d.records
    console.print(
        f"landed {len(drops)} files, {sum(by_ent.values())} records "
        f"for {layout.format_hour(start)}: " + ", ".join(f"{k}={v}" for k, v in sorted(by_ent.items()))
    )


def _sensors_stream(
    aws: AwsClients,
    seed: int,
    rate: float,
    duration: float | None,
    count: int | None,
    ids: list[str] | None,
    run_id: str | None,
) -> None:
    from trustpipe_sensors.app import run_stream

    if duration is None and count is None:
        raise typer.BadParameter("a stream run needs --duration or --count", param_hint="--mode stream")
    with bars(console) as progress:
        run = run_stream(
            aws,
            seed=seed,
            rate=rate,
            duration=duration,
            count=count,
            enterprise_ids=ids,
            run_id=run_id,
            progress=progress,
        )
    console.print(
        f"put {run.total} records on {run.stream_name} in {run.put_calls} calls "
        f"({run.retried} retried), run {run.run_id}: "
        + ", ".join(f"{k}={v}" for k, v in sorted(run.produced.items()))
    )


@landing_app.command("inspect")
def landing_inspect(
    hour: HourOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a listing.")] = False,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Read an hour's landing files back through the codec (v4 reader) and count them."""

    from trustpipe.landing import inventory

    start = resolve_hour(hour)
    aws = load_clients(state_dir, settings_path)
    inv = inventory(aws.s3, aws.settings.landing_bucket, start)
    if as_json:
        print(
            json.dumps(
                {
                    "files": [asdict(f) for f in inv.files],
                    "set_aside": [asdict(r) for r in inv.set_aside],
                }
            )
        )
        return
    for f in inv.files:
        console.print(f"{f.key}  v{f.schema_version}  {f.records} records  {f.bytes} bytes")
    for r in inv.set_aside:
        console.print(f"[red]set aside[/] {r.key}: {r.reason}")
    console.print(f"{len(inv.files)} files, {inv.records} records, {len(inv.set_aside)} set aside")
