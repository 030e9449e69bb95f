"""Nightly model build (train the trust model on the trailing labelled hours, gate, promote) and
the store's retention.

build_candidate (Spark MLlib; the candidate is saved under its version, `current` untouched) ->
promote (moves `current` only if the candidate beat the current model on the same holdout, or
cleared the AUC floor when there is none; otherwise the task fails and pages on-call).
Beside it, store_retention holds the web app's store to its window: the day partitions of the days
ahead made, the days past the pipeline Variable's `store_retention_days` (default 90) dropped;
and counters_drift compares a sample of yesterday's online counters in Redis with the store's
exact counts (the CountersDrift metric; nothing when the settings name no Redis).
Runbook: docs/runbooks/model-build-nightly.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task

from trustpipe_orchestration.alerts import failure_notifier

DAG_ID = "model_build_nightly"

with DAG(
    dag_id=DAG_ID,
    description="Train, evaluate and promote the trust model",
    schedule="30 2 * * *",
    start_date=datetime(2026, 11, 26, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args={
        "owner": "trustpipe",
        "retries": 1,
        "retry_delay": timedelta(minutes=10),
        "on_failure_callback": failure_notifier(),
    },
    tags=["trustpipe", "model"],
    doc_md=__doc__,
) as dag:

    @task
    def build_candidate(data_interval_end: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_end
        hour = data_interval_end.replace(minute=0, second=0, microsecond=0)
        return tasks.build_model(DAG_ID, hour)

    @task(retries=0)
    def promote(candidate: dict[str, object]) -> str:
        from trustpipe_orchestration import tasks

        return tasks.promote_model(candidate, DAG_ID)

    @task
    def store_retention() -> dict[str, object]:
        from trustpipe_orchestration import tasks

        return tasks.store_retention()

    @task
    def counters_drift(data_interval_end: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_end
        return tasks.counters_drift(DAG_ID, (data_interval_end - timedelta(days=1)).date())

    promote(build_candidate())
    store_retention()
    counters_drift()
