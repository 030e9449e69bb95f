"""The DAG tasks' bodies. Each builds its configuration from the Variables and its clients once,
when it runs, and hands them to the hour's steps (``trustpipe_orchestration.hour``)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustpipe import layout, metrics
from trustpipe.aws import AwsClients
from trustpipe.db.query import Database
from trustpipe_orchestration import alerts, emr, hour
from trustpipe_orchestration.config import DB_CONN_ID, pipeline_config


def _aws() -> AwsClients:
    """This task's clients (a task is its own entry point: one set per task run)."""
    return AwsClients(pipeline_config().settings)


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


def score_local(at: datetime) -> dict[str, Any]:
    """The scoring job with Spark in-process (local[*]); its summary."""
    from spark_jobs import runner

    result = runner.score(_aws(), at)
    return {"records_in": result.records_in, "records_out": result.records_out, "verdicts": result.verdicts}


def emr_cluster_spec(dag_id: str, at: datetime) -> dict[str, Any]:
    config = pipeline_config()
    assert config.emr
    name = f"trustpipe-{dag_id}-{layout.format_hour(at)}"
    return emr.cluster_spec(
        config.emr, name, {"trustpipe:dag": dag_id, "trustpipe:hour": layout.format_hour(at)}
    )


def emr_score_steps(at: datetime) -> list[dict[str, Any]]:
    config = pipeline_config()
    assert config.emr
    return emr.score_steps(config.emr, config.settings.scored_bucket, at)


def verify_output(at: datetime) -> dict[str, Any]:
    """The manifest exists and counts in equal counts out; the summary feeds the import checks."""
    return hour.verify(_aws(), at)


def imported(summary: dict[str, Any]) -> bool:
    """Every file of the hour, as it is in S3 now (key and ETag), is in the importers' ledger."""
    waiting = hour.not_imported(_aws(), _db(), summary)
    if waiting:
        print(f"waiting for the importers: {len(waiting)} of {len(summary['files'])} files not in the ledger")
    return not waiting


def _db() -> Database:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(DB_CONN_ID).get_hook()  # type: ignore[no-any-return,no-untyped-call]


def store_retention() -> dict[str, Any]:
    """Daily: the store's day partitions ahead, and the days past the pipeline's
    ``store_retention_days`` dropped (``store.keep_window``); what was made and removed."""
    import psycopg
    from airflow.sdk import BaseHook

    from trustpipe.db import migrate
    from trustpipe_orchestration import store

    url = migrate.libpq_url(BaseHook.get_connection(DB_CONN_ID).get_uri())
    keep_days = pipeline_config().store_retention_days
    summary = store.keep_window(lambda: psycopg.connect(url), keep_days)
    print(store.describe(summary))
    return summary


def quality_gate(at: datetime) -> dict[str, Any]:
    """Each enterprise's volume and quarantine rate against its trailing week (scoring_stats)."""
    config = pipeline_config()
    result = hour.quality_gate(_db(), at, config.quality, config.enterprises)
    return {"notes": list(result.notes), "enterprises": list(result.enterprises)}


def record_hour(dag_id: str, hour_end: datetime, summary: dict[str, Any]) -> float:
    """The hour is verified and imported: its figures and how long after its close, as the
    metrics the deadline alarm and the dashboard read; the delay."""
    return alerts.put_hour_metrics(_aws(), dag_id, hour_end, summary, datetime.now(UTC))


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
    aws = AwsClients(config.settings)
    result = runner.build(aws, until, config.model_history_hours, promote=False)
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
        key = model_report.publish(aws.s3, bucket, result.artifact.version, page.parent)
    return {
        "report_url": pictures.url(config.settings, aws.s3, bucket, key),
        "version": result.artifact.version,
        "promoted": result.promoted,
        "reason": result.reason,
        "metrics": result.artifact.metadata["metrics"],
    }


def promote_model(candidate: dict[str, Any]) -> str:
    """Move ``current`` to the candidate when the evaluation gate passed; fail (and page) otherwise."""
    from trustpipe.model import artifact as model_store

    if not candidate["promoted"]:
        raise model_store.ModelNotPromotedError(
            f"candidate {candidate['version']} not promoted: {candidate['reason']}"
        )
    settings = pipeline_config().settings
    client = AwsClients(settings).s3
    model_store.promote(
        client,
        settings.archive_bucket,
        model_store.load(client, settings.archive_bucket, candidate["version"]),
    )
    return str(candidate["version"])
