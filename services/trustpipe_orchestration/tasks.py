"""The DAG tasks' bodies. Each builds its configuration from the Variables and its clients once,
when it runs, and hands them to the hour's steps (``trustpipe_orchestration.hour``)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from trustpipe import layout, metrics
from trustpipe.aws import AwsClients
from trustpipe.db.query import Database
from trustpipe_orchestration import alerts, emr, hour
from trustpipe_orchestration.config import DB_CONN_ID, PipelineConfig, pipeline_config


def _aws() -> AwsClients:
    """This task's clients (a task is its own entry point: one set per task run)."""
    return AwsClients(pipeline_config().settings)


def _models(config: PipelineConfig, dag_id: str) -> AwsClients:
    """Clients that write models/: as the pipeline's models role where it names one (the
    Airflow host's own role may not write there), assumed when the first is created."""
    return AwsClients(config.settings, role_arn=config.model_role_arn, session_name=dag_id)


def model_ready() -> bool:
    """A current model exists; until it does, say why the hour waits and what to do."""
    from trustpipe.model import artifact as model_store

    settings = pipeline_config().settings
    version = model_store.current_version(AwsClients(settings).s3, settings.archive_bucket)
    if version is None:
        print(
            f"no current model in s3://{settings.archive_bucket}/{layout.CURRENT_MODEL_KEY}: this hour "
            "waits for one. Trigger model_build_nightly once labelled history has landed; the "
            "hour scores as soon as the build promotes its candidate."
        )
        return False
    print(f"current model: {version}")
    return True


def choose_runner(local_task: str, emr_tasks: list[str]) -> list[str] | str:
    """Branch: Spark in this worker, or the transient-cluster chain (its teardown included)."""
    return emr_tasks if pipeline_config().mode == "emr" else local_task


def find_late_hours(dag_id: str, at: datetime) -> list[str]:
    """The hours before ``at`` that were scored and have landed more since (``late``), whose own
    runs are done: put as metrics (0 too), said in the log; the hours, for the runner to score
    again beside this run's own."""
    from airflow.sdk import get_current_context

    from trustpipe_orchestration import late

    config = pipeline_config()
    aws = _aws()
    ti = get_current_context()["ti"]

    def active(hour: datetime) -> bool:
        return bool(ti.get_dr_count(dag_id=dag_id, logical_dates=[hour], states=["queued", "running"]))

    found = late.find_late(aws.s3, config.settings, at, config.late_lookback_hours, active)
    print(late.describe(found))
    alerts.put_metrics(aws, late.lateness_metrics(dag_id, found), datetime.now(UTC))
    return [h.label for h in found]


def score_local(at: datetime, late_hours: Sequence[str] = ()) -> dict[str, Any]:
    """The scoring job with Spark in-process (local[*]): the late hours again, then ``at``; the
    summary of ``at``."""
    from spark_jobs import runner

    aws = _aws()
    for label in late_hours:
        again = runner.score(aws, layout.parse_hour(label))
        print(f"{label} scored again: {again.records_out:,} records (late landing objects)")
    result = runner.score(aws, at)
    return {"records_in": result.records_in, "records_out": result.records_out, "verdicts": result.verdicts}


def emr_cluster_spec(dag_id: str, at: datetime) -> dict[str, Any]:
    config = pipeline_config()
    assert config.emr
    name = f"trustpipe-{dag_id}-{layout.format_hour(at)}"
    return emr.cluster_spec(
        config.emr, name, {"trustpipe:dag": dag_id, "trustpipe:hour": layout.format_hour(at)}
    )


