"""What reaches the on-call engineer: failure notifications, the deadline, the delay metric."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trustpipe import metrics
from trustpipe.aws import AwsClients
from trustpipe_orchestration.config import pipeline_config

SNS_SUBJECT_MAX = 100
"""SNS rejects a Subject longer than 100 characters."""
PUT_METRIC_MAX = 1000
"""PutMetricData takes at most 1,000 data per call."""

FAILURE_SUBJECT = "trustpipe: {{ ti.dag_id }}.{{ ti.task_id }} failed"
FAILURE_MESSAGE = """\
{{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }}).

run:     {{ run_id }}
hour:    {{ data_interval_start }} to {{ data_interval_end }}
error:   {{ exception }}
log:     {{ ti.log_url }}
{%%- set base = var.json.get('trustpipe_pipeline', {}).get('runbook_base', '%(runbook_base)s') %%}
runbook: {{ base }}/{{ dag.dag_id | replace('_', '-') }}.md#{{ ti.task_id }}
"""
"""Rendered by the Amazon provider's SnsNotifier in the task's context when the task fails."""


def failure_notifier() -> Any:
    """The DAGs' ``on_failure_callback``: publishes to the on-call topic, templated at failure time."""
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    from trustpipe_orchestration.config import AWS_CONN_ID, DEFAULT_RUNBOOK_BASE

    return SnsNotifier(
        aws_conn_id=AWS_CONN_ID,
        target_arn="{{ var.json.trustpipe_settings.oncall_topic_arn }}",
        subject=FAILURE_SUBJECT,
        message=FAILURE_MESSAGE % {"runbook_base": DEFAULT_RUNBOOK_BASE},
    )


def put_delay_metric(aws: AwsClients, dag_id: str, hour_end: datetime, now: datetime) -> float:
    """Seconds from the hour's close to now, as the metric the deadline alarm watches."""
    delay, datum = _delay(dag_id, hour_end, now)
    put_metrics(aws, [datum], now)
    return delay


def _delay(dag_id: str, hour_end: datetime, now: datetime) -> tuple[float, dict[str, Any]]:
    delay = max(0.0, (now - hour_end).total_seconds())
    return delay, metrics.datum(metrics.HOURLY_DELAY, delay, Dag=dag_id)


def put_hour_metrics(
    aws: AwsClients, dag_id: str, hour_end: datetime, summary: dict[str, Any], now: datetime
) -> float:
    """The verified hour's figures (``checks.verify_manifest``'s summary) and its delay; the delay."""
    delay, delay_datum = _delay(dag_id, hour_end, now)
    data = [
        delay_datum,
        metrics.datum(metrics.RECORDS_IN, summary["records_in"], Dag=dag_id),
        metrics.datum(metrics.RECORDS_OUT, summary["records"], Dag=dag_id),
        metrics.datum(metrics.OBJECTS_SET_ASIDE, summary["set_aside"], Dag=dag_id),
    ]
    for enterprise, counts in sorted(summary["verdicts"].items()):
        for verdict, n in sorted(counts.items()):
            data.append(
                metrics.datum(metrics.VERDICTS, n, Dag=dag_id, Enterprise=enterprise, Verdict=verdict)
            )
    put_metrics(aws, data, now)
    return delay


def put_metrics(aws: AwsClients, data: list[dict[str, Any]], now: datetime) -> None:
    """PutMetricData in the pipeline's namespace, 1,000 data (CloudWatch's limit) per call."""
    client = aws.client("cloudwatch")
    for start in range(0, len(data), PUT_METRIC_MAX):
        batch = [{**d, "Timestamp": now} for d in data[start : start + PUT_METRIC_MAX]]
        client.put_metric_data(Namespace=metrics.PIPELINE, MetricData=batch)


def publish_oncall(aws: AwsClients, subject: str, message: str) -> str:
    topic = aws.settings.oncall_topic_arn
    assert topic  # PipelineConfig refuses settings without one
    response = aws.client("sns").publish(TopicArn=topic, Subject=subject[:SNS_SUBJECT_MAX], Message=message)
    return str(response["MessageId"])


def deadline_missed(context: dict[str, Any], dag_id: str, due_minutes: int) -> None:
    """Deadline Alert callback: the hour's output is late. Pages, and pushes the delay metric so
    the CloudWatch alarm sees the miss even while the run is still going."""
    config = pipeline_config()
    aws = AwsClients(config.settings)
    # The scheduler sends the run as its API model dumped to JSON: timestamps are ISO strings.
    run = context.get("dag_run") or {}
    run_id = run.get("dag_run_id") or run.get("run_id") or "?"
    hour_end = _timestamp(run.get("data_interval_end"))
    delay = put_delay_metric(aws, dag_id, hour_end, datetime.now(UTC)) if hour_end else None
    late = f"{delay / 60:.0f} min after the hour closed" if delay is not None else "late"
    publish_oncall(
        aws,
        f"trustpipe: {dag_id} missed its {due_minutes}-minute deadline",
        f"{dag_id} run {run_id}: the hour's output is not verified {late} "
        f"(due {due_minutes} min after the hour closes).\n"
        f"runbook: {config.runbook('hourly-deadline-missed')}\n",
    )


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None
