"""The whole pipeline on the local stack: `trustpipe demo` and `trustpipe chaos`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe_cli.options import HourOpt, SeedOpt, StateDir, resolve_hour, wide
from trustpipe_devcli.local import local_stack


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("chaos")(chaos)


def demo(
    hour: HourOpt = None,
    seed: SeedOpt = 42,
    scale: Annotated[
        float, typer.Option(help="Multiply every enterprise's volume.", min=0.001, max=100.0)
    ] = 1.0,
    stream_seconds: Annotated[
        float,
        typer.Option(
            help="How long the sensors stream after the batch hour (0: no stream run).", min=0, max=600
        ),
    ] = 30.0,
    stream_rate: Annotated[
        float,
        typer.Option(help="Messages a second the sensors stream, all enterprises together.", min=1, max=2000),
    ] = 20.0,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
) -> None:
    """Run the pipeline end to end on the local stack (the batch hour, then a stream run through
    the near-real-time workers) and write .local/demo-report.json."""
    from trustpipe_scenarios.demo import run_demo

    stack = local_stack(state_dir)
    ok = run_demo(
        stack,
        resolve_hour(hour),
        seed=seed,
        scale=scale,
        console=wide,
        stream_seconds=stream_seconds,
        stream_rate=stream_rate,
    )
    if not ok:
        raise typer.Exit(1)


def chaos(
    seed: SeedOpt = 42,
    duration: Annotated[
        float, typer.Option(help="Seconds of disruptions and streaming (at least 30).", min=30, max=7200)
    ] = 120.0,
    rate: Annotated[
        float, typer.Option(help="Messages a second the sensors stream meanwhile.", min=1, max=500)
    ] = 10.0,
    batch_hours: Annotated[
        int, typer.Option(help="Batch hours landed and scored meanwhile.", min=1, max=24)
    ] = 1,
    batch_scale: Annotated[
        float, typer.Option(help="Each batch hour's volume (1.0: a full simulated hour).", min=0.001, max=10)
    ] = 0.05,
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    lambda_stage: Annotated[
        list[str] | None,
        typer.Option(
            "--lambda-stage",
            help="A stream stage (scorer, stream-importer, alerter) to run as a Lambda function on the "
            "emulated event source mapping instead of its KCL service (repeatable).",
        ),
    ] = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
) -> None:
    """Run batch hours and the stream on the local stack while workers are SIGKILLed, PostgreSQL
    restarts and AWS calls fail (seeded); exit 1 on any lost or doubled message or action."""
    from trustpipe_scenarios import chaos as chaos_run

    say = (lambda _m: None) if json_out else wide.log
    figures = chaos_run.run(
        local_stack(state_dir),
        seed,
        duration,
        say=say,
        rate=rate,
        batch_hours=batch_hours,
        batch_scale=batch_scale,
        lambda_stages=lambda_stage or (),
    )
    if json_out:
        print(json.dumps(figures, indent=2, sort_keys=True, default=str))
    else:
        chaos_run.print_figures(wide, figures)
    if not figures["ok"]:
        raise typer.Exit(1)
