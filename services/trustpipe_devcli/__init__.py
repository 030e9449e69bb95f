"""The developers' commands: the local stack, Airflow standalone, the demo and the chaos run, the
deploy, the planning tools. `trustpipe` adds them where this package is installed (a checkout);
the workers' wheel does not ship it."""

from __future__ import annotations

import typer

from trustpipe_devcli import deploy, local, planning, scenarios


def register(app: typer.Typer) -> None:
    """Add the developers' commands to the shipped ``app``."""
    for area in (local, deploy, planning, scenarios):
        area.register(app)
