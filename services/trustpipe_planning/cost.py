"""What a month of trustpipe costs on AWS, by component, from the deployed topology (read from the
Terraform), a message volume, and the dated list prices in ``prices.json``.

Figures are estimates from list prices and stated assumptions (each a named constant below), not
a bill: they answer "what does an idle stack cost", "what does one hourly run cost", "hourly or
daily batch", "transient EMR or a long-running cluster" and "ASG or Lambda for the stream stages".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trustpipe.errors import UserError
from trustpipe_planning.deployed import pipeline_value, resolve

PRICES = Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 30

MESSAGE_BYTES = 1_200
"""An email-metadata record in Avro (v3 sensors, with URLs and attachments)."""
SCORED_BYTES = 400
PEAK_TO_MEAN = 3.0
"""Business hours: the busiest second carries three times the day's mean rate."""
KINESIS_RECORDS_PER_SHARD_S = 1_000
"""Kinesis: each shard takes 1,000 records/s (or 1 MiB/s) of writes."""
SCORER_RECORDS_PER_CORE_S = 4_000
"""The Python scorer's hot path per core (decode, features, score, encode), conservatively."""
EMR_BOOT_MINUTES = 10
"""A transient cluster's provisioning to RUNNING (spot core nodes, the wheel installed)."""
EMR_RUN_OVERHEAD_MINUTES = 8
"""spark-submit's start, the step's staging and publishing, and the teardown, per run."""
EMR_ROWS_PER_S = 150_000
"""The scoring job on two r7g.2xlarge core nodes (16 cores; P3 measures about 35k rows/s on 2)."""
EMR_PRIMARY, EMR_CORE, EMR_CORE_COUNT = "m7g.xlarge", "r7g.2xlarge", 2
RDS_STORAGE_GB = 100
RETENTION_DAYS = 30
"""Landing and scored objects before the lifecycle rules move or expire them."""
LAMBDA_BATCH, LAMBDA_MS_PER_BATCH, LAMBDA_GB = 200, 250, 0.5
"""The stream stages as Lambda functions on Kinesis: records per invocation, its duration, memory."""
ALARMS = 16
"""The pipeline's alarms without the search domain's (SEARCH_ALARMS, when the env has one)."""
SEARCH_ALARMS = 7
SEARCH = "OpenSearch domain (data nodes + gp3 storage)"
TENANT_COUNTS = (10, 1_000)
"""Deployments the stream identity design is costed at (issue 32: 10 and 1,000 enterprises)."""
SENSOR_BATCHES_PER_S = 1
"""Each enterprise's sensors post one batch a second to the front door (the simulator's cadence)."""
STAGE_RATES = (10, 100, 1_000)
"""Message rates (a second, steady) the stream stages' two forms are compared at (issue 38)."""
STAGE_INVOKE_MS = 40
"""A stage's invocation apart from its records: the event decoded, the model pointer or a
connection checked, the batch's one put or commit (billed per ms)."""
STAGE_RECORD_MS = {"scorer": 0.5, "stream-importer": 0.8, "alerter": 2.0, "indexer": 0.8}
"""Per record at one vCPU: the scorer's hot path (SCORER_RECORDS_PER_CORE_S, doubled for Lambda's
smaller share of a core), the importer's row of a batched upsert, the alerter's ledger write and
send (only actionable verdicts reach it), the indexer's document in a bulk request (the importer's
row's cost: one decode, one serialised line, a share of one round trip)."""
ACTIONABLE_SHARE = 0.2
"""Of the messages, the QUARANTINE and LABEL verdicts the imported stream carries to the alerter."""
LAMBDA_POLLS_PER_SHARD_S = 1
"""The event source mapping polls each shard once a second (standard iterator)."""
LAMBDA_FULL_VCPU_MB = 1769
"""Lambda gives a function one full vCPU at 1,769 MB, proportionally less below."""
FRONTDOOR_LAMBDA_MS, FRONTDOOR_LAMBDA_GB = 50, 0.25
"""The front door's Lambda per batch: check the caller, frame and PutRecords (billed per ms), at
256 MB."""
REVIEW = "review API (HTTP API, Lambda, Cognito)"
REVIEW_ALARMS = 5
"""The review module's alarms (5xx, 4xx, p99 latency, the function's errors and throttles)."""
REVIEWERS = 200
"""Monthly active users of the review API the estimate states: a security analyst or two at each
of about a hundred enterprises."""
REVIEW_REQUESTS_PER_REVIEWER_DAY = 400
"""A reviewer's working day: the quarantine list, searches, a message's detail and reasons, the
aggregates, decisions (the page polls nothing)."""
REVIEW_WORKING_DAYS = 22
REVIEW_LAMBDA_MS = 120
"""A review request's function time: one search or update on the domain, a row in PostgreSQL, a
send on the action queue for a release (billed per ms)."""
REVIEWER_COUNTS = (REVIEWERS, 50_000)
"""Monthly active reviewers the review API is shown at: the stated usage, and past the pool's free
10,000 into its first paid tier."""


