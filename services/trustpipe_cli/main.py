"""The `trustpipe` command line."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.errors import TrustpipeError, exit_code
from trustpipe.settings import DEFAULT_LOCAL_DIR, Settings
from trustpipe_cli.progress import bars
from trustpipe_stack.stack import LocalStack, find_project_root

app = typer.Typer(
    help="trustpipe: score every email message for trust, in hourly batch and near-real time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
local_app = typer.Typer(help="The local stack: moto server, PostgreSQL, Terraform.", no_args_is_help=True)
sensors_app = typer.Typer(help="The sensor simulator.", no_args_is_help=True)
landing_app = typer.Typer(help="The landing bucket.", no_args_is_help=True)
registry_app = typer.Typer(help="The Avro schema registry.", no_args_is_help=True)
db_app = typer.Typer(help="The web app's PostgreSQL store.", no_args_is_help=True)
importer_app = typer.Typer(
    help="Importer workers (SQS or the scored stream -> PostgreSQL).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(importer_app, name="importer")
scorer_app = typer.Typer(
    help="Stream scorers (raw stream -> trust model -> scored stream).", no_args_is_help=True
)
app.add_typer(scorer_app, name="scorer")
alerter_app = typer.Typer(help="Alerters (stored verdicts -> actions and alerts).", no_args_is_help=True)
app.add_typer(alerter_app, name="alerter")
app.add_typer(local_app, name="local")
app.add_typer(registry_app, name="registry")
app.add_typer(sensors_app, name="sensors")
app.add_typer(landing_app, name="landing")
simulate_app = typer.Typer(help="Simulations of what `terraform apply` deploys.", no_args_is_help=True)
cost_app = typer.Typer(help="What the stack costs on AWS (list prices).", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
app.add_typer(cost_app, name="cost")

# Output names ARNs: Rich would render ":secret:" in them as an emoji.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)
# Piped or logged, Rich would fold tables to 80 columns.
wide = console if console.is_terminal else Console(width=140, emoji=False)

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the local stack keeps its state.")]
SettingsPath = Annotated[
    Path | None,
    typer.Option("--settings", help="Settings file (default: <state-dir>/settings.json)."),
]
HourOpt = Annotated[
    str | None,
    typer.Option("--hour", help="Data hour, YYYY-MM-DDTHH (UTC); default: the last full hour."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (progress goes to stderr).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Simulator seed; the same seed gives the same traffic.")]


def last_full_hour() -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=1)


def resolve_hour(text: str | None) -> datetime:
    return layout.parse_hour(text) if text else last_full_hour()


def local_stack(state_dir: Path) -> LocalStack:
    root = find_project_root(Path.cwd())
    return LocalStack(root, state_dir if state_dir.is_absolute() else root / state_dir)


def load_settings(state_dir: Path, settings_path: Path | None) -> Settings:
    """The deployment's settings: ``--settings``, else the local stack's; $DATABASE_URL, when
    set, is the database (a deployed worker reads its password from the secret its settings name)."""
    settings = (
        Settings.load(settings_path) if settings_path is not None else local_stack(state_dir).settings()
    )
    return settings.with_database_url(os.environ.get("DATABASE_URL"))


def load_clients(state_dir: Path, settings_path: Path | None) -> AwsClients:
    """The command's clients, built once and passed down."""
    return AwsClients(load_settings(state_dir, settings_path))


@local_app.command("up")
def local_up(state_dir: StateDir = DEFAULT_LOCAL_DIR) -> None:
    """Start the moto server and PostgreSQL, and apply infra/envs/local (harmless when up)."""
    stack = local_stack(state_dir)
    with bars(console) as progress:
        settings = stack.up(database_url=os.environ.get("DATABASE_URL"), say=console.print, progress=progress)
    console.print(f"[green]local stack up[/]: landing bucket {settings.landing_bucket}")


@app.command("deploy")
def deploy_command(
    env: Annotated[str, typer.Option("--env", help="dev or prod (infra/envs/<env>), or local.")] = "dev",
    ami: Annotated[
        str | None, typer.Option("--ami", help="Use this worker AMI instead of building or reusing one.")
    ] = None,
    alert_email: Annotated[
        list[str] | None,
        typer.Option("--alert-email", help="On-call address (repeatable; else terraform.tfvars's)."),
    ] = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
) -> None:
    """Deploy: the worker image when its inputs changed (Packer), then `terraform apply` of
    infra/envs/<env>, which uploads the code and Airflow's configuration. --env local brings up
    the local stack (`trustpipe local up`)."""
    if env == "local":
        local_up(state_dir)
        return
    from trustpipe_deploy.deploy import Deployment, deploy

    deployment = Deployment(find_project_root(Path.cwd()), env)
    deploy(deployment, say=console.print, ami_id=ami, alert_emails=alert_email)


@local_app.command("down")
def local_down(state_dir: StateDir = DEFAULT_LOCAL_DIR) -> None:
    """Stop everything `local up` started."""
    local_stack(state_dir).down(say=console.print)


