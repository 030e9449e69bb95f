"""The demo's near-real-time part: the workers started as services (a scorer, a stream
importer, an alerter, and the search indexer beside them), the sensors streaming for a while, then
every stage counted and reconciled (the search index's documents too), with the latency from put
to stored verdict and to action."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from trustpipe import contracts, layout
from trustpipe.aws import AwsClients
from trustpipe.codec import ContainerReader, FramedDecoder
from trustpipe.errors import RunError
from trustpipe.s3 import list_objects
from trustpipe.settings import SETTINGS_FILE
from trustpipe.workers import SEARCH_WORKERS, STREAM_WORKERS, Worker
from trustpipe_scenarios import lambda_stages
from trustpipe_scenarios.settle import Pair, pair_of, pair_params, settle
from trustpipe_sensors.app import run_stream
from trustpipe_sensors.frontdoor import producer_for
from trustpipe_stack.launcher import Launcher
from trustpipe_stack.procs import shipped_command
from trustpipe_stream.daemon import application_name
from trustpipe_stream.service import worker_id

WORKER_SLOT = "1"
"""Every local stream worker's slot (the CLI's default): with the host, its KCL worker id."""
DEMO_WORKERS = (*STREAM_WORKERS, *SEARCH_WORKERS)
"""The path's workers and the search indexer beside them (the chaos run starts the path's only)."""
WORKERS = {f"{w.group}-{WORKER_SLOT}": (*w.command, "--slot", WORKER_SLOT) for w in DEMO_WORKERS}
"""One worker per group: a scorer runs a processor per leased shard (both, here). Two scorers on
one machine are tested (tests/integration/trustpipe_alerter); here the KCL's rebalancing between
them, by throughput, would move leases in the middle of the measured run."""
POISON = {
    "poison-bad-magic": b"\x07\x00\x00\x00\x01not avro",
    "poison-unknown-schema": b"\x00\x00\x0f\x42\x3f\x02",
}
"""Two records no honest sensor would send, to show the error path: set aside with a reason."""


def send_poison(aws: AwsClients) -> None:
    """POISON through the front door, as one served enterprise's sensor would send it (the
    front door does not decode: the scorer sets them aside)."""
    enterprise = min(aws.settings.enterprises)
    producer_for(aws.settings, lambda: aws.client("sts")).put(
        enterprise, [(data, key) for key, data in POISON.items()]
    )


LATENCY_SQL = """
SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
         ORDER BY extract(epoch FROM stored_at - received_at)),
       count(*)
FROM scored_messages
WHERE (enterprise_id, message_id) IN (SELECT * FROM unnest(%(enterprises)s::text[], %(ids)s::text[]))
"""
FROM_BATCH_SQL = """
SELECT count(*) FROM scored_messages
WHERE source = 'BATCH'
  AND (enterprise_id, message_id) IN (SELECT * FROM unnest(%(enterprises)s::text[], %(ids)s::text[]))
"""
PRIMER_COUNT = 60
"""Messages streamed (and waited for) before the measured run: the KCL starts a shard's
processor only once it discovers the lease, and its first batch loads the model and schemas."""
SETTLE_SECONDS = 240
"""How long the measured run and the primer may take to settle."""
Say = Callable[[str], None]


class StreamDemoError(RunError):
    """The stream workers did not come up."""


def start_workers(state_dir: Path, on_lambda: Sequence[Worker] = ()) -> Launcher:
    """The stream workers as systemd runs them on AWS: a process each, logs under
    ``<state_dir>/workers``, stopped with SIGTERM; the stages ``on_lambda`` as functions on their
    stream's emulated event source mapping instead."""
    workers = Launcher(state_dir / "workers")
    zips = lambda_stages.build(on_lambda, state_dir / "lambda") if on_lambda else {}
    lambda_groups = {w.group: w for w in on_lambda}
    for name, args in WORKERS.items():
        stage = lambda_groups.get(name.rsplit("-", 1)[0])
        if stage is None:
            workers.start(name, shipped_command(*args, "--state-dir", str(state_dir)))
        else:
            folder = lambda_stages.state_dir_of(workers.log_dir, stage)
            settings = state_dir / SETTINGS_FILE
            workers.start(name, lambda_stages.command(stage, zips[stage.name], settings, folder))
    return workers