@dataclass
class Estimate:
    messages_per_day: int
    components: dict[str, float] = field(default_factory=dict)
    alternatives: dict[str, float] = field(default_factory=dict)
    tenancy: dict[str, dict[str, float]] = field(default_factory=dict)
    """The stream path's identity per tenant count: the front door against a stream per enterprise."""
    stages: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """Each stream stage's month as an ASG and as a Lambda function, per message rate."""
    review: dict[str, dict[str, float]] = field(default_factory=dict)
    """The review API's month by part (requests, function, user pool), per count of reviewers."""
    per_hourly_run: float = 0.0
    assumptions: dict[str, Any] = field(default_factory=dict)

    @property
    def monthly(self) -> float:
        return sum(self.components.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages_per_day": self.messages_per_day,
            "monthly_total": round(self.monthly, 2),
            "components": {k: round(v, 2) for k, v in self.components.items()},
            "alternatives": {k: round(v, 2) for k, v in self.alternatives.items()},
            "tenancy": {n: {k: round(v, 2) for k, v in d.items()} for n, d in self.tenancy.items()},
            "stages": {
                rate: {stage: {form: round(v, 2) for form, v in f.items()} for stage, f in s.items()}
                for rate, s in self.stages.items()
            },
            "review": {n: {k: round(v, 2) for k, v in d.items()} for n, d in self.review.items()},
            "per_hourly_run": round(self.per_hourly_run, 4),
            "assumptions": self.assumptions,
        }


class PriceTable(dict[str, float]):
    """One table of ``prices.json`` (instance type -> USD an hour, say): a type the Terraform
    names and the table lacks is one clear error, naming where to read its price."""

    def __init__(self, name: str, prices: dict[str, float], recorded: str, source: str) -> None:
        super().__init__(prices)
        self.name, self.recorded, self.source = name, recorded, source

    def __missing__(self, key: str) -> float:
        raise UserError(
            f"prices.json has no {self.name} price for {key!r} (its prices were recorded on "
            f"{self.recorded}): add the us-east-1 on-demand list price from {self.source}"
        )


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    sources: dict[str, str] = data.get("sources", {})
    return {
        name: (
            PriceTable(name, table, data["recorded"], _source(sources, name))
            if isinstance(table, dict) and name != "sources"
            else table
        )
        for name, table in data.items()
    }


def _source(sources: dict[str, str], table: str) -> str:
    """The pricing page of the service a table's name begins with (``rds_hour``: rds)."""
    service = next((s for s in sources if table.startswith(s)), None)
    return sources[service] if service else "the service's AWS pricing page"


def _emr_cluster_hour(p: dict[str, Any]) -> float:
    """One hour of the cluster: primary on demand, core nodes on spot, EMR's fee on each."""
    primary = p["ec2_hour"][EMR_PRIMARY] + p["emr_fee_hour"][EMR_PRIMARY]
    core = p["ec2_hour"][EMR_CORE] * (1 - p["spot_discount"]) + p["emr_fee_hour"][EMR_CORE]
    return float(primary + EMR_CORE_COUNT * core)


FRONTDOOR = "front door (API Gateway HTTP API + Lambda)"
STREAM_PER_ENTERPRISE = "a Kinesis stream per enterprise (1 provisioned shard each)"


def _api_gateway_http(p: dict[str, Any], requests: float) -> float:
    """HTTP API requests a month at the tiered price (the first tier's price, then the next's)."""
    millions = requests / 1e6
    first = min(millions, p["api_gateway_http_first_tier_millions"])
    return float(
        first * p["api_gateway_http_per_million"]
        + (millions - first) * p["api_gateway_http_per_million_over_first_tier"]
    )


def cognito_lite(p: dict[str, Any], monthly_active_users: int) -> float:
    """A user pool's month on the Lite tier: the first ``cognito_lite_free_mau`` users free, then
    each tier's price for the users that fall in it (the last tier has no upper bound)."""
    cost, floor = 0.0, int(p["cognito_lite_free_mau"])
    for ceiling, price in p["cognito_lite_mau_tiers"]:
        top = monthly_active_users if ceiling is None else min(monthly_active_users, int(ceiling))
        cost += max(0, top - floor) * float(price)
        if ceiling is None or monthly_active_users <= ceiling:
            break
        floor = int(ceiling)
    return cost