@local_app.command("status")
def local_status(state_dir: StateDir = DEFAULT_LOCAL_DIR, as_json: JsonOpt = False) -> None:
    """Show what is running, as JSON (highlighted; plain with --json). Exit 1 when it is down."""
    status = local_stack(state_dir).status()
    if as_json:
        print(json.dumps(status, indent=1))
    else:
        console.print_json(json.dumps(status))
    if not status["moto"]["running"]:
        raise typer.Exit(1)


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
    from dataclasses import asdict

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


@app.command("build-model")
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


@app.command("score-hour")
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


@db_app.command("upgrade")
def db_upgrade(
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to keep retrying a database that does not answer yet.")
    ] = 0,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Apply the Alembic migrations to the settings' database (idempotent)."""
    from trustpipe_importer.app import upgrade

    upgrade(load_settings(state_dir, settings_path), wait_seconds=wait, say=err_console.print)
    console.print("database at head")


@db_app.command("url")
def db_url(
    database: Annotated[
        str | None, typer.Option("--database", help="Another database on the same server (Airflow's).")
    ] = None,
    driver: Annotated[
        str, typer.Option("--driver", help="URL form: postgresql, postgresql+psycopg or postgresql+psycopg2.")
    ] = "postgresql",
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Print the database's URL with the credentials of its secret, read now (the Airflow host's
    `sql_alchemy_conn_cmd` runs this: the password is never in a file)."""
    from trustpipe.db import migrate
    from trustpipe_importer.app import database_url

    typer.echo(migrate.with_driver(database_url(load_settings(state_dir, settings_path)), driver, database))


@db_app.command("create")
def db_create(
    name: Annotated[str, typer.Argument(help="The database to create on the settings' server.")],
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Create a database on the settings' server unless it exists (Airflow's metadata database)."""
    from trustpipe.db import migrate
    from trustpipe_importer.app import database_url

    created = migrate.create_database(database_url(load_settings(state_dir, settings_path)), name)
    console.print(f"database {name} {'created' if created else 'already exists'}")


def settings_file(state_dir: Path, settings_path: Path | None) -> Path:
    """The settings file a worker's child processes read (``--settings``, else the local stack's)."""
    return (settings_path if settings_path is not None else local_stack(state_dir).settings_path).resolve()


def work_dir_of(state_dir: Path, settings_path: Path | None, work_dir: Path | None, name: str) -> Path:
    """A stream worker's own folder: ``--work-dir``, else under the local stack's state dir."""
    if work_dir is not None:
        return work_dir
    base = state_dir if settings_path is not None else local_stack(state_dir).state_dir
    return base / "workers" / name


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
    name: str,
    slot: str,
    work_dir: Path | None,
    state_dir: Path,
    settings_path: Path | None,
) -> None:
    """A stream worker's service until SIGTERM; its exit code is the command's."""
    settings = load_settings(state_dir, settings_path)
    work = work_dir_of(state_dir, settings_path, work_dir, f"{name}-{slot}")
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

    _run_stream_worker(run_service, "scorer", slot, work_dir, state_dir, settings_path)


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

    _run_stream_worker(run_service, "alerter", slot, work_dir, state_dir, settings_path)


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

        _run_stream_worker(run_stream_service, "importer", slot, work_dir, state_dir, settings_path)
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


