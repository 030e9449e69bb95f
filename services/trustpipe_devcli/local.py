"""The local stack: `trustpipe local up | down | status`, and Airflow standalone over it
(`trustpipe airflow`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR, find_project_root
from trustpipe_cli.options import JsonOpt, StateDir, console
from trustpipe_cli.progress import bars
from trustpipe_stack.stack import LocalStack

local_app = typer.Typer(help="The local stack: moto server, PostgreSQL, Terraform.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
    app.command("airflow")(airflow_cmd)


def local_stack(state_dir: Path) -> LocalStack:
    root = find_project_root(Path.cwd())
    return LocalStack(root, state_dir if state_dir.is_absolute() else root / state_dir)


@local_app.command("up")
def local_up(state_dir: StateDir = DEFAULT_LOCAL_DIR) -> None:
    """Start the moto server and PostgreSQL, and apply infra/envs/local (harmless when up)."""
    stack = local_stack(state_dir)
    with bars(console) as progress:
        settings = stack.up(database_url=os.environ.get("DATABASE_URL"), say=console.print, progress=progress)
    console.print(f"[green]local stack up[/]: landing bucket {settings.landing_bucket}")


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
