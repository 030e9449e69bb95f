"""`make demo`: the pipeline end to end on the local stack, with a readable summary and a report."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.landing import HourInventory, inventory
from trustpipe_orchestration import hour as hour_steps
from trustpipe_scenarios import stream_demo
from trustpipe_scenarios.registry_demo import framed_round_trip
from trustpipe_scenarios.report import StageReport
from trustpipe_sensors.app import run_batch
from trustpipe_sensors.sensor import Drop
from trustpipe_stack.stack import SPARK_LOG, LocalStack

REPORT_FILE = "demo-report.json"
REPORT_DIR = "report"
"""<state dir>/report/<hour>/index.html: the demo hour's pictures."""
HISTORY_HOURS = 6  # labelled history the nightly build trains on
# Smaller than the demo hour for speed, but not so small that the hourly DAG's data-quality gate
# (each enterprise within half its smallest and twice its largest trailing hour) would call the
# demo hour a volume spike when `make airflow` runs the same hours.
HISTORY_SCALE = 0.6
DROPS_PER_HOUR = 4 * 3  # quarters x enterprises
IMPORT_ATTEMPTS = 10


def run_demo(
    stack: LocalStack,
    hour: datetime,
    *,
    seed: int,
    scale: float,
    console: Console,
    stream_seconds: float = 30.0,
    stream_rate: float = 20.0,
) -> bool:
    """The batch path for one hour, then a stream run through the near-real-time workers; True
    when every stage of both reconciles."""
    began = time.monotonic()
    label = layout.format_hour(hour)
    console.rule(f"trustpipe demo: hour {label}, seed {seed}")
    with console.status("bringing the local stack up..."):
        aws = AwsClients(stack.up(database_url=os.environ.get("DATABASE_URL"), say=console.log))
    report = StageReport(extra={"hour": label, "seed": seed})

    drops = _land(aws, hour, seed, scale, console)
    report.stage("generated", sum(d.records for d in drops))
    inv = _read_back(aws, hour, drops, report, console)
    with console.status("schema registry: register writer schemas, decode framed records..."):
        report.extra["registry"] = framed_round_trip(aws, [f.key for f in inv.files])
    by_enterprise, imported = _model_score_import(aws, hour, report, console, stack.state_dir)
    if aws.settings.search_url and aws.settings.search_queue_url:
        report.extra["search"] = _index(aws, hour, console)
    if stream_seconds > 0:
        console.rule("near real time: sensors -> Kinesis -> scorers -> importer -> alerter")
        report.extra["stream"] = stream_demo.run(
            aws, stack.state_dir, seed=seed, seconds=stream_seconds, rate=stream_rate, say=console.log
        )

    report.extra["elapsed_seconds"] = round(time.monotonic() - began, 2)
    _print_summary(console, drops, by_enterprise, imported, report)
    if "stream" in report.extra:
        _print_stream(console, report.extra["stream"])
    report.write(stack.state_dir / REPORT_FILE)
    console.print(f"report: {stack.state_dir / REPORT_FILE}")
    if "hour_report" in report.extra:
        console.print(f"the hour, drawn: {report.extra['hour_report']}")
    console.print(f"the model build, drawn: {report.extra['model_report']}")
    console.print(f"Spark's log (its warnings; errors show here): {stack.state_dir / SPARK_LOG}")
    _print_review_login(aws, console)
    return report.reconciled and report.extra.get("stream", {}).get("reconciled", True)


REVIEWER = "reviewer@acme.test"