@registry_app.command("serve")
def registry_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8081,
    store: Annotated[
        str,
        typer.Option(help="memory, dynamodb (the local stack's table), or auto (dynamodb when it is up)."),
    ] = "auto",
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Serve the schema registry's HTTP API (the Lambda's app) over plain HTTP."""
    from schema_registry_lambda.local_server import build_store, serve

    backing, label = build_store(store, lambda: load_clients(state_dir, settings_path))
    serve(backing, host, port, say=lambda msg: console.print(msg, highlight=False), label=label)


@app.command("backfill")
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


@app.command("airflow")
def airflow_cmd(
    port: Annotated[int, typer.Option(help="Port of Airflow's UI and API.", min=1, max=65535)] = 8080,
    backfill: Annotated[
        bool, typer.Option(help="Backfill every landed hour through Airflow's scheduler (and unpause).")
    ] = True,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
) -> None:
    """Airflow standalone (UI, scheduler, triggerer) and an importer on the local stack; Ctrl-C stops all."""
    from trustpipe_importer.app import upgrade
    from trustpipe_stack.airflow import run_airflow

    stack = local_stack(state_dir)
    settings = stack.up(database_url=os.environ.get("DATABASE_URL"), say=console.print)
    upgrade(settings)
    run_airflow(
        settings,
        stack.settings_path,
        stack.project_root,
        stack.state_dir / "airflow",
        port,
        console.print,
        backfill=backfill,
    )


EnvOpt = Annotated[
    str, typer.Option("--env", help="The env root whose Terraform is read: dev, prod or local.")
]


@simulate_app.command("scaling")
def simulate_scaling(
    env: EnvOpt = "dev",
    objects_per_hour: Annotated[
        int, typer.Option(help="Scored objects an hour's run announces at once (the hourly burst).", min=0)
    ] = 120,
    objects_per_minute: Annotated[
        float, typer.Option(help="Objects a minute in the steady trace.", min=0.0, max=10_000.0)
    ] = 3.0,
    object_seconds: Annotated[
        float | None,
        typer.Option(help="Mean seconds to import one object (default: from make bench's P2).", min=0.01),
    ] = None,
    drain_hook: Annotated[
        bool, typer.Option(help="Terminating importers drain through the lifecycle hook first.")
    ] = True,
    hours: Annotated[int, typer.Option(help="Simulated hours per trace.", min=1, max=24 * 7)] = 24,
    out: Annotated[Path, typer.Option(help="Where scaling.json and scaling.png go.")] = Path(
        ".local/simulate"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON instead of the table.")] = False,
) -> None:
    """Simulate the importer queue and ASG under four scaling policies on three traces."""
    from trustpipe_planning import cost, report, traces
    from trustpipe_planning.deployed import read_deployed

    root = find_project_root(Path.cwd())
    deployed = read_deployed(root / "infra", env)
    if object_seconds is None:
        rows_per_s, source = traces.measured_rows_per_s(root / "bench" / "results.json")
        object_seconds = traces.ROWS_PER_OBJECT / rows_per_s
    else:
        source = "--object-seconds"
    scenario = report.Scenario(
        deployed, object_seconds, source, objects_per_hour, objects_per_minute, drain_hook, hours
    )
    price = cost.load_prices()["ec2_hour"][deployed.instance_type]
    runs = report.simulate(scenario)
    data, picture = report.write(out, scenario, runs, price)
    if as_json:
        print(data.read_text())
        return
    _print_scaling(report.as_json(scenario, runs, price))
    console.print(f"JSON: {data}\npicture: {picture}")


def _print_scaling(result: dict[str, Any]) -> None:
    from rich.table import Table

    s = result["scenario"]
    d = s["deployed"]
    table = Table(
        title=f"importer scaling, env {d['env']} ({d['min_size']}-{d['max_size']} x {d['instance_type']}, "
        f"drain hook {'on' if s['drain_hook'] else 'off'}; {s['mean_object_seconds']:.1f} s an object "
        f"from {s['object_seconds_source']})"
    )
    columns = (
        "trace",
        "policy",
        "drain s",
        "redelivered",
        "instance-min",
        "peak",
        "$ per-second",
        "$ hourly",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("trace", "policy") else "right")
    for r in result["runs"]:
        table.add_row(
            r["trace"],
            r["policy"],
            f"{r['drain_seconds']:,.0f}",
            str(r["redelivered"]),
            f"{r['instance_minutes']:,.0f}",
            str(r["peak_instances"]),
            f"{r['cost_per_second_billing']:.2f}",
            f"{r['cost_hourly_billing']:.2f}",
        )
    wide.print(table)


@cost_app.command("estimate")
def cost_estimate(
    messages_per_day: Annotated[
        int, typer.Option("--messages-per-day", help="Messages the sensors send a day.", min=0, max=10**11)
    ],
    env: EnvOpt = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the table.")] = False,
) -> None:
    """Monthly cost by component from the deployed topology and dated us-east-1 list prices."""
    from rich.table import Table

    from trustpipe_planning import cost

    root = find_project_root(Path.cwd())
    estimate = cost.estimate(root / "infra", messages_per_day, env)
    idle = cost.idle(root / "infra", env)
    result = {**estimate.as_dict(), "idle_monthly_total": round(idle.monthly, 2)}
    if as_json:
        print(json.dumps(result, indent=1))
        return
    table = Table(title=f"env {env}, {messages_per_day:,} messages a day: USD a month")
    table.add_column("component")
    table.add_column("USD / month", justify="right")
    for name, usd in sorted(result["components"].items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{usd:,.2f}")
    table.add_row("[bold]total[/]", f"[bold]{result['monthly_total']:,.2f}[/]")
    wide.print(table)
    for name, usd in result["alternatives"].items():
        wide.print(f"  instead: {name}: {usd:,.2f} a month")
    prices = result["assumptions"]
    wide.print(
        f"one hourly EMR run: {result['per_hourly_run']:.3f} USD; the stack idle: "
        f"{result['idle_monthly_total']:,.2f} USD a month "
        f"(list prices of {prices['prices_recorded']}, {prices['region']})"
    )


@app.command("demo")
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


@app.command("chaos")
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
    )
    if json_out:
        print(json.dumps(figures, indent=2, sort_keys=True, default=str))
    else:
        chaos_run.print_figures(wide, figures)
    if not figures["ok"]:
        raise typer.Exit(1)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        console.print(f"trustpipe {version('trustpipe')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True),
    ] = False,
) -> None:
    """trustpipe: score every email message for trust, in hourly batch and near-real time."""


def main() -> None:
    """Console entry point: trustpipe's own errors end with one line, not a traceback: exit 2
    for the user's mistake, 1 for a run that failed."""
    try:
        app()
    except TrustpipeError as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(exit_code(err))
