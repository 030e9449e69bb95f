"""CloudWatch's alarm rule as the local stack evaluates it: statistic, period, metric math, M of N,
missing data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustpipe import telemetry
from trustpipe_emulation import alarms

NOW = datetime(2026, 12, 2, 10, 5, 30, tzinfo=UTC)
MINUTE = [datetime(2026, 12, 2, 10, m, tzinfo=UTC) for m in range(6)]


def error_rate_alarm(**over: Any) -> dict[str, Any]:
    """The monitoring module's worker error-rate alarm, as DescribeAlarms returns it."""

    def stat(query_id: str, name: str) -> dict[str, Any]:
        metric = {
            "Namespace": "trustpipe/workers",
            "MetricName": name,
            "Dimensions": [{"Name": "Service", "Value": "importer"}],
        }
        return {
            "Id": query_id,
            "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
            "ReturnData": False,
        }

    return {
        "AlarmName": "t-importer-error-rate",
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "Threshold": 0.01,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "Metrics": [
            {"Id": "rate", "Expression": "errors / MAX([processed + errors, 1])", "ReturnData": True},
            stat("errors", "Errors"),
            stat("processed", "Processed"),
        ],
        **over,
    }


def table(data: Mapping[tuple[str, datetime], float]) -> alarms.Fetch:
    def fetch(q: alarms.Query) -> alarms.Series:
        return {t: v for (n, t), v in data.items() if n == q.name and q.start <= t < q.end}

    return fetch


def test_an_error_rate_above_threshold_in_3_of_5_minutes_fires_and_in_2_does_not() -> None:
    alarm = error_rate_alarm()
    data = {("Processed", t): 100.0 for t in MINUTE[:5]}
    data |= {("Errors", MINUTE[1]): 5.0, ("Errors", MINUTE[2]): 0.0, ("Errors", MINUTE[3]): 2.0}
    two = alarms.evaluate(alarm, table(data), NOW)
    assert two.state == "OK" and two.breaching == 2
    assert [round(v, 4) for v in two.crossed] == [round(5 / 105, 4), round(2 / 102, 4)]
    data[("Errors", MINUTE[4])] = 9.0
    three = alarms.evaluate(alarm, table(data), NOW)
    assert three.state == "ALARM" and three.breaching == 3
    # the evaluated periods are the last five whole minutes before now
    assert [t for t, _ in three.datapoints] == MINUTE[:5]


def test_missing_data_pages_only_when_the_alarm_says_breaching() -> None:
    silent = {
        "AlarmName": "t-importer-silent",
        "Namespace": "trustpipe/workers",
        "MetricName": "Heartbeat",
        "Dimensions": [{"Name": "Service", "Value": "importer"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
    }
    alive = {("Heartbeat", t): 2.0 for t in MINUTE[:5]}
    assert alarms.evaluate(silent, table(alive), NOW).state == "OK"
    died = {("Heartbeat", t): 2.0 for t in MINUTE[:2]}  # nothing for the last three minutes
    assert alarms.evaluate(silent, table(died), NOW).state == "ALARM"
    assert alarms.evaluate({**silent, "TreatMissingData": "notBreaching"}, table(died), NOW).state == "OK"
    assert (
        alarms.evaluate({**silent, "TreatMissingData": "missing"}, table({}), NOW).state
        == "INSUFFICIENT_DATA"
    )


def test_a_worker_emf_file_is_the_alarms_data(tmp_path: Path) -> None:
    # GIVEN a worker's EMF lines: a minute of batches with 3% of records set aside
    worker = telemetry.WorkerMetrics("importer", tmp_path / "importer-metrics.log")
    worker.batch(processed=97, errors=3)
    worker.batch(processed=100, errors=0, lag_seconds=4.0)
    fetch = alarms.emf_fetch([worker.path])
    # WHEN the error-rate alarm is evaluated a minute later, with 1 of 1 datapoints to alarm
    now = datetime.now(UTC) + timedelta(minutes=1)
    evaluation = alarms.evaluate(error_rate_alarm(DatapointsToAlarm=1), fetch, now)
    # THEN the rate it computes is the file's: 3 of 200 (3 of 100 if the minute turned between
    # the two batches)
    assert evaluation.state == "ALARM" and evaluation.crossed[0] in (
        pytest.approx(0.015),
        pytest.approx(0.03),
    )
    # and a metric of another service or name is not read
    start, end = now - timedelta(minutes=5), now
    assert (
        fetch(alarms.Query("trustpipe/workers", "Errors", {"Service": "scorer"}, "Sum", 60, start, end)) == {}
    )
    lag = fetch(
        alarms.Query("trustpipe/workers", "LagSeconds", {"Service": "importer"}, "Maximum", 60, start, end)
    )
    assert list(lag.values()) == [4.0]


def test_metric_math_it_does_not_know_is_refused_by_name() -> None:
    alarm = error_rate_alarm()
    alarm["Metrics"][0]["Expression"] = "RATE(errors)"
    data = {("Errors", MINUTE[1]): 1.0, ("Processed", MINUTE[1]): 1.0}
    with pytest.raises(alarms.UnsupportedAlarmError, match="t-importer-error-rate: metric math 'RATE"):
        alarms.evaluate(alarm, table(data), NOW)