def review_api(p: dict[str, Any], reviewers: int, memory_mb: float) -> dict[str, float]:
    """A month of the review API for ``reviewers`` monthly active users: its HTTP API's requests,
    its function's requests and GB-seconds (at the module's memory), its user pool's users."""
    requests = reviewers * REVIEW_REQUESTS_PER_REVIEWER_DAY * REVIEW_WORKING_DAYS
    gb_seconds = requests * REVIEW_LAMBDA_MS / 1000 * memory_mb / 1024
    return {
        "API Gateway HTTP API": _api_gateway_http(p, requests),
        "Lambda": requests / 1e6 * p["lambda_per_million_requests"] + gb_seconds * p["lambda_gb_second"],
        "Cognito (Lite)": cognito_lite(p, reviewers),
    }


def tenancy(p: dict[str, Any], enterprises: int) -> dict[str, float]:
    """A month of the stream path's identity for ``enterprises``: the front door's requests (one
    batch a second from each enterprise's sensors) against one provisioned shard per enterprise.
    The shared raw stream's shards and put units are the same in both and are not counted."""
    requests = enterprises * SENSOR_BATCHES_PER_S * 86_400 * DAYS_PER_MONTH
    gb_seconds = requests * FRONTDOOR_LAMBDA_MS / 1000 * FRONTDOOR_LAMBDA_GB
    lambda_cost = requests / 1e6 * p["lambda_per_million_requests"] + gb_seconds * p["lambda_gb_second"]
    return {
        FRONTDOOR: _api_gateway_http(p, requests) + lambda_cost,
        STREAM_PER_ENTERPRISE: enterprises * HOURS_PER_MONTH * p["kinesis_shard_hour"],
    }


def stage_forms(
    p: dict[str, Any], value: Any, rate: float, search: bool = False
) -> dict[str, dict[str, float]]:
    """A month of each stream stage at ``rate`` messages a second: its ASG (the Terraform's
    instance types and counts) against its Lambda function (the stream_lambda module's batch
    size, window and memory; requests and GB-seconds). The stream importer shares the importer
    hosts with the SQS importer, and the indexer (with ``search``) the indexer hosts with the queue
    indexer: as an ASG each adds nothing, as a function it adds its cost."""
    types = value("workers", "instance_types")
    ec2 = p["ec2_hour"]
    cores = int(value("workers", "scorer_cores_per_instance"))
    shards_needed = math.ceil(rate * PEAK_TO_MEAN / KINESIS_RECORDS_PER_SHARD_S)
    shards = {
        "scorer": max(int(value("streaming", "raw_shard_count")), shards_needed),
        "stream-importer": max(int(value("streaming", "scored_shard_count")), shards_needed),
        "alerter": int(value("streaming", "imported_shard_count")),
    }
    if search:
        shards["indexer"] = shards["stream-importer"]  # the scored stream's second group
    scorers = max(
        math.ceil(shards["scorer"] / cores),
        math.ceil(rate * PEAK_TO_MEAN / SCORER_RECORDS_PER_CORE_S / cores),
    )
    asg = {
        "scorer": scorers * HOURS_PER_MONTH * ec2[_t(types["scorer"])],
        "stream-importer": 0.0,
        "alerter": int(value("workers", "alerter_count")) * HOURS_PER_MONTH * ec2[_t(types["alerter"])],
        "indexer": 0.0,
    }
    batch_size = int(value("stream_lambda", "batch_size"))
    window = max(
        float(value("stream_lambda", "maximum_batching_window_seconds")), 1 / LAMBDA_POLLS_PER_SHARD_S
    )
    memory_mb = float(value("stream_lambda", "memory_mb"))
    vcpu = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    out = {}
    for stage, stage_shards in shards.items():
        records_s = rate * (ACTIONABLE_SHARE if stage == "alerter" else 1.0)
        per_batch = min(batch_size, max(1.0, records_s / stage_shards * window))
        invocations = records_s / per_batch * 86_400 * DAYS_PER_MONTH if records_s else 0.0
        ms = STAGE_INVOKE_MS + per_batch * STAGE_RECORD_MS[stage] / vcpu
        gb_seconds = invocations * ms / 1000 * memory_mb / 1024
        out[stage] = {
            "asg": asg[stage],
            "lambda": invocations / 1e6 * p["lambda_per_million_requests"]
            + gb_seconds * p["lambda_gb_second"],
        }
    return out