def run(
    aws: AwsClients,
    state_dir: Path,
    *,
    seed: int,
    seconds: float,
    rate: float,
    say: Say,
    on_lambda: Sequence[Worker] = (),
) -> dict[str, Any]:
    """Stream for ``seconds`` at ``rate`` through the running workers (the stages ``on_lambda``
    as Lambda functions); the report's stream section."""
    workers = start_workers(state_dir, on_lambda)
    try:
        say("stream workers started (a scorer, a stream importer, an alerter): leasing shards...")
        wait_ready(aws, workers.exited, state_dir / "workers", workers=DEMO_WORKERS, on_lambda=on_lambda)
        since = datetime.now(UTC)
        mailbox: list[dict[str, Any]] = []  # the actions received, as the mail systems would
        primer = run_stream(aws, seed=seed + 1, rate=PRIMER_COUNT, count=PRIMER_COUNT)
        settle(aws, _run_messages(aws, primer.run_id), timeout=SETTLE_SECONDS, mailbox=mailbox)
        say("every shard has its worker and its processor is warm; the sensors stream")
        run_ = run_stream(aws, seed=seed, rate=rate, duration=seconds)
        send_poison(aws)
        messages = _run_messages(aws, run_.run_id)
        say(f"sensors streamed {len(messages):,} messages in {seconds:.0f}s; waiting for every stage...")
        section = _wait_and_count(aws, messages, mailbox, say, since)
        section["indexed"] = wait_indexed(aws, messages, say)
    finally:
        codes = workers.stop()
    section["workers_exit_codes"] = codes
    section["produced"] = run_.total
    section["run_id"] = run_.run_id
    section["rate_per_second"] = rate
    section["reconciled"] = bool(
        section["imported"] == run_.total
        and section["indexed"] == run_.total
        and section["actions"] == section["actionable"]
        and section["duplicate_actions"] == 0
        and set(codes.values()) == {0}
    )
    return section


