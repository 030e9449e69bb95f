"""The search store's commands: `trustpipe indexer run` (the unit's: the scored stream, or the
batch path's announcements with --source queue) and `trustpipe search reindex|reconcile|retention`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from trustpipe import layout
from trustpipe.settings import DEFAULT_LOCAL_DIR
from trustpipe.workers import INDEXER
from trustpipe_cli.options import (
    HourOpt,
    JsonOpt,
    SettingsPath,
    StateDir,
    console,
    load_clients,
    load_settings,
    resolve_hour,
    work_dir_of,
)
from trustpipe_cli.workers import SlotOpt, WorkDir, _run_stream_worker

indexer_app = typer.Typer(
    help="The search indexer (the scored stream or the scored objects' queue -> OpenSearch).",
    no_args_is_help=True,
)
search_app = typer.Typer(
    help="The search store: reindex hours from the lake, reconcile, retention.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(indexer_app, name="indexer")
    app.add_typer(search_app, name="search")


@indexer_app.command("run")
def indexer_run(
    source: Annotated[
        str,
        typer.Option(
            help="stream: the scored stream (KCL group `indexer`); queue: scored objects announced on SQS."
        ),
    ] = "stream",
    once: Annotated[
        bool, typer.Option("--once", help="Stop when the queue is empty (queue; tests, demos).")
    ] = False,
    visibility_timeout: Annotated[
        int,
        typer.Option(help="Seconds a received message stays hidden (queue; extended while indexing).", min=2),
    ] = 300,
    slot: SlotOpt = "1",
    work_dir: WorkDir = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Index every scored message into the search store: from the scored stream (default), or from
    the scored objects the batch path announces (--source queue); SIGTERM finishes the batch and exits."""
    if source not in ("stream", "queue"):
        raise typer.BadParameter("must be stream or queue", param_hint="--source")
    if source == "stream":
        from trustpipe_search.app import run_stream_service

        _run_stream_worker(run_stream_service, INDEXER, slot, work_dir, state_dir, settings_path)
    from trustpipe_search.app import run_queue

    aws = load_clients(state_dir, settings_path)
    counts = run_queue(
        aws,
        once=once,
        work_dir=work_dir_of(state_dir, settings_path, work_dir, "indexer-queue"),
        visibility_timeout=visibility_timeout,
    )
    console.print(
        f"indexed {counts.objects} objects: {counts.indexed} documents written, {counts.superseded} "
        f"already there, {counts.set_aside} set aside, {counts.retried} retried"
    )


@search_app.command("reindex")
def reindex_cmd(
    first: Annotated[str, typer.Option("--from", help="First hour to index again, YYYY-MM-DDTHH (UTC).")],
    last: Annotated[str, typer.Option("--to", help="Last hour to index again (inclusive).")],
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
    as_json: JsonOpt = False,
) -> None:
    """Index the scored objects of past hours from the lake again (idempotent: a document already
    there in the same or a newer version is left as it is)."""
    from trustpipe_orchestration.hour import hours_between
    from trustpipe_search import engine
    from trustpipe_search.reindex import reindex

    hours = hours_between(layout.parse_hour(first), layout.parse_hour(last))  # before anything starts
    aws = load_clients(state_dir, settings_path)
    client = engine.connect(aws.settings)
    engine.ensure_template(client)
    done = reindex(client, aws.s3, aws.settings.scored_bucket, aws.settings.archive_bucket, hours)
    if as_json:
        print(json.dumps(asdict(done), indent=1))
        return
    console.print(
        f"reindexed {done.hours} hours, {done.objects} objects: {done.written:,} documents written, "
        f"{done.superseded:,} already there, {len(done.set_aside)} set aside"
    )


@search_app.command("reconcile")
def reconcile_cmd(
    hour: HourOpt = None,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """The index's documents against the store's rows, per enterprise, for an hour of the messages'
    own time; exit 1 when they differ."""
    from trustpipe.db.connect import connector
    from trustpipe.db.query import PostgresDatabase
    from trustpipe_search import engine, reconcile

    at = resolve_hour(hour)
    settings = load_settings(state_dir, settings_path)
    client = engine.connect(settings)
    engine.refresh(client)
    found = reconcile.drift(client, PostgresDatabase(connector(settings)), at)
    console.print(found.describe())
    if found.total:
        raise typer.Exit(1)


@search_app.command("retention")
def retention_cmd(
    keep_days: Annotated[
        int, typer.Option("--keep-days", help="Days of daily indices kept (today included).", min=1)
    ],
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Delete the daily indices older than --keep-days (on AWS the ISM policy does this)."""
    from trustpipe_search import engine

    client = engine.connect(load_settings(state_dir, settings_path))
    gone = engine.delete_older_than(client, keep_days)
    console.print(f"deleted {len(gone)} daily indices" + (f": {', '.join(gone)}" if gone else ""))