def emr_score_steps(at: datetime, late_hours: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One step per hour: the late hours first, this run's own last (the step the DAG watches;
    steps run one after another)."""
    config = pipeline_config()
    assert config.emr
    hours = [*(layout.parse_hour(label) for label in late_hours), at]
    return [step for h in hours for step in emr.score_steps(config.emr, config.settings.scored_bucket, h)]


def verify_output(at: datetime) -> dict[str, Any]:
    """The manifest exists and counts in equal counts out; the summary feeds the import checks."""
    return hour.verify(_aws(), at)


def verify_late(late_hours: list[str]) -> list[dict[str, Any]]:
    """Each late hour scored again accounts for everything landed now; their summaries."""
    aws = _aws()
    return [hour.verify(aws, layout.parse_hour(label)) for label in late_hours]


def imported(*summaries: dict[str, Any]) -> bool:
    """Every file of the hours, as it is in S3 now (key and ETag), is in the importers' ledger."""
    aws, db = _aws(), _db()
    files = sum(len(s["files"]) for s in summaries)
    waiting = set().union(*(hour.not_imported(aws, db, s) for s in summaries))
    if waiting:
        print(f"waiting for the importers: {len(waiting)} of {files} files not in the ledger")
    return not waiting


def reconcile_late(summaries: list[dict[str, Any]]) -> list[int]:
    """Rows and stats of each late hour scored again equal its manifest's records."""
    db = _db()
    return [hour.reconcile(db, s) for s in summaries]


def _db() -> Database:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(DB_CONN_ID).get_hook()  # type: ignore[no-any-return,no-untyped-call]


def _store_connection() -> Any:
    """A psycopg connection to the store as the ``trustpipe_db`` connection names it: on AWS
    with an IAM token the Postgres hook makes now (its extra ``iam``), over verified TLS."""
    import psycopg
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(DB_CONN_ID)
    extra = conn.extra_dejson
    login, password, port = (
        conn.get_hook().get_iam_token(conn)  # type: ignore[no-untyped-call]
        if extra.get("iam")
        else (conn.login, conn.password, conn.port)
    )
    tls = {k: extra[k] for k in ("sslmode", "sslrootcert") if k in extra}
    return psycopg.connect(
        host=conn.host, port=port, dbname=conn.schema, user=login, password=password, connect_timeout=5, **tls
    )


def store_retention() -> dict[str, Any]:
    """Daily: the store's day partitions ahead, and the days past the pipeline's
    ``store_retention_days`` dropped (``store.keep_window``); what was made and removed."""
    from trustpipe_orchestration import store

    keep_days = pipeline_config().store_retention_days
    summary = store.keep_window(_store_connection, keep_days)
    print(store.describe(summary))
    return summary


def counters_drift(dag_id: str, day: date) -> dict[str, Any]:
    """Nightly: ``day``'s online counters against the store's exact counts
    (``counters_drift.check``), the worst difference published as ``CountersDrift``; nothing
    when the settings name no Redis."""
    from trustpipe import counters
    from trustpipe.model import artifact as model_store
    from trustpipe_orchestration import counters_drift as drift

    config = pipeline_config()
    settings, aws = config.settings, AwsClients(config.settings)
    client = counters.from_settings(settings)
    if client is None:
        return {"skipped": "no redis_url in the settings"}
    suffixes = model_store.load(aws.s3, settings.archive_bucket).suffixes
    with _store_connection() as conn:
        found = drift.check(client, conn, day, suffixes)
    datum = metrics.datum(metrics.COUNTERS_DRIFT, found.worst, Dag=dag_id)
    alerts.put_metrics(aws, [datum], datetime.now(UTC))
    return found.summary()


def quality_gate(at: datetime) -> dict[str, Any]:
    """Each enterprise's volume and quarantine rate against its trailing week (scoring_stats)."""
    config = pipeline_config()
    result = hour.quality_gate(_db(), at, config.quality, config.enterprises)
    return {"notes": list(result.notes), "enterprises": list(result.enterprises)}


def record_hour(dag_id: str, hour_end: datetime, summary: dict[str, Any]) -> float:
    """The hour is verified and imported: its figures and how long after its close, as the
    metrics the deadline alarm and the dashboard read; the delay."""
    return alerts.put_hour_metrics(_aws(), dag_id, hour_end, summary, datetime.now(UTC))


