"""Hourly message scoring: one run per hour of landed sensor data.

wait for the hour's landing files (deferrable) -> wait for a current model (a new deployment has
none until the nightly build promotes one) -> find earlier hours that landed more after they were
scored (late landing objects: measured, and those hours scored again beside this one) -> score
(Spark in this worker, or a transient EMR cluster that is always torn down) -> verify the
manifests (counts in = counts out) -> wait for the importers -> rows and stats in PostgreSQL ->
data-quality gate -> the hour's metrics, and its report (pictures, linked from the write_report
task as "Hour report").

Which runner is used is configuration (Variable ``trustpipe_pipeline``, ``mode``), read when the
branch task runs; this file only declares. Runbook: docs/runbooks/message-scoring-hourly.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.amazon.aws.operators.emr import (
    EmrAddStepsOperator,
    EmrCreateJobFlowOperator,
    EmrTerminateJobFlowOperator,
)
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.providers.common.sql.operators.sql import SQLValueCheckOperator
from airflow.sdk import DAG, DeadlineAlert, DeadlineReference, SyncCallback, TriggerRule, task
from airflow.timetables.interval import CronDataIntervalTimetable

from trustpipe_orchestration.alerts import failure_notifier
from trustpipe_orchestration.config import AWS_CONN_ID, DB_CONN_ID, HOURLY_DAG, hourly_start
from trustpipe_orchestration.hour import ROWS_SQL, STATS_SQL
from trustpipe_orchestration.landing_wait import LandingCompleteSensor
from trustpipe_orchestration.report_link import HourReportOperator

DAG_ID = HOURLY_DAG
DUE_AFTER_CLOSE = timedelta(minutes=15)
"""An hour's output is due 15 minutes after the hour closes."""
VERIFIED_RECORDS = "{{ ti.xcom_pull(task_ids='verify_output')['records'] }}"
HOUR_LITERAL = "'{{ data_interval_start.strftime('%Y-%m-%dT%H') }}'"
ROWS_OF_HOUR = ROWS_SQL.format(hour=HOUR_LITERAL)
STATS_OF_HOUR = STATS_SQL.format(hour=HOUR_LITERAL)

