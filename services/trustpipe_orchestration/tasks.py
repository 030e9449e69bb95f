"""The DAG tasks' bodies. Each builds its configuration from the Variables when it runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe_orchestration import alerts, checks, emr
from trustpipe_orchestration.config import DB_CONN_ID, PipelineConfig


def pipeline_config() -> PipelineConfig:
    from airflow.sdk import Variable

    def get(name: str) -> Any:
        value = Variable.get(name, default=None, deserialize_json=True)
        if value is None:
            raise KeyError(name)
        return value

    return PipelineConfig.from_variables(get)


def choose_runner(local_task: str, emr_tasks: list[str]) -> list[str] | str:
    """Branch: Spark in this worker, or the transient-cluster chain (its teardown included)."""
    return emr_tasks if pipeline_config().mode == "emr" else local_task


def score_local(hour: datetime) -> dict[str, Any]:
    """The scoring job with Spark in-process (local[*]); its summary."""
    from trustpipe_cli import batch_cmd

    result = batch_cmd.score(pipeline_config().settings, hour)
    return {"records_in": result.records_in, "records_out": result.records_out, "verdicts": result.verdicts}


def emr_cluster_spec(dag_id: str, hour: datetime) -> dict[str, Any]:
    config = pipeline_config()
    assert config.emr
    name = f"trustpipe-{dag_id}-{layout.format_hour(hour)}"
    return emr.cluster_spec(
        config.emr, name, {"trustpipe:dag": dag_id, "trustpipe:hour": layout.format_hour(hour)}
    )


def emr_score_steps(hour: datetime) -> list[dict[str, Any]]:
    config = pipeline_config()
    assert config.emr
    return emr.score_steps(config.emr, config.settings.scored_bucket, hour)


def verify_output(hour: datetime) -> dict[str, Any]:
    """The manifest exists and counts in equal counts out; the summary feeds the import checks."""
    return checks.verify_hour(pipeline_config().settings, hour)


def imported(summary: dict[str, Any]) -> bool:
    """Every file of the hour, as it is in S3 now (key and ETag), is in the importers' ledger."""
    from trustpipe_importer.load import IMPORTED_SQL, current_versions

    settings = pipeline_config().settings
    current = current_versions(AwsClients(settings).s3, settings.scored_bucket, summary["files"])
    rows = _db_hook().get_records(IMPORTED_SQL, parameters={"keys": summary["files"]})
    waiting = current - {(k, e) for k, e in rows}
    if waiting:
        print(f"waiting for the importers: {len(waiting)} of {len(current)} files not in the ledger yet")
    return not waiting


def _db_hook() -> Any:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(DB_CONN_ID).get_hook()  # type: ignore[no-untyped-call]


def quality_gate(hour: datetime) -> dict[str, Any]:
    """Each enterprise's volume and quarantine rate against its trailing week (scoring_stats)."""
    config = pipeline_config()
    first, last = checks.trailing_window(hour, config.quality)
    rows = _db_hook().get_records(checks.GATE_SQL, parameters={"first": first, "last": last})
    stats = [checks.HourStats(e, h, int(m), int(q)) for e, h, m, q in rows]
    result = checks.quality_gate(layout.format_hour(hour), stats, config.quality, config.enterprises)
    if result.breaches:
        raise checks.QualityGateError(
            f"data-quality gate failed for {layout.format_hour(hour)}: " + "; ".join(result.breaches)
        )
    return {"notes": list(result.notes), "enterprises": sorted({s.enterprise_id for s in stats})}


def record_delay(dag_id: str, hour_end: datetime) -> float:
    """The hour is verified: how long after its close, as the metric the deadline alarm watches."""
    return alerts.put_delay_metric(pipeline_config().settings, dag_id, hour_end, datetime.now(UTC))


def build_model(until: datetime) -> dict[str, Any]:
    """Nightly: train on the trailing hours, save the candidate; the gate decides promotion."""
    from trustpipe_cli import batch_cmd

    config = pipeline_config()
    result = batch_cmd.build(config.settings, until, config.model_history_hours, promote=False)
    return {
        "version": result.artifact.version,
        "promoted": result.promoted,
        "reason": result.reason,
        "metrics": result.artifact.metadata["metrics"],
    }


def promote_model(candidate: dict[str, Any]) -> str:
    """Move ``current`` to the candidate when the evaluation gate passed; fail (and page) otherwise."""
    from trustpipe.model import artifact as model_store

    if not candidate["promoted"]:
        raise model_store.ModelBuildError(
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
