"""`make demo`: the pipeline end to end on the local stack, with a readable summary and a report."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.landing import inventory
from trustpipe_cli.registry_demo import framed_round_trip
from trustpipe_cli.report import StageReport
from trustpipe_cli.sensors_cmd import run_batch
from trustpipe_cli.stack import LocalStack
from trustpipe_sensors.sensor import Drop

REPORT_FILE = "demo-report.json"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def run_demo(stack: LocalStack, hour: datetime, *, seed: int, scale: float, console: Console) -> bool:
    """Run every stage built so far for one hour; True when every stage reconciles."""
    began = time.monotonic()
    label = layout.format_hour(hour)
    console.rule(f"trustpipe demo: hour {label}, seed {seed}")
    with console.status("bringing the local stack up..."):
        settings = stack.up(database_url=os.environ.get("DATABASE_URL"), say=console.log)

    report = StageReport(extra={"hour": label, "seed": seed})
    drops: list[Drop] = []
    with _progress(console) as progress:
        task = progress.add_task("sensors -> landing bucket", total=4 * 3)
        drops = run_batch(
            settings,
            hour,
            seed=seed,
            enterprise_ids=None,
            scale=scale,
            on_drop=lambda _d: progress.advance(task),
        )
    report.stage("generated", sum(d.records for d in drops))

    with console.status("reading the hour back through the codec (v4 reader)..."):
        inv = inventory(AwsClients(settings).s3, settings.landing_bucket, hour)
    generated_by_key = {d.key: d.records for d in drops}
    report.stage(
        "landed",
        inv.records,
        set_aside=sum(generated_by_key.get(r.key, 0) for r in inv.rejected),
        reasons=[f"{r.key}: {r.reason}" for r in inv.rejected],
    )

    with console.status("schema registry: register writer schemas, decode framed records..."):
        registry = framed_round_trip(settings, [f.key for f in inv.files])
    report.extra["registry"] = registry

    elapsed = time.monotonic() - began
    by_version: dict[str, dict[str, int]] = defaultdict(dict)
    for f in inv.files:
        by_version[f.enterprise_id][f"v{f.schema_version}"] = (
            by_version[f.enterprise_id].get(f"v{f.schema_version}", 0) + f.records
        )
    report.extra.update(
        objects=len(inv.files) + len(inv.rejected),
        bytes=sum(f.bytes for f in inv.files),
        records_by_enterprise_version=dict(by_version),
        malicious_ground_truth=sum(d.malicious for d in drops),
        elapsed_seconds=round(elapsed, 2),
    )
    _print_summary(console, drops, report)
    report.write(stack.state_dir / REPORT_FILE)
    console.print(f"report: {stack.state_dir / REPORT_FILE}")
    return report.reconciled


def _print_summary(console: Console, drops: list[Drop], report: StageReport) -> None:
    table = Table(title="landing bucket, read back through the v4 reader schema")
    for column in ("enterprise", "schema", "objects", "records", "malicious (truth)", "bytes"):
        table.add_column(column, justify="left" if column in ("enterprise", "schema") else "right")
    per: dict[tuple[str, int], list[Drop]] = defaultdict(list)
    for d in drops:
        per[(d.enterprise_id, d.schema_version)].append(d)
    for (ent, version), group in sorted(per.items()):
        table.add_row(
            ent,
            f"v{version}",
            str(len(group)),
            f"{sum(d.records for d in group):,}",
            f"{sum(d.malicious for d in group):,}",
            f"{sum(d.bytes for d in group):,}",
        )
    console.print(table)
    reg = report.extra["registry"]
    console.print(
        f"schema registry: {reg['subject']} ids {reg['ids']}; {reg['framed_records']:,} "
        f"framed records decoded to v4 with {reg['consumer_requests']} registry requests"
    )
    stages = "  ->  ".join(f"{name} {count:,}" for name, count in report.stages.items())
    console.print(f"stages: {stages}")
    if report.set_aside:
        console.print(f"[yellow]set aside[/]: {report.set_aside}")
    status = "[green]reconciled[/]" if report.reconciled else f"[red]NOT reconciled[/]: {report.mismatches()}"
    console.print(f"{status} in {report.extra['elapsed_seconds']}s")