def _print_review_login(aws: AwsClients, console: Console) -> None:
    """The review page's URL and a login of acme's reviewer (made unless there, a fresh password)."""
    settings = aws.settings
    if not (settings.review_url and settings.review_user_pool_id and settings.review_client_id):
        return
    from trustpipe_review.users import Pool, login_of

    pool = Pool(settings.review_user_pool_id, settings.review_client_id)
    password = login_of(aws.client("cognito-idp"), pool, "acme", REVIEWER)
    console.print(
        f"review page: {settings.review_url}/ (the API's OpenAPI document at /openapi.json)", highlight=False
    )
    console.print(f"acme's reviewer: {REVIEWER} / {password}", highlight=False)
    console.print(
        f"  TOKEN=$(trustpipe review token --email {REVIEWER} --password '{password}')\n"
        f'  curl -H "Authorization: Bearer $TOKEN" {settings.review_url}/messages?verdict=QUARANTINE',
        highlight=False,
        soft_wrap=True,
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _land(aws: AwsClients, hour: datetime, seed: int, scale: float, console: Console) -> list[Drop]:
    """Labelled history for the model build, then the demo hour itself; the demo hour's drops."""
    with _progress(console) as progress:
        task = progress.add_task("sensors -> landing bucket", total=DROPS_PER_HOUR * (HISTORY_HOURS + 1))
        for back in range(HISTORY_HOURS, 0, -1):
            run_batch(
                aws,
                hour - timedelta(hours=back),
                seed=seed,
                enterprise_ids=None,
                scale=HISTORY_SCALE * scale,
                on_drop=lambda _d: progress.advance(task),
            )
        return run_batch(
            aws,
            hour,
            seed=seed,
            enterprise_ids=None,
            scale=scale,
            on_drop=lambda _d: progress.advance(task),
        )


def _read_back(
    aws: AwsClients, hour: datetime, drops: list[Drop], report: StageReport, console: Console
) -> HourInventory:
    with console.status("reading the hour back through the codec (v4 reader)..."):
        inv = inventory(aws.s3, aws.settings.landing_bucket, hour)
    generated_by_key = {d.key: d.records for d in drops}
    report.stage(
        "landed",
        inv.records,
        set_aside=sum(generated_by_key.get(r.key, 0) for r in inv.set_aside),
        reasons=[f"{r.key}: {r.reason}" for r in inv.set_aside],
    )
    by_version: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in inv.files:
        by_version[f.enterprise_id][f"v{f.schema_version}"] += f.records
    report.extra.update(
        objects=len(inv.files) + len(inv.set_aside),
        bytes=sum(f.bytes for f in inv.files),
        records_by_enterprise_version={e: dict(v) for e, v in by_version.items()},
        malicious_ground_truth=sum(d.malicious for d in drops),
    )
    return inv


def _model_score_import(
    aws: AwsClients, hour: datetime, report: StageReport, console: Console, state_dir: Path
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], int]]:
    """Nightly build on the history, then the hour's steps on the demo hour (score, verify, S3
    event -> SNS -> SQS -> importer -> PostgreSQL, reconcile); stats per enterprise, rows in the
    store per enterprise and verdict. Pictures go under ``state_dir``'s report folder, Spark's
    warnings to its log."""
    from spark_jobs.session import local_session

    pages = state_dir / REPORT_DIR
    with console.status("starting Spark (local[*])..."):
        spark = local_session("trustpipe-demo", log_file=state_dir / SPARK_LOG)
    _build_model(aws, hour, spark, report, console, pages)
    parts = hour_steps.in_process(aws, spark, IMPORT_ATTEMPTS)
    scored: list[Any] = []

    def score(at: datetime) -> Any:
        console.log("scoring the hour (Spark, native column expressions)...")
        scored.append(parts.score(at))
        console.log("importer: S3 event -> SNS -> SQS -> PostgreSQL...")
        return scored[-1]

    with console.status("the hour: score -> verify -> import -> reconcile..."):
        try:
            hour_steps.run_hour(aws, parts.db, hour, score, parts.drain)
        except hour_steps.HourIncompleteError as err:
            report.extra["incomplete"] = str(err)  # the stage counts below say where
        rows = parts.db.get_records(IMPORTED_BY_VERDICT, {"hour": layout.format_hour(hour)})
    result = scored[0]
    report.stage(
        "scored",
        result.records_out,
        set_aside=sum(s["records_readable"] for s in result.set_aside),
        reasons=[f"{s['key']}: {s['reason']}" for s in result.set_aside],
    )
    report.extra["verdicts"] = result.verdicts
    report.extra["scoring_model"] = result.model_version
    imported = {(e, v): int(n) for e, v, n in rows}
    report.stage("imported", sum(imported.values()))
    if "incomplete" not in report.extra:
        with console.status("drawing the hour's report..."):
            page = _draw_hour(aws, parts.db, hour, result.model_version, pages)
        report.extra["hour_report"] = str(page)
    report.extra["imported_by_enterprise_verdict"] = {f"{e}/{v}": n for (e, v), n in sorted(imported.items())}
    return {s["enterprise_id"]: s for s in result.stats}, imported


