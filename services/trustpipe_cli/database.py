"""The web app's PostgreSQL store: `trustpipe db upgrade | url | create | retention` (the units'
migrations, Airflow's metadata database and its connection, the store's window)."""

from __future__ import annotations

from typing import Annotated

import typer

from trustpipe.db.partitions import DEFAULT_KEEP_DAYS
from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe_cli.options import (
    SettingsPath,
    StateDir,
    console,
    err_console,
    load_settings,
)

db_app = typer.Typer(help="The web app's PostgreSQL store.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


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
    """Print the database's URL with the credentials of its secret, read now (on AWS the master
    user's: for an operator's session, never written to a file; the services log in with IAM
    tokens as their own roles)."""
    from trustpipe.db import migrate
    from trustpipe.db.connect import database_url

    typer.echo(migrate.with_driver(database_url(load_settings(state_dir, settings_path)), driver, database))


@db_app.command("create")
def db_create(
    name: Annotated[str, typer.Argument(help="The database to create on the settings' server.")],
    owner: Annotated[
        str | None, typer.Option("--owner", help="The role that owns it (Airflow's: trustpipe_airflow).")
    ] = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Create a database on the settings' server unless it exists (Airflow's metadata database)."""
    from trustpipe.db import migrate
    from trustpipe.db.connect import database_url

    created = migrate.create_database(database_url(load_settings(state_dir, settings_path)), name, owner)
    console.print(f"database {name} {'created' if created else 'already exists'}")


@db_app.command("retention")
def db_retention(
    keep_days: Annotated[
        int,
        typer.Option(
            "--keep-days",
            min=1,
            help="Days of scored messages to keep (today counts as one); the nightly task keeps "
            "the pipeline's store_retention_days.",
        ),
    ] = DEFAULT_KEEP_DAYS,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Hold the store to its window: drop the day partitions of scored messages older than
    ``--keep-days`` (and the default partition's older rows), make the days ahead; print what
    was dropped and made."""
    from trustpipe.db.connect import connector
    from trustpipe_orchestration import store

    settings = load_settings(state_dir, settings_path)
    summary = store.keep_window(connector(settings), keep_days)
    console.print(store.describe(summary))
