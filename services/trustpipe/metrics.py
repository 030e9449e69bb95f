"""Every CloudWatch metric trustpipe emits, named once: the code emits these, the alarms and the
dashboard (``infra/modules``) read these, and a test holds the two sets equal.

One scheme: namespace ``trustpipe/<part>`` (workers, pipeline, registry); the first dimension
names who emitted it (``Service`` for a worker or the registry, ``Dag`` for a DAG's task), and
any further dimension splits the figure (``Enterprise``, ``Verdict``, ``Model``, ``Status``).

Standard library only: the registry's Lambda zip carries this module.
"""

from __future__ import annotations

from dataclasses import dataclass

WORKERS = "trustpipe/workers"
PIPELINE = "trustpipe/pipeline"
REGISTRY = "trustpipe/registry"


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[str, ...]
    unit: str
    """A CloudWatch unit name (``Count``, ``Seconds``, ``Milliseconds``, ``None``)."""
    emitted_by: str
    meaning: str


# The long-running workers (EMF lines the CloudWatch agent ships): importer, scorer, alerter.
PROCESSED = Metric(
    WORKERS,
    "Processed",
    ("Service",),
    "Count",
    "every worker, per batch",
    "records handled, set-aside ones excluded (the S3 importer counts objects)",
)
ERRORS = Metric(
    WORKERS,
    "Errors",
    ("Service",),
    "Count",
    "every worker, per batch",
    "records (S3 importer: objects) set aside: undecodable, unknown schema, unknown enterprise...",
)
HEARTBEAT = Metric(
    WORKERS,
    "Heartbeat",
    ("Service",),
    "Count",
    "every worker, at most every 30 s",
    "the worker is alive and polling, busy or idle: none at all means none runs",
)
LAG = Metric(
    WORKERS,
    "LagSeconds",
    ("Service",),
    "Seconds",
    "every worker, per batch",
    "how far behind its input a worker is: an S3 event's age when imported, or the "
    "stream consumer's distance from the shard's tip",
)
COUNTERS_DEGRADED = Metric(
    WORKERS,
    "CountersDegraded",
    ("Service",),
    "Count",
    "the scorer, per batch",
    "messages scored with the model's frozen snapshot because the counters' Redis did not answer",
)

# The DAGs' tasks (PutMetricData from the Airflow worker).
HOURLY_DELAY = Metric(
    PIPELINE,
    "HourlyOutputDelaySeconds",
    ("Dag",),
    "Seconds",
    "message_scoring_hourly: record_hour, and its Deadline Alert",
    "seconds from an hour's close to its output verified (or to the deadline miss)",
)
RECORDS_IN = Metric(
    PIPELINE,
    "RecordsIn",
    ("Dag",),
    "Count",
    "message_scoring_hourly: record_hour",
    "landed records the hour's scoring job read",
)
RECORDS_OUT = Metric(
    PIPELINE,
    "RecordsOut",
    ("Dag",),
    "Count",
    "message_scoring_hourly: record_hour",
    "scored records the hour published (and the importers stored)",
)
OBJECTS_SET_ASIDE = Metric(
    PIPELINE,
    "ObjectsSetAside",
    ("Dag",),
    "Count",
    "message_scoring_hourly: record_hour",
    "landed objects the job set aside (unreadable, unknown schema)",
)
VERDICTS = Metric(
    PIPELINE,
    "Verdicts",
    ("Dag", "Enterprise", "Verdict"),
    "Count",
    "message_scoring_hourly: record_hour",
    "the hour's verdicts per enterprise",
)
LATE_OBJECTS = Metric(
    PIPELINE,
    "LateLandingObjects",
    ("Dag",),
    "Count",
    "message_scoring_hourly: find_late_hours",
    "landing objects found after their hour was scored (that run scores those hours again)",
)
LATE_MINUTES = Metric(
    PIPELINE,
    "LateLandingMinutes",
    ("Dag",),
    "None",
    "message_scoring_hourly: find_late_hours, when some were late",
    "how long after its hour closed the latest late landing object landed",
)
SEARCH_DRIFT = Metric(
    PIPELINE,
    "SearchDrift",
    ("Dag",),
    "Count",
    "message_scoring_hourly: reconcile_search",
    "documents the search index holds for the hour minus the store's rows, in absolute value "
    "summed over its enterprises (0: they agree); each enterprise's own figure is in the task's log",
)
HOLDOUT_AUC = Metric(
    PIPELINE,
    "HoldoutAuc",
    ("Dag", "Model"),
    "None",
    "model_build_nightly: build_candidate",
    "holdout AUC of the candidate and of the current model (Model=candidate|current)",
)
COUNTERS_DRIFT = Metric(
    PIPELINE,
    "CountersDrift",
    ("Dag",),
    "None",
    "model_build_nightly: counters_drift",
    "the worst relative difference between a sampled online seen tile of yesterday and the "
    "store's exact count of the stream's messages for it (0: none)",
)

# The schema registry's Lambda (EMF through Powertools Metrics).
REQUESTS = Metric(
    REGISTRY,
    "Requests",
    ("Service", "Status"),
    "Count",
    "the registry, per request",
    "requests answered, by status class (Status=2xx|4xx|5xx)",
)
LATENCY = Metric(
    REGISTRY,
    "LatencyMs",
    ("Service",),
    "Milliseconds",
    "the registry, per request",
    "time the registry took to answer (its handler, without API Gateway)",
)

ALL: tuple[Metric, ...] = (
    PROCESSED, ERRORS, HEARTBEAT, LAG, COUNTERS_DEGRADED,
    HOURLY_DELAY, RECORDS_IN, RECORDS_OUT, OBJECTS_SET_ASIDE, VERDICTS, LATE_OBJECTS, LATE_MINUTES,
    SEARCH_DRIFT, HOLDOUT_AUC, COUNTERS_DRIFT,
    REQUESTS, LATENCY,
)  # fmt: skip

WORKER_SERVICES = ("scorer", "importer", "alerter")
"""The values of ``Service`` in ``trustpipe/workers`` (the KCL groups and the S3 importer)."""
SEARCH_SERVICE = "indexer"
"""The indexer's ``Service`` (``trustpipe.workers.SEARCH_WORKERS``): the stream consumer and the
queue consumer alike."""
REGISTRY_SERVICE = "schema-registry"


def datum(metric: Metric, value: float, **dimensions: str) -> dict[str, object]:
    """One PutMetricData datum of ``metric``; refuses dimensions the catalog does not name."""
    if tuple(dimensions) != metric.dimensions:
        raise ValueError(f"{metric.name} takes dimensions {metric.dimensions}, got {tuple(dimensions)}")
    return {
        "MetricName": metric.name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Value": float(value),
        "Unit": metric.unit,
    }