def _build_model(
    aws: AwsClients, hour: datetime, spark: Any, report: StageReport, console: Console, pages: Path
) -> None:
    """The nightly build on the history hours; its holdout metrics go to the report, its curves
    are drawn under ``pages``."""
    from spark_jobs import runner
    from trustpipe_orchestration import model_report

    with console.status(
        f"building the trust model on {HISTORY_HOURS} hours of labelled history (Spark MLlib)..."
    ):
        built = runner.build(aws, hour, HISTORY_HOURS, spark)
    metrics = built.artifact.metadata["metrics"]
    report.extra["model_report"] = str(
        model_report.draw(built.artifact, pages / f"model-{built.artifact.version}")
    )
    report.extra["model"] = {
        "version": built.artifact.version,
        "auc": metrics["auc"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "promoted": built.promoted,
        "decision": built.reason,
    }


def _draw_hour(aws: AwsClients, db: Any, hour: datetime, model_version: str, pages: Path) -> Path:
    """The hour's report as the hourly DAG draws it (its pictures and index.html), locally."""
    from trustpipe.model import artifact as model_store
    from trustpipe_orchestration import checks, hour_report
    from trustpipe_orchestration.config import QualityBands

    settings = aws.settings
    summary = checks.verify_hour(aws.s3, settings, hour)
    artifact = model_store.load(aws.s3, settings.archive_bucket, model_version)
    figures = hour_report.gather(db, hour, summary, artifact, QualityBands())
    return hour_report.draw(figures, pages / layout.format_hour(hour))


IMPORTED_BY_VERDICT = (
    "SELECT enterprise_id, verdict, count(*) FROM scored_messages WHERE source_ref = %(hour)s "
    "GROUP BY enterprise_id, verdict"
)


def _index(aws: AwsClients, hour: datetime, console: Console) -> dict[str, Any]:
    """The batch path's second consumer: the indexer drains its own queue (the scored objects the
    topic announced), then the hour's documents per enterprise are counted beside the store's rows
    (``trustpipe_search.reconcile``, as the hourly DAG's reconcile_search does)."""
    from trustpipe.db.connect import connector
    from trustpipe.db.query import PostgresDatabase
    from trustpipe_search import engine, reconcile
    from trustpipe_search.app import queue_indexer

    with console.status("indexer: S3 event -> SNS -> its own SQS queue -> OpenSearch..."):
        counts = queue_indexer(aws, wait_seconds=1).run(once=True)
        client = engine.connect(aws.settings)
        engine.refresh(client)
        found = reconcile.drift(client, PostgresDatabase(connector(aws.settings)), hour)
    console.log(f"search index: {found.describe()}")
    return {
        "index": found.index,
        "store": found.store,
        "drift": found.total,
        "objects": counts.objects,
        "set_aside": counts.set_aside,
    }


def _print_summary(
    console: Console,
    drops: list[Drop],
    by_enterprise: dict[str, dict[str, Any]],
    imported: dict[tuple[str, str], int],
    report: StageReport,
) -> None:
    table = Table(title=f"hour {report.extra['hour']}: landed, read back through v4, scored")
    columns = (
        "enterprise",
        "schema",
        "files",
        "records",
        "bad (truth)",
        "bytes",
        "quarantine",
        "label",
        "pass",
        "in db",
        "in index",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("enterprise", "schema") else "right")
    per: dict[tuple[str, int], list[Drop]] = defaultdict(list)
    for d in drops:
        per[(d.enterprise_id, d.schema_version)].append(d)
    for (ent, version), group in sorted(per.items()):
        stats = by_enterprise.get(ent, {})
        table.add_row(
            ent,
            f"v{version}",
            str(len(group)),
            f"{sum(d.records for d in group):,}",
            f"{sum(d.malicious for d in group):,}",
            f"{sum(d.bytes for d in group):,}",
            f"{stats.get('quarantined', 0):,}",
            f"{stats.get('labelled', 0):,}",
            f"{stats.get('passed', 0):,}",
            f"{sum(n for (e, _v), n in imported.items() if e == ent):,}",
            f"{report.extra.get('search', {}).get('index', {}).get(ent, 0):,}"
            if "search" in report.extra
            else "-",
        )
    console.print(table)
    model, reg = report.extra["model"], report.extra["registry"]
    outcome = "promoted" if model["promoted"] else "kept current"
    console.print(
        f"model {model['version']}: holdout AUC {model['auc']:.4f}, precision {model['precision']:.3f}, "
        f"recall {model['recall']:.3f} ({outcome}: {model['decision']})"
    )
    console.print(
        f"schema registry: {reg['subject']} ids {reg['ids']}; {reg['framed_records']:,} "
        f"framed records decoded to v4 with {reg['consumer_requests']} registry requests"
    )
    stages = "  ->  ".join(f"{name} {count:,}" for name, count in report.stages.items())
    console.print(f"stages: {stages}")
    if report.set_aside:
        console.print(f"[yellow]set aside[/]: {report.set_aside}")
    problems = report.mismatches()
    status = f"[red]NOT reconciled[/]: {problems}" if problems else "[green]reconciled[/]"
    console.print(f"{status} in {report.extra['elapsed_seconds']}s")


def _print_stream(console: Console, stream: dict[str, Any]) -> None:
    table = Table(title=f"stream run {stream['run_id']}: {stream['rate_per_second']:.0f} messages/s")
    for column in ("produced", "scored", "imported", "indexed", "actionable", "actions", "duplicate actions"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            f"{stream[k]:,}"
            for k in (
                "produced",
                "scored",
                "imported",
                "indexed",
                "actionable",
                "actions",
                "duplicate_actions",
            )
        )
    )
    console.print(table)
    stored, acted = stream["latency_put_to_stored_s"], stream["latency_put_to_action_s"]
    console.print(
        f"verdicts {stream['verdicts']}; actions for the batch hour's verdicts too: "
        f"{stream['actions_from_batch_path']:,}"
    )
    console.print(
        f"latency put -> stored: p50 {stored['p50']}s p95 {stored['p95']}s p99 {stored['p99']}s; "
        f"put -> action: p50 {acted['p50']}s p95 {acted['p95']}s p99 {acted['p99']}s"
    )
    if stream["set_aside"]:
        console.print(f"[yellow]set aside[/]: {stream['set_aside']}")
    ok = "[green]reconciled: true[/]" if stream["reconciled"] else "[red]reconciled: false[/]"
    console.print(f"stream {ok} (workers exited {stream['workers_exit_codes']})")
