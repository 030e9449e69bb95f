"""CloudWatch's alarm evaluation on the local stack, where the moto server stores alarms but never
evaluates them: an alarm as ``DescribeAlarms`` returns it, its metrics' datapoints from what the
code emitted (the workers' EMF files, or the moto server's CloudWatch for PutMetricData), and the
alarm's own rule: its statistic, period, metric math, threshold, comparison, M of N datapoints and
missing-data treatment.

Metric math covers what the monitoring module uses: ids, numbers, ``+ - * /`` and ``MAX([...])``
/ ``MIN([...])`` of scalars. A datapoint whose inputs are missing is missing.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trustpipe.errors import UserError
from trustpipe.telemetry import emf_values, read_emf

Series = Mapping[datetime, float]
"""Datapoints by the start of their period."""


@dataclass(frozen=True)
class Query:
    """One metric's datapoints an alarm reads: ``statistic`` per ``period`` seconds in [start, end)."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    statistic: str
    period: int
    start: datetime
    end: datetime


Fetch = Callable[[Query], Series]

_COMPARE = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCTIONS = {"MAX": max, "MIN": min}


class UnsupportedAlarmError(UserError):
    """The alarm uses a statistic or metric math this evaluator does not know."""


@dataclass(frozen=True)
class Evaluation:
    alarm: str
    state: str
    """ALARM, OK or INSUFFICIENT_DATA, as CloudWatch would set it."""
    datapoints: tuple[tuple[datetime, float | None], ...]
    """The evaluated periods, oldest first: the value the alarm compares (None: missing)."""
    breaching: int
    """Periods counted as breaching (missing ones included when missing data is ``breaching``)."""
    crossed: tuple[float, ...]
    """The present values on the alarm's side of its threshold."""


def evaluate(alarm: Mapping[str, Any], fetch: Fetch, now: datetime) -> Evaluation:
    """The alarm's state at ``now``, from the last ``EvaluationPeriods`` whole periods."""
    period = _period(alarm)
    last_end = _floor(now, period)
    starts = [last_end - timedelta(seconds=period * n) for n in range(alarm["EvaluationPeriods"], 0, -1)]
    values = _values(alarm, fetch, period, starts[0], last_end)
    compare = _COMPARE[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    missing = alarm.get("TreatMissingData", "missing")
    points = tuple((start, values.get(start)) for start in starts)
    crossed = tuple(v for _, v in points if v is not None and compare(v, threshold))
    breaching = len(crossed) + (sum(1 for _, v in points if v is None) if missing == "breaching" else 0)
    present = sum(1 for _, v in points if v is not None)
    needed = alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"]
    if breaching >= needed:
        state = "ALARM"
    elif present == 0 and missing in ("missing", "ignore"):
        state = "INSUFFICIENT_DATA"
    else:
        state = "OK"
    return Evaluation(alarm["AlarmName"], state, points, breaching, crossed)


def _period(alarm: Mapping[str, Any]) -> int:
    if alarm.get("Period"):
        return int(alarm["Period"])
    periods = {q["MetricStat"]["Period"] for q in alarm["Metrics"] if "MetricStat" in q}
    if len(periods) != 1:
        raise UnsupportedAlarmError(f"{alarm['AlarmName']}: metrics with periods {sorted(periods)}")
    return int(periods.pop())


def describe(cloudwatch: Any, name: str) -> dict[str, Any]:
    """Alarm ``name`` as ``DescribeAlarms`` returns it."""
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm  # type: ignore[no-any-return]


def metric_query(alarm: Mapping[str, Any], start: datetime, end: datetime) -> Query:
    """What a single-metric alarm reads in [start, end): its metric, dimensions, statistic, period."""
    return Query(
        alarm["Namespace"],
        alarm["MetricName"],
        dimensions(alarm),
        alarm["Statistic"],
        _period(alarm),
        start,
        end,
    )


def dimensions(metric: Mapping[str, Any]) -> dict[str, str]:
    """A metric's (or a single-metric alarm's) dimensions as a mapping."""
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


def _values(alarm: Mapping[str, Any], fetch: Fetch, period: int, start: datetime, end: datetime) -> Series:
    if alarm.get("MetricName"):
        return fetch(metric_query(alarm, start, end))
    series: dict[str, Series] = {}
    expression = None
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            dims = dimensions(metric)
            series[query["Id"]] = fetch(
                Query(metric["Namespace"], metric["MetricName"], dims, stat["Stat"], period, start, end)
            )
        if query.get("ReturnData", True) and "Expression" in query:
            expression = query["Expression"]
    if expression is None:
        (only,) = series.values()
        return only
    tree = ast.parse(expression, mode="eval").body
    out = {}
    for t in sorted({t for s in series.values() for t in s}):
        value = _eval(tree, {k: s.get(t) for k, s in series.items()}, alarm["AlarmName"])
        if value is not None:
            out[t] = value
    return out


def _eval(node: ast.AST, env: Mapping[str, float | None], name: str) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, env, name), _eval(node.right, env, name)
        return None if left is None or right is None else float(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List)
    ):
        items = [_eval(e, env, name) for e in node.args[0].elts]
        present = [i for i in items if i is not None]
        return float(_FUNCTIONS[node.func.id](present)) if len(present) == len(items) else None
    raise UnsupportedAlarmError(f"{name}: metric math {ast.unparse(node)!r} is not supported here")


def _floor(t: datetime, period: int) -> datetime:
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, UTC)


def _aggregate(values: Iterable[float], stat: str) -> float:
    items = list(values)
    if stat == "Sum":
        return sum(items)
    if stat == "Maximum":
        return max(items)
    if stat == "Minimum":
        return min(items)
    if stat == "SampleCount":
        return float(len(items))
    if stat == "Average":
        return sum(items) / len(items)
    raise UnsupportedAlarmError(f"statistic {stat} is not supported here")


def emf_fetch(paths: Iterable[Path]) -> Fetch:
    """Datapoints from EMF files (the workers' metrics, before the CloudWatch agent ships them)."""
    docs = list(read_emf(paths))

    def fetch(q: Query) -> Series:
        buckets: dict[datetime, list[float]] = {}
        for doc in docs:
            meta = doc.get("_aws", {})
            for directive in meta.get("CloudWatchMetrics", []):
                if directive["Namespace"] != q.namespace or q.name not in {
                    m["Name"] for m in directive["Metrics"]
                }:
                    continue
                if not any(set(d) == set(q.dimensions) for d in directive["Dimensions"]):
                    continue
                if any(doc.get(k) != v for k, v in q.dimensions.items()):
                    continue
                at = _floor(datetime.fromtimestamp(meta["Timestamp"] / 1000, UTC), q.period)
                if q.start <= at < q.end:
                    buckets.setdefault(at, []).extend(emf_values(doc, q.name))
        return {t: _aggregate(v, q.statistic) for t, v in buckets.items()}

    return fetch


def cloudwatch_fetch(cloudwatch: Any) -> Fetch:
    """Datapoints from CloudWatch's GetMetricStatistics (what PutMetricData stored)."""

    def fetch(q: Query) -> Series:
        points = cloudwatch.get_metric_statistics(
            Namespace=q.namespace,
            MetricName=q.name,
            Dimensions=[{"Name": k, "Value": v} for k, v in q.dimensions.items()],
            StartTime=q.start,
            EndTime=q.end,
            Period=q.period,
            Statistics=[q.statistic],
        )["Datapoints"]
        return {_floor(p["Timestamp"], q.period): float(p[q.statistic]) for p in points}

    return fetch