with DAG(
    dag_id=DAG_ID,
    description="Score each hour of sensor data and verify it reached PostgreSQL",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=hourly_start(),
    catchup=True,
    max_active_runs=2,
    dagrun_timeout=timedelta(hours=6),
    default_args={
        "owner": "trustpipe",
        "retries": 1,
        "retry_delay": timedelta(minutes=3),
        "on_failure_callback": failure_notifier(),
    },
    deadline=DeadlineAlert(
        # The logical date of a scheduled run is the hour's start: due an hour and 15 minutes later.
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(hours=1) + DUE_AFTER_CLOSE,
        callback=SyncCallback(
            "trustpipe_orchestration.alerts.deadline_missed",
            kwargs={"dag_id": DAG_ID, "due_minutes": int(DUE_AFTER_CLOSE.total_seconds() // 60)},
        ),
    ),
    tags=["trustpipe", "batch"],
    doc_md=__doc__,
) as dag:
    wait_for_landing = LandingCompleteSensor(
        task_id="wait_for_landing",
        deferrable=True,
        poke_interval=60,
        timeout=int(timedelta(hours=3).total_seconds()),
    )

    @task.sensor(poke_interval=300, timeout=int(timedelta(hours=5).total_seconds()), mode="reschedule")
    def wait_for_model() -> bool:
        """No current model yet (a new deployment): the hour waits here, and its log says to
        trigger model_build_nightly once labelled history has landed."""
        from trustpipe_orchestration import tasks

        return tasks.model_ready()

    @task
    def find_late_hours(data_interval_start: datetime | None = None) -> list[str]:
        """Earlier hours with landing objects their manifests do not account for (docs/runbooks/
        late-landing.md): scored again by this run's runner."""
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.find_late_hours(DAG_ID, data_interval_start)

    @task.branch
    def choose_runner() -> list[str] | str:
        from trustpipe_orchestration import tasks

        return tasks.choose_runner(
            "score_local", ["emr_cluster_spec", "emr_score_steps", "emr_terminate_cluster"]
        )

    @task
    def score_local(late_hours: list[str], data_interval_start: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.score_local(data_interval_start, late_hours)

    @task
    def emr_cluster_spec(data_interval_start: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.emr_cluster_spec(DAG_ID, data_interval_start)

    @task
    def emr_score_steps(
        late_hours: list[str], data_interval_start: datetime | None = None
    ) -> list[dict[str, object]]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.emr_score_steps(data_interval_start, late_hours)

    late = find_late_hours()
    spec = emr_cluster_spec()
    steps = emr_score_steps(late)
    create_cluster = EmrCreateJobFlowOperator(
        task_id="emr_create_cluster",
        aws_conn_id=AWS_CONN_ID,
        emr_conn_id=None,  # the spec task returns the whole RunJobFlow payload
        job_flow_overrides=spec,
    )
    add_steps = EmrAddStepsOperator(
        task_id="emr_add_steps",
        aws_conn_id=AWS_CONN_ID,
        job_flow_id=create_cluster.output,
        steps=steps,
    )
    watch_step = EmrStepSensor(
        task_id="emr_watch_step",
        aws_conn_id=AWS_CONN_ID,
        job_flow_id=create_cluster.output,
        # the hour's own step, the last: steps run one after another, the late hours' first
        step_id="{{ ti.xcom_pull(task_ids='emr_add_steps')[-1] }}",
        deferrable=True,
        poke_interval=60,
        max_attempts=90,
        retries=0,
    )
    terminate_cluster = EmrTerminateJobFlowOperator(
        task_id="emr_terminate_cluster",
        aws_conn_id=AWS_CONN_ID,
        job_flow_id=create_cluster.output,
        # Teardown: runs whatever happened upstream, so no cluster is ever left running.
        trigger_rule=TriggerRule.ALL_DONE,
    )

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, retries=0)
    def verify_output(data_interval_start: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.verify_output(data_interval_start)

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, retries=0)
    def verify_late(late_hours: list[str]) -> list[dict[str, object]]:
        from trustpipe_orchestration import tasks

        return tasks.verify_late(late_hours)

    @task.sensor(poke_interval=15, timeout=int(timedelta(minutes=30).total_seconds()), mode="reschedule")
    def wait_for_import(summary: dict[str, object], late_summaries: list[dict[str, object]]) -> bool:
        from trustpipe_orchestration import tasks

        return tasks.imported(summary, *late_summaries)

    @task(retries=0)
    def reconcile_late(late_summaries: list[dict[str, object]]) -> list[int]:
        from trustpipe_orchestration import tasks

        return tasks.reconcile_late(late_summaries)

    check_rows = SQLValueCheckOperator(
        task_id="check_rows_imported",
        conn_id=DB_CONN_ID,
        sql=ROWS_OF_HOUR,
        pass_value=VERIFIED_RECORDS,
        retries=0,
    )
    check_stats = SQLValueCheckOperator(
        task_id="check_stats_imported",
        conn_id=DB_CONN_ID,
        sql=STATS_OF_HOUR,
        pass_value=VERIFIED_RECORDS,
        retries=0,
    )

    @task(retries=0)
    def quality_gate(data_interval_start: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.quality_gate(data_interval_start)

    @task
    def record_hour(summary: dict[str, object], data_interval_end: datetime | None = None) -> float:
        from trustpipe_orchestration import tasks

        assert data_interval_end
        return tasks.record_hour(DAG_ID, data_interval_end, summary)

    @task
    def reconcile_search(data_interval_start: datetime | None = None) -> dict[str, object]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.reconcile_search(DAG_ID, data_interval_start)

    def write_report(
        summary: dict[str, object], data_interval_start: datetime | None = None
    ) -> dict[str, str]:
        from trustpipe_orchestration import tasks

        assert data_interval_start
        return tasks.write_report(data_interval_start, summary)

    runner = choose_runner()
    local = score_local(late)
    verified = verify_output()
    verified_late = verify_late(late)
    wait_for_landing >> wait_for_model() >> late >> runner >> [local, spec, steps, terminate_cluster]
    spec >> create_cluster >> add_steps >> watch_step >> terminate_cluster
    steps >> add_steps
    [local, watch_step] >> verified
    [local, watch_step] >> verified_late
    imported = wait_for_import(verified, verified_late)
    gate = quality_gate()
    imported >> [check_rows, check_stats] >> gate >> record_hour(verified)
    imported >> reconcile_late(verified_late)
    # the index against the store once the hour's rows are in it; it pages through its metric
    [check_rows, check_stats] >> reconcile_search()
    # the report draws the imported hour beside the gate, not after it: a breach is worth a look
    report = HourReportOperator(
        task_id="write_report", python_callable=write_report, op_kwargs={"summary": verified}, retries=0
    )
    [check_rows, check_stats] >> report
