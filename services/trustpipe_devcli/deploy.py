"""`trustpipe deploy`: the worker image when its inputs changed, then `terraform apply`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR, find_project_root
from trustpipe_cli.options import StateDir, console
from trustpipe_devcli.local import local_up


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_command)


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