def reconcile_search(dag_id: str, at: datetime) -> dict[str, Any]:
    """The search index's documents against the store's rows for the hour, per enterprise
    (``trustpipe_search.reconcile``): put as ``SearchDrift`` (0 when they agree), said in the log;
    the counts. A deployment without a search store has nothing to reconcile."""
    settings = pipeline_config().settings
    if not (settings.search_url or settings.search_url_parameter):
        print("no search store in the settings (search_url, search_url_parameter): nothing to reconcile")
        return {"hour": layout.format_hour(at), "drift": None}
    from trustpipe_search import engine, reconcile

    found = reconcile.drift(engine.connect(settings), _db(), at)
    print(found.describe())
    alerts.put_metrics(_aws(), [reconcile.drift_datum(dag_id, found)], datetime.now(UTC))
    return {"hour": layout.format_hour(at), "index": found.index, "store": found.store, "drift": found.total}


def write_report(at: datetime, summary: dict[str, Any]) -> dict[str, str]:
    """Draw the verified, imported hour (``hour_report``) and upload it beside its scored output;
    where it is (``url`` becomes the task's "Hour report" link)."""
    from trustpipe.model import artifact as model_store
    from trustpipe_orchestration import hour_report, pictures

    config = pipeline_config()
    aws = _aws()
    bucket = config.settings.scored_bucket
    artifact = model_store.load(aws.s3, config.settings.archive_bucket, summary["model_version"])
    figures = hour_report.gather(_db(), at, summary, artifact, config.quality)
    with tempfile.TemporaryDirectory(prefix="trustpipe-report-") as tmp:
        page = hour_report.draw(figures, Path(tmp))
        key = hour_report.publish(aws.s3, bucket, at, page.parent)
    return {"s3_uri": f"s3://{bucket}/{key}", "url": pictures.url(config.settings, aws.s3, bucket, key)}


def build_model(dag_id: str, until: datetime) -> dict[str, Any]:
    """Nightly: train on the trailing hours, save the candidate, publish its holdout AUC and the
    current model's on the same holdout, and their curves drawn beside the artifact; the gate
    decides promotion."""
    from spark_jobs import runner
    from trustpipe_orchestration import model_report, pictures

    config = pipeline_config()
    aws, models = AwsClients(config.settings), _models(config, dag_id)
    result = runner.build(aws, until, config.model_history_hours, promote=False, models=models)
    aucs = {"candidate": result.artifact.metadata["metrics"]["auc"], "current": result.current_auc}
    data = [
        metrics.datum(metrics.HOLDOUT_AUC, auc, Dag=dag_id, Model=model)
        for model, auc in aucs.items()
        if auc is not None
    ]
    alerts.put_metrics(aws, data, datetime.now(UTC))
    bucket = config.settings.archive_bucket
    with tempfile.TemporaryDirectory(prefix="trustpipe-model-report-") as tmp:
        page = model_report.draw(result.artifact, Path(tmp))
        key = model_report.publish(models.s3, bucket, result.artifact.version, page.parent)
    return {
        "report_url": pictures.url(config.settings, models.s3, bucket, key),
        "version": result.artifact.version,
        "promoted": result.promoted,
        "reason": result.reason,
        "metrics": result.artifact.metadata["metrics"],
    }


def promote_model(candidate: dict[str, Any], dag_id: str) -> str:
    """Move ``current`` to the candidate when the evaluation gate passed; fail (and page) otherwise."""
    from trustpipe.model import artifact as model_store

    if not candidate["promoted"]:
        raise model_store.ModelNotPromotedError(
            f"candidate {candidate['version']} not promoted: {candidate['reason']}"
        )
    config = pipeline_config()
    settings = config.settings
    client = _models(config, dag_id).s3
    model_store.promote(
        client,
        settings.archive_bucket,
        model_store.load(client, settings.archive_bucket, candidate["version"]),
    )
    return str(candidate["version"])