def lease_items(dynamodb: Any, stream: str, group: str) -> list[dict[str, Any]]:
    """Consumer ``group``'s lease table on ``stream`` as DynamoDB items (none before the KCL made it)."""
    try:
        items: list[dict[str, Any]] = dynamodb.scan(TableName=application_name(stream, group))["Items"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return []
    return items


def consumers(settings: Any, workers: Sequence[Worker] = STREAM_WORKERS) -> list[tuple[str, str]]:
    """(stream, consumer group) of each of ``workers``."""
    return [(w.stream_name(settings), w.group) for w in workers]


def wait_ready(
    aws: AwsClients,
    exited: Callable[[], list[str]],
    logs: Path,
    timeout: float = 300,
    workers: Sequence[Worker] = STREAM_WORKERS,
    on_lambda: Sequence[Worker] = (),
) -> None:
    """Until every shard's lease is owned by its group's worker of this run (the KCL's start-up:
    about 30 s on the local stack); ``exited`` names the workers that died meanwhile.

    Owned by *this run's* worker id, not by anyone: a lease an earlier run left to another worker
    (a second slot) moves only when the group's leader hands it over, and when the last leader died
    without releasing its lock, KCL 3 elects the next one only after the lock's 2 minutes. A run
    that started before would find a shard without a reader for that long. A stage ``on_lambda``
    is ready when its mapping reads every shard."""
    lambda_groups = {w.group for w in on_lambda}
    pairs = [(s, g) for s, g in consumers(aws.settings, workers) if g not in lambda_groups]
    dynamodb, kinesis = aws.client("dynamodb"), aws.client("kinesis")
    shards = {s: len(kinesis.list_shards(StreamName=s)["Shards"]) for s in {s for s, _ in pairs}}
    deadline = time.monotonic() + timeout

    ours = {group: worker_id(group, WORKER_SLOT) for _, group in pairs}

    def leased(stream: str, group: str) -> bool:
        items = lease_items(dynamodb, stream, group)
        return len([i for i in items if i.get("leaseOwner", {}).get("S") == ours[group]]) >= shards[stream]

    def all_ready() -> bool:
        mappings = all(lambda_stages.ready(lambda_stages.state_dir_of(logs, w)) for w in on_lambda)
        return mappings and all(leased(stream, group) for stream, group in pairs)

    while not all_ready():
        dead = exited()
        if dead or time.monotonic() > deadline:
            raise StreamDemoError(f"stream workers not ready (exited: {dead or 'none'}); see {logs}")
        time.sleep(1)


INDEX_IDS_PER_QUERY = 1_000


def wait_indexed(aws: AwsClients, messages: list[Pair], say: Say, timeout: float = SETTLE_SECONDS) -> int:
    """Until the search index holds a document of each of ``messages`` (or ``timeout``); how
    many it holds (by document id: one each, never two)."""
    from trustpipe_search import documents, engine

    client = engine.connect(aws.settings)
    ids = [documents.doc_id(e, m) for e, m in messages]
    deadline = time.monotonic() + timeout

    def count() -> int:
        engine.refresh(client)
        return sum(
            int(
                client.count(
                    index=documents.READ_ALIAS,
                    body={"query": {"ids": {"values": ids[n : n + INDEX_IDS_PER_QUERY]}}},
                    params={"ignore_unavailable": "true", "allow_no_indices": "true"},
                )["count"]
            )
            for n in range(0, len(ids), INDEX_IDS_PER_QUERY)
        )

    while (found := count()) < len(ids) and time.monotonic() < deadline:
        time.sleep(1)
    say(f"search index: {found:,} of {len(ids):,} messages indexed")
    return found


def _run_messages(aws: AwsClients, run_id: str) -> list[Pair]:
    """The messages (enterprise, message id) a stream run produced, from its ground truth in the
    archive bucket."""
    return labelled(aws, stream_labels(aws, run_id))


def stream_labels(aws: AwsClients, run_id: str) -> list[str]:
    """The keys of a stream run's ground truth in the archive bucket."""
    prefix = layout.stream_run_key(run_id).rsplit("/", 1)[0] + "/"
    return [k for k in list_keys(aws.s3, aws.settings.archive_bucket, prefix) if k.endswith("-labels.avro")]


def labelled(aws: AwsClients, keys: list[str]) -> list[Pair]:
    """(enterprise id, message id) of every message in the ground-truth files ``keys``, each once."""
    out: dict[Pair, None] = {}
    for key in keys:
        body = aws.s3.get_object(Bucket=aws.settings.archive_bucket, Key=key)["Body"].read()
        out.update(dict.fromkeys(map(pair_of, ContainerReader(io.BytesIO(body)))))
    return list(out)


def _wait_and_count(
    aws: AwsClients,
    messages: list[Pair],
    mailbox: list[dict[str, Any]],
    say: Say,
    since: datetime | None = None,
    timeout: float = SETTLE_SECONDS,
) -> dict[str, Any]:
    """Until every message of ``messages`` is stored and every actionable one has its action
    (received into ``mailbox``); each stage's count, the set-aside records and the latencies."""
    settled = settle(aws, messages, timeout=timeout, mailbox=mailbox)
    with psycopg.connect(aws.settings.database_url or "", autocommit=True) as conn:
        latency = conn.execute(LATENCY_SQL, pair_params(messages)).fetchone()
        (p50, p95, p99), stored = latency or ((None,) * 3, 0)
        acted = {pair_of(a) for a in mailbox}
        from_batch = conn.execute(FROM_BATCH_SQL, pair_params(acted)).fetchone()
        errors = conn.execute(
            "SELECT error_type, count(*) FROM import_errors "
            "WHERE object_key LIKE 'kinesis://%%' AND recorded_at >= %(since)s GROUP BY 1",
            {"since": since or datetime.min.replace(tzinfo=UTC)},
        ).fetchall()
    say("every stage counted")
    rows = settled.rows
    action_lag = sorted(
        (a["issued_at"] - rows[pair_of(a)].received_at).total_seconds() for a in mailbox if pair_of(a) in rows
    )
    return {
        "scored": _scored_count(aws, set(messages)),
        "imported": len(rows),
        "verdicts": dict(Counter(row.verdict for row in rows.values())),
        "actionable": len(settled.actionable),
        "actions": len(settled.delivered),
        "duplicate_actions": settled.duplicate_actions,
        "actions_from_batch_path": from_batch[0] if from_batch else 0,
        "set_aside": _set_aside(aws, since) | {f"importer {t}": int(n) for t, n in errors},
        "latency_put_to_stored_s": _percentiles(p50, p95, p99),
        "latency_put_to_action_s": _percentiles(*_quantiles(action_lag)),
        "stored_rows_measured": stored,
    }


def _quantiles(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    pick = [values[min(len(values) - 1, int(q * len(values)))] for q in (0.5, 0.95, 0.99)]
    return pick[0], pick[1], pick[2]


def _percentiles(p50: Any, p95: Any, p99: Any) -> dict[str, float | None]:
    return {
        k: (round(float(v), 3) if v is not None else None)
        for k, v in (("p50", p50), ("p95", p95), ("p99", p99))
    }


def records(kinesis: Any, stream_name: str) -> Iterator[dict[str, Any]]:
    """Every record on the stream (each shard from its start, page by page), as GetRecords
    returns them: what the demo and the tests read back to count."""
    for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            yield from page["Records"]
            it = page.get("NextShardIterator") if page["Records"] else None


def _scored_count(aws: AwsClients, messages: set[Pair]) -> int:
    """Distinct messages (enterprise, message id) of the run on the scored stream."""
    decoder = FramedDecoder(aws.registry(), contracts.load(contracts.SCORED_MESSAGE))
    on_stream = records(aws.client("kinesis"), aws.settings.scored_stream_name)
    return len({m for r in on_stream if (m := pair_of(decoder.decode(r["Data"]))) in messages})


def _set_aside(aws: AwsClients, since: datetime | None) -> dict[str, int]:
    """Records the stream workers set aside (since ``since``), by worker and reason."""
    return dict(Counter(f"{group} {reason.split(':')[0]}" for group, reason in set_aside_items(aws, since)))


def set_aside_items(aws: AwsClients, since: datetime | None) -> list[tuple[str, str]]:
    """(worker group, reason) of each record the stream workers set aside since ``since``."""
    bucket = aws.settings.archive_bucket
    out = []
    for obj in list_objects(aws.s3, bucket, f"{layout.SET_ASIDE_PREFIX}stream/"):
        if since is not None and obj["LastModified"] < since:
            continue
        group = obj["Key"].split("/")[2]
        for line in aws.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines():
            out.append((group, str(json.loads(line).get("reason", ""))))
    return out


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in list_objects(s3, bucket, prefix)]
