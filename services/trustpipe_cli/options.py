"""What every command shares: the consoles, the options, and the settings and clients built once
from ``--settings`` (a deployed host) or the local stack's settings file (a checkout)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.settings import SETTINGS_FILE, Settings, SettingsError, local_state_dir

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


def state_dir_of(state_dir: Path) -> Path:
    """The local stack's state folder that ``--state-dir`` names, from anywhere in the checkout."""
    return local_state_dir(state_dir, Path.cwd())


def settings_file(state_dir: Path, settings_path: Path | None) -> Path:
    """The settings file: ``--settings``, else the one `trustpipe local up` writes (and `local
    down` removes)."""
    if settings_path is not None:
        return settings_path.resolve()
    local = state_dir_of(state_dir) / SETTINGS_FILE
    if not local.exists():
        raise SettingsError("no --settings, and the local stack is not up: run `trustpipe local up`")
    return local.resolve()


def load_settings(state_dir: Path, settings_path: Path | None) -> Settings:
    """The deployment's settings: ``--settings``, else the local stack's; $DATABASE_URL, when
    set, is the database (a deployed worker reads its password from the secret its settings name)."""
    settings = Settings.load(settings_file(state_dir, settings_path))
    return settings.with_database_url(os.environ.get("DATABASE_URL"))


def load_clients(state_dir: Path, settings_path: Path | None) -> AwsClients:
    """The command's clients, built once and passed down."""
    return AwsClients(load_settings(state_dir, settings_path))


def work_dir_of(state_dir: Path, settings_path: Path | None, work_dir: Path | None, name: str) -> Path:
    """A worker's own folder: ``--work-dir``, else under the local stack's state dir."""
    if work_dir is not None:
        return work_dir
    base = state_dir if settings_path is not None else state_dir_of(state_dir)
    return base / "workers" / name