def _emr_run_cost(p: dict[str, Any], rows: float) -> tuple[float, float]:
    """(cost, hours) of one transient cluster that scores ``rows``: per-second billing."""
    hours = (EMR_BOOT_MINUTES + EMR_RUN_OVERHEAD_MINUTES) / 60 + rows / EMR_ROWS_PER_S / 3600
    return _emr_cluster_hour(p) * hours, hours


def estimate(
    infra: Path, messages_per_day: int, env: str = "dev", prices: dict[str, Any] | None = None
) -> Estimate:
    """Monthly cost of ``infra/envs/<env>`` carrying ``messages_per_day`` through both paths."""
    p = prices or load_prices()
    value = resolve(infra, env)
    types = value("workers", "instance_types")
    az = int(value("network", "az_count"))
    endpoints = len(value("network", "interface_endpoints"))
    mean_rps = messages_per_day / 86_400
    shards_needed = math.ceil(mean_rps * PEAK_TO_MEAN / KINESIS_RECORDS_PER_SHARD_S)
    raw_shards = max(int(value("streaming", "raw_shard_count")), shards_needed)
    scored_shards = max(int(value("streaming", "scored_shard_count")), shards_needed)
    # The imported stream carries only QUARANTINE/LABEL verdicts: its puts are a few percent.
    imported_shards = int(value("streaming", "imported_shard_count"))
    cores = int(value("workers", "scorer_cores_per_instance"))
    scorers = max(
        math.ceil(raw_shards / cores), math.ceil(mean_rps * PEAK_TO_MEAN / SCORER_RECORDS_PER_CORE_S / cores)
    )
    month_msgs = messages_per_day * DAYS_PER_MONTH
    e = Estimate(messages_per_day)
    e.components["kinesis streams"] = (raw_shards + scored_shards + imported_shards) * HOURS_PER_MONTH * p[
        "kinesis_shard_hour"
    ] + (2 * month_msgs / 1e6 * p["kinesis_put_units_per_million"])
    e.components["firehose archive"] = month_msgs * MESSAGE_BYTES / 1e9 * p["firehose_per_gb"]
    ec2 = p["ec2_hour"]
    e.components["scorer ASG"] = scorers * HOURS_PER_MONTH * ec2[_t(types["scorer"])]
    e.components["importer ASG (min size)"] = (
        int(value("workers", "importer_min_size")) * HOURS_PER_MONTH * ec2[_t(types["importer"])]
    )
    e.components["alerter ASG"] = (
        int(value("workers", "alerter_count")) * HOURS_PER_MONTH * ec2[_t(types["alerter"])]
    )
    search = _search(p, value) if _enabled(value("pipeline", "enable_search")) else None
    if search is not None:
        e.components[SEARCH] = search["monthly"]
        e.components["indexer ASG"] = (
            int(value("workers", "indexer_count")) * HOURS_PER_MONTH * ec2[_t(types["indexer"])]
        )
    review = _enabled(value("pipeline", "enable_review"))
    if review:
        memory_mb = float(value("review", "memory_mb"))
        e.review = {f"{n:,} reviewers": review_api(p, n, memory_mb) for n in REVIEWER_COUNTS}
        # No mail, nothing to review: the idle stack's reviewers are none.
        e.components[REVIEW] = sum(review_api(p, REVIEWERS if messages_per_day else 0, memory_mb).values())
    hourly_rows = messages_per_day / 24
    run_cost, run_hours = _emr_run_cost(p, hourly_rows)
    e.per_hourly_run = run_cost
    # An hour with nothing to score starts no cluster.
    e.components["EMR transient, hourly"] = run_cost * 24 * DAYS_PER_MONTH if messages_per_day else 0.0
    e.components["Airflow host"] = HOURS_PER_MONTH * ec2[_t(value("orchestration", "instance_type"))]
    db_class = _t(value("database", "instance_class"))
    e.components["RDS PostgreSQL"] = (
        HOURS_PER_MONTH * p["rds_hour"][db_class] + RDS_STORAGE_GB * p["rds_storage_gb_month"]
    )
    stored_gb = messages_per_day * RETENTION_DAYS * (MESSAGE_BYTES + SCORED_BYTES) / 1e9
    objects = DAYS_PER_MONTH * (24 * 12 + 24 * 4)  # landing drops and scored parts, roughly
    e.components["S3 data lake"] = (
        stored_gb * p["s3_standard_gb_month"] + objects / 1000 * p["s3_put_per_thousand"]
    )
    registry_requests = DAYS_PER_MONTH * 24 * 60 * 10  # schema fetches as workers restart, health checks
    e.components["schema registry (Lambda, API, DynamoDB)"] = (
        registry_requests
        / 1e6
        * (
            p["lambda_per_million_requests"]
            + p["api_gateway_rest_per_million"]  # a private REST API (the first tier: 333 M a month)
            + p["dynamodb_read_per_million"]
        )
    )
    e.components["SQS and SNS"] = objects / 1e6 * (p["sqs_per_million"] * 3 + p["sns_per_million"])
    e.components["VPC interface endpoints"] = (
        endpoints * az * HOURS_PER_MONTH * p["interface_endpoint_hour_per_az"]
    )
    alarms = ALARMS + (SEARCH_ALARMS if search is not None else 0) + (REVIEW_ALARMS if review else 0)
    e.components["CloudWatch alarms and dashboard"] = (
        alarms * p["cloudwatch_alarm_month"] + p["cloudwatch_dashboard_month"]
    )
    counters = (
        int(value("counters", "node_count"))
        * HOURS_PER_MONTH
        * p["elasticache_node_hour"][_t(value("counters", "node_type"))]
    )
    if pipeline_value(infra, env, "enable_counters"):
        e.components["ElastiCache counters"] = counters
    else:
        e.alternatives["adding the model's counters in ElastiCache (enable_counters)"] = counters
    daily_cost, _ = _emr_run_cost(p, messages_per_day)
    e.alternatives["EMR transient, daily instead of hourly"] = daily_cost * DAYS_PER_MONTH
    cluster_hour = _emr_cluster_hour(p)
    e.alternatives["EMR one long-running cluster instead of transient"] = cluster_hour * HOURS_PER_MONTH
    e.alternatives["EMR transient, hourly, under hourly billing"] = (
        cluster_hour * math.ceil(run_hours) * 24 * DAYS_PER_MONTH
    )
    invocations = 2 * month_msgs / LAMBDA_BATCH  # scorer and stream importer stages
    e.alternatives["stream stages on Lambda instead of the scorer ASG"] = (
        invocations / 1e6 * p["lambda_per_million_requests"]
        + invocations * LAMBDA_MS_PER_BATCH / 1000 * LAMBDA_GB * p["lambda_gb_second"]
    )
    e.tenancy = {f"{n:,} enterprises": tenancy(p, n) for n in TENANT_COUNTS}
    e.stages = {f"{r:,} msg/s": stage_forms(p, value, r, search is not None) for r in STAGE_RATES}
    e.assumptions = {
        "env": env,
        "sensor_batches_per_s_per_enterprise": SENSOR_BATCHES_PER_S,
        "frontdoor_lambda_ms_gb": [FRONTDOOR_LAMBDA_MS, FRONTDOOR_LAMBDA_GB],
        "raw_shards": raw_shards,
        "scored_shards": scored_shards,
        "imported_shards": imported_shards,
        "scorer_instances": scorers,
        "interface_endpoints": endpoints,
        "availability_zones": az,
        "emr_run_hours": round(run_hours, 3),
        "search_domain": search,
        "reviewers": REVIEWERS if review and messages_per_day else 0,
        "review_requests_per_reviewer_day": REVIEW_REQUESTS_PER_REVIEWER_DAY,
        "review_lambda_ms": REVIEW_LAMBDA_MS,
        "prices_recorded": p["recorded"],
        "region": p["region"],
    }
    return e


def _search(p: dict[str, Any], value: Any) -> dict[str, Any]:
    """The search domain as the search module deploys it: its data nodes around the clock and a
    gp3 volume on each (its alarms are counted with the others)."""
    instance_type = _t(value("search", "instance_type"))
    nodes = int(value("search", "instance_count"))
    volume_gb = int(value("search", "volume_size_gb"))
    monthly = nodes * (
        HOURS_PER_MONTH * p["opensearch_hour"][instance_type] + volume_gb * p["opensearch_gp3_gb_month"]
    )
    return {"instance_type": instance_type, "nodes": nodes, "volume_gb": volume_gb, "monthly": monthly}


def _enabled(value: Any) -> bool:
    return value is True or str(value).strip('"').lower() == "true"


def idle(infra: Path, env: str = "dev", prices: dict[str, Any] | None = None) -> Estimate:
    """The stack with no traffic: what stays on (no EMR run, no messages)."""
    return estimate(infra, 0, env, prices)


def _t(value: Any) -> str:
    return str(value).strip('"')
