"""The `trustpipe` command line: the shipped commands (what the units start), and the developers'
commands (`trustpipe_devcli`) where that package is installed: a checkout, never a worker."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Annotated

import typer

from trustpipe.errors import TrustpipeError, exit_code
from trustpipe_cli import airflow_host, batch, database, registry, review, search, sensors, tenants, workers
from trustpipe_cli.options import console, err_console

DEV_COMMANDS = "trustpipe_devcli"
"""The package of the developers' commands (local stack, demo, chaos, Airflow standalone, deploy,
planning). Looked up by name, never imported: the workers' wheel does not ship it."""
HELP = "trustpipe: score every email message for trust, in hourly batch and near-real time."


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        console.print(f"trustpipe {version('trustpipe')}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True),
    ] = False,
) -> None:
    """trustpipe: score every email message for trust, in hourly batch and near-real time."""


def shipped_app() -> typer.Typer:
    """The commands a deployed host runs: the workers, the database, the registry, the sensors,
    the batch path by hand."""
    app = typer.Typer(help=HELP, no_args_is_help=True, pretty_exceptions_enable=False)
    app.callback()(_root)
    for area in (database, workers, search, registry, review, sensors, batch, tenants, airflow_host):
        area.register(app)
    return app


def full_app() -> typer.Typer:
    """The shipped commands, plus the developers' where their package is installed."""
    app = shipped_app()
    if importlib.util.find_spec(DEV_COMMANDS) is not None:
        importlib.import_module(DEV_COMMANDS).register(app)
    return app


def run(app: typer.Typer) -> None:
    """Run ``app``: trustpipe's own errors end with one line, not a traceback: exit 2 for the
    user's mistake, 1 for a run that failed."""
    try:
        app()
    except TrustpipeError as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(exit_code(err))


def main() -> None:
    """Console entry point (`trustpipe`): every command installed."""
    run(full_app())
