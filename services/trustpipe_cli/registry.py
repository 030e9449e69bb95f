"""The schema registry's REST API served locally: `trustpipe registry serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe_cli.options import (
    SettingsPath,
    StateDir,
    console,
    load_clients,
)

registry_app = typer.Typer(help="The Avro schema registry.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")


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
    """Serve the schema registry's REST API (the Lambda's app) over plain HTTP."""
    from schema_registry_lambda.local_server import build_store, serve

    backing, label = build_store(store, lambda: load_clients(state_dir, settings_path))
    serve(backing, host, port, say=lambda msg: console.print(msg, highlight=False), label=label)
