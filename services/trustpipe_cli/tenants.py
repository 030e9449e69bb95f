"""The deployment's tenant map, as its settings hold it: `trustpipe tenants list`."""

from __future__ import annotations

import json

import typer
from rich.table import Column, Table

from trustpipe.settings import DEFAULT_LOCAL_DIR, TENANT_FIELDS, Settings
from trustpipe_cli.options import JsonOpt, SettingsPath, StateDir, load_settings, wide

tenants_app = typer.Typer(help="The enterprises served (the tenant map).", no_args_is_help=True)

COLUMNS = {
    "sensor_role_arn": "sensor role",
    "consumer_role_arn": "consumer role",
    "action_queue_url": "action queue",
    "alert_topic_arn": "alert topic",
}
"""A column per field of a tenant (trustpipe.settings.TENANT_FIELDS), in that order."""


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")


def tenant_rows(settings: Settings) -> list[dict[str, str]]:
    """One row per enterprise, by id: its id and each of its fields ("" where the settings lack one)."""
    return [
        {"enterprise": enterprise, **{name: own.get(name, "") for name in TENANT_FIELDS}}
        for enterprise, own in sorted(settings.tenants.items())
    ]


def tenant_table(rows: list[dict[str, str]]) -> Table:
    # ARNs are copied from here: folded onto more lines, never cut short.
    headers = [Column(h, overflow="fold") for h in ("enterprise", *COLUMNS.values())]
    table = Table(*headers, title=f"{len(rows)} enterprises")
    for row in rows:
        table.add_row(row["enterprise"], *(row[name] for name in COLUMNS))
    return table


@tenants_app.command("list")
def tenants_list(
    as_json: JsonOpt = False,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Each enterprise with its sensor role, consumer role, action queue and alert topic."""
    rows = tenant_rows(load_settings(state_dir, settings_path))
    if as_json:
        print(json.dumps({row.pop("enterprise"): row for row in rows}, indent=1))
        return
    wide.print(tenant_table(rows))
