"""The Airflow host's keys at boot: `trustpipe airflow-host secret KEY | admin` (Airflow's
``*_CMD`` options and the boot unit run them; the keys are never written to the host's disk)."""

from __future__ import annotations

from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe_cli.options import SettingsPath, StateDir, console, load_clients

airflow_host_app = typer.Typer(
    help="The Airflow host's keys and admin, from its secret.", no_args_is_help=True
)
SecretOpt = Annotated[
    str, typer.Option("--secret", help="ARN of the Airflow host secret (Terraform's <name>/airflow/host).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(airflow_host_app, name="airflow-host")


@airflow_host_app.command("secret")
def airflow_host_secret(
    key: Annotated[
        str,
        typer.Argument(
            help="fernet_key, jwt_secret or api_secret_key (what Airflow's *_CMD options ask for)."
        ),
    ],
    secret: SecretOpt,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Print one of Airflow's keys from the host secret, read now (the whole secret is checked
    first: a host never starts with a key Airflow cannot use)."""
    from trustpipe_orchestration import host_secret

    host_secret.check_key(key)  # before any request: a typo in a *_CMD option says so at once
    aws = load_clients(state_dir, settings_path)
    # No newline: Airflow takes a *_CMD option's output as it is, and a key is every byte of it.
    typer.echo(host_secret.value(host_secret.read(secret, aws.secret_string), key), nl=False)


@airflow_host_app.command("admin")
def airflow_host_admin(
    secret: SecretOpt,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Create the UI's admin user, or set its password, from the host secret (after
    `airflow db migrate`; run in the Airflow host's venv: it needs Airflow's FAB provider)."""
    from trustpipe_orchestration import host_secret

    aws = load_clients(state_dir, settings_path)
    console.print(host_secret.ensure_admin(host_secret.read(secret, aws.secret_string)))
