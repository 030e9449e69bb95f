"""`trustpipe chaos`: the whole pipeline under faults, then reconciled.

Batch hours (landing -> Spark -> S3 event -> SNS -> SQS -> batch importer) and a stream run
(raw stream -> scorer -> scored stream -> stream importer -> imported stream -> alerter) go
through the local stack together while a schedule drawn from the seed

- SIGKILLs each worker type (scorer, stream importer, alerter, batch importer) with its whole
  process tree (its KCL daemon and processors), as a dying host would; a supervisor restarts it
  after the units' ``RestartSec``, as systemd does;
- restarts PostgreSQL (fast shutdown, a pause, the same port);
- injects AWS faults through a proxy in front of the moto server (``fault_proxy``): throttling,
  5xx, slow responses and dropped connections on Kinesis, DynamoDB, SQS and S3. The workers (their
  boto3 clients and the KCL's Java SDK) are pointed at the proxy, so the faults reach the code
  paths real AWS faults reach: the SDKs' own error parsing and retries, then the pipeline's.

The sensors, the Spark job (EMR's failures are the DAG's to retry, tested apart) and the
reconciliation talk to the moto server directly. At the end every produced message must be
stored exactly once, every QUARANTINE or LABEL verdict must have exactly one action on its
enterprise's queue, and every item set aside must carry its reason. The schedule, the data and
the proxy's draws come from the seed, so a run can be repeated; only the interleaving with the
machine's timing differs.
"""

from __future__ import annotations

import dataclasses
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from trustpipe import contracts, layout
from trustpipe.aws import AwsClients
from trustpipe.errors import DatabaseUnreachableError, UserError
from trustpipe.settings import Settings
from trustpipe_importer.app import connector, upgrade
from trustpipe_importer.redrive import redrive
from trustpipe_local.fault_proxy import KINDS, Window, dump_schedule
from trustpipe_local.servers import FaultProxyServer
from trustpipe_local.stack import SPARK_LOG, LocalStack
from trustpipe_local.stream_demo import (
    POISON,
    WORKER_SLOT,
    drain_actions,
    labelled,
    lease_items,
    list_keys,
    set_aside_items,
    stream_groups,
    stream_labels,
    wait_ready,
)
from trustpipe_sensors.app import run_batch, run_stream

WORKERS = {
    "scorer": ("scorer", "run", "--slot", WORKER_SLOT),
    "stream-importer": ("importer", "run", "--source", "stream"),
    "alerter": ("alerter", "run"),
    # A short visibility timeout: a killed importer's message comes back in 20 s, not 5 min.
    "batch-importer": ("importer", "run", "--visibility-timeout", "20"),
}
RESTART_SECONDS = 5.0
"""The worker units' ``RestartSec`` (ansible/roles/trustpipe_worker/templates)."""
POSTGRES_DOWN_SECONDS = 5.0
FAULTED_SERVICES = ("kinesis", "dynamodb", "sqs", "s3")
WINDOW_SHARE = {"kinesis": (0.15, 0.3), "dynamodb": (0.05, 0.12), "sqs": (0.2, 0.35), "s3": (0.2, 0.35)}
"""A fault window's length, as a share of the run: DynamoDB sees requests every few milliseconds
(every daemon renews its leases and reports to its group's leader); Kinesis far less (one run
met five Kinesis requests in a 6.6-s window: a restarted daemon reads nothing for about 30 s and
the sensors put straight to the moto server), SQS and S3 only when a batch hour is imported or an
action sent."""
FIRST_HOUR = datetime(2031, 1, 1, tzinfo=UTC)
"""Chaos hours start here, far from the demo's, each seed its own range."""
HISTORY_HOURS = 2
MAX_BATCH_HOURS = 24
HOURS_PER_SEED = HISTORY_HOURS + MAX_BATCH_HOURS
"""Each seed's own hours (history, then batch hours): no two seeds land the same hour."""
POISON_SQS_BODY = '{"Records": "not a list"}'
Say = Callable[[str], None]


class SeedAlreadyRunError(UserError):
    """This stack already holds the seed's messages: its figures would count the last run too."""


@dataclass(frozen=True)
class Disruption:
    """At ``at`` seconds into the run: SIGKILL ``target`` (a worker) or restart PostgreSQL."""

    at: float
    target: str


@dataclass(frozen=True)
class Plan:
    """Everything a seed decides."""

    seed: int
    duration: float
    rate: float
    batch_scale: float
    hours: tuple[datetime, ...]
    batch_at: tuple[float, ...]
    disruptions: tuple[Disruption, ...]
    windows: tuple[Window, ...]


def plan(
    seed: int, duration: float, rate: float = 10.0, batch_hours: int = 1, batch_scale: float = 0.05
) -> Plan:
    """The run ``seed`` stands for: which hours, when each disruption and fault window comes."""
    if duration < 30:
        raise UserError(f"--duration must be at least 30 seconds, got {duration:g}")
    if not 1 <= batch_hours <= MAX_BATCH_HOURS:
        raise UserError(f"--batch-hours must be 1 to {MAX_BATCH_HOURS}, got {batch_hours}")
    rng = random.Random(seed)
    rounds = max(1, int(duration // 90))
    disruptions = [
        Disruption(round(rng.uniform(0.1, 0.8) * duration, 1), target)
        for target in [*WORKERS, "postgres"]
        for _ in range(rounds)
    ]
    windows = [
        Window(
            service,
            kind,
            start := round(rng.uniform(0.05, 0.75) * duration, 1),
            round(start + rng.uniform(*WINDOW_SHARE[service]) * duration, 1),
            round(rng.uniform(0.2, 0.5), 2),
        )
        for service in FAULTED_SERVICES
        for kind in KINDS
        for _ in range(rounds)
    ]
    first = FIRST_HOUR + timedelta(hours=(seed % 10_000) * HOURS_PER_SEED + HISTORY_HOURS)
    return Plan(
        seed=seed,
        duration=duration,
        rate=rate,
        batch_scale=batch_scale,
        hours=tuple(first + timedelta(hours=n) for n in range(batch_hours)),
        batch_at=tuple(round(duration * (0.1 + 0.6 * n / batch_hours), 1) for n in range(batch_hours)),
        disruptions=tuple(sorted(disruptions, key=lambda d: d.at)),
        windows=tuple(sorted(windows, key=lambda w: w.start)),
    )


class Supervisor:
    """The workers as systemd runs them: started, restarted ``RESTART_SECONDS`` after they die,
    SIGTERMed at the end. ``kill`` SIGKILLs a worker's whole process tree (a dead host)."""

    def __init__(self, settings_path: Path, work_dir: Path) -> None:
        self.settings_path, self.work_dir = settings_path, work_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.RLock()  # stop() kills a worker that ignored SIGTERM while holding it
        self._watch = threading.Thread(target=self._restart_dead, daemon=True)

    def start(self) -> None:
        for name in WORKERS:
            self._spawn(name)
        self._watch.start()

    def _spawn(self, name: str) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "trustpipe_cli", *WORKERS[name], "--settings", str(self.settings_path)]
        with (self.work_dir / f"{name}.out").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                [*argv, "--work-dir", str(self.work_dir / name)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self, name: str) -> None:
        with self._lock:
            proc = self.procs[name]
            try:
                tree = psutil.Process(proc.pid)
                victims = [*tree.children(recursive=True), tree]
            except psutil.NoSuchProcess:
                return
            for p in victims:
                with suppress(psutil.NoSuchProcess):
                    p.kill()
            proc.wait()

    def exited(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def _restart_dead(self) -> None:
        died: dict[str, float] = {}
        while not self.stopping.wait(0.5):
            with self._lock:
                for name, proc in self.procs.items():
                    if proc.poll() is None:
                        continue
                    died.setdefault(name, time.monotonic())
                    if time.monotonic() - died[name] >= RESTART_SECONDS:
                        del died[name]
                        self.restarts[name] += 1
                        self._spawn(name)

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self._watch.join(timeout=5)
        with self._lock:
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            codes = {}
            for name, proc in self.procs.items():
                try:
                    codes[name] = proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    self.kill(name)
                    codes[name] = proc.wait()
        return codes


@dataclass
class Run:
    """What happened during the run: the disruptions carried out, failures of the run's own
    threads (which would make its figures meaningless)."""

    done: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stream_run_id: str = ""


def run(
    stack: LocalStack, seed: int, duration: float, say: Say = print, spark: Any = None, **sizes: Any
) -> dict[str, Any]:
    """The chaos run for ``seed`` on the local stack (brought up first); its figures, with
    ``ok`` true when nothing was lost, doubled or set aside without a reason."""
    p = plan(seed, duration, **sizes)
    settings = stack.up(say=say)
    aws = AwsClients(settings)
    say(
        f"chaos seed {seed}: {duration:g}s, {p.rate:g} msg/s streamed, "
        f"batch hours {', '.join(layout.format_hour(h) for h in p.hours)}"
    )
    upgrade(settings)
    _refuse_repeat(settings, seed, p)
    own_spark = spark is None
    spark = spark or _spark(chaos_dir(stack, seed) / SPARK_LOG)
    try:
        _ensure_model(aws, p, spark, say)
        figures = _run_with_faults(stack, aws, p, spark, say)
    finally:
        if own_spark:
            spark.stop()
    (chaos_dir(stack, seed) / "figures.json").write_text(
        json.dumps(figures, indent=2, sort_keys=True, default=str)
    )
    return figures


def _run_with_faults(stack: LocalStack, aws: AwsClients, p: Plan, spark: Any, say: Say) -> dict[str, Any]:
    """Workers behind the fault proxy, the schedule carried out, everything settled and counted."""
    seed, duration, settings = p.seed, p.duration, aws.settings
    folder = chaos_dir(stack, seed)
    folder.mkdir(parents=True, exist_ok=True)
    schedule = folder / "faults.json"
    schedule.unlink(missing_ok=True)  # no faults until the workers are up
    proxy = FaultProxyServer(folder / "proxy")
    supervisor = Supervisor(folder / "settings.json", folder / "workers")
    record = Run()
    began = datetime.now(UTC)
    try:
        proxy.start(settings.aws_endpoint or "", schedule, seed)
        dataclasses.replace(settings, aws_endpoint=proxy.url).save(folder / "settings.json")
        supervisor.start()
        say(f"workers started through the fault proxy at {proxy.url}: leasing shards...")
        wait_ready(aws, supervisor.exited, folder / "workers")
        dump_schedule(p.windows, time.time(), schedule)  # fault windows count from here, as disruptions do
        say(f"running {duration:g}s: {len(p.disruptions)} disruptions, {len(p.windows)} fault windows")
        _carry_out(stack, aws, p, supervisor, spark, record, say)
        say("disruptions done; waiting for every stage to settle...")
        figures = _settle(aws, p, record, began, say)
        figures["leases"] = lease_picture(aws)
    finally:
        codes = supervisor.stop()
        proxy.stop()
    figures.update(
        seed=seed,
        duration_s=duration,
        restarts=dict(supervisor.restarts),
        disruptions=record.done,
        faults_injected=proxy.stats().get("injected", {}),
        requests_through_proxy=proxy.stats().get("requests", {}),
        worker_exit_codes=codes,
        run_failures=record.failures,
        workers_logs=str(folder / "workers"),
        elapsed_s=round((datetime.now(UTC) - began).total_seconds(), 1),
    )
    figures["ok"] = bool(
        not figures["lost"]
        and not figures["duplicate_rows"]
        and not figures["duplicate_actions"]
        and not figures["missing_actions"]
        and not figures["unexpected_actions"]
        and figures["set_aside_without_reason"] == 0
        and not record.failures
    )
    return figures


def chaos_dir(stack: LocalStack, seed: int) -> Path:
    """Where a seed's run keeps its settings, schedule, workers' logs and figures."""
    return stack.state_dir / "chaos" / f"seed-{seed}"


def _spark(log_file: Path) -> Any:
    from spark_jobs.session import local_session

    return local_session("trustpipe-chaos", "local[2]", shuffle_partitions=4, log_file=log_file)


def _refuse_repeat(settings: Settings, seed: int, p: Plan) -> None:
    with connector(settings)() as conn:
        found = conn.execute(
            "SELECT count(*) FROM scored_messages WHERE source_ref = ANY(%(hours)s)",
            {"hours": [layout.format_hour(h) for h in p.hours]},
        ).fetchone()
    if found and found[0]:
        raise SeedAlreadyRunError(
            f"seed {seed} already ran on this stack (its hours are stored): use another --seed, "
            "or `trustpipe local down` for a fresh stack"
        )


def _ensure_model(aws: AwsClients, p: Plan, spark: Any, say: Say) -> None:
    """A current model: built from labelled history before the first hour when there is none."""
    from spark_jobs import runner
    from trustpipe.model import artifact

    if artifact.current_version(aws.s3, aws.settings.archive_bucket) is not None:
        return
    say(f"no current model: landing {HISTORY_HOURS} hours of history and building one...")
    first = p.hours[0]
    for back in range(HISTORY_HOURS, 0, -1):
        run_batch(aws, first - timedelta(hours=back), seed=p.seed, scale=max(p.batch_scale, 0.3))
    runner.build(aws, first, HISTORY_HOURS, spark)


def _carry_out(
    stack: LocalStack, aws: AwsClients, p: Plan, supervisor: Supervisor, spark: Any, record: Run, say: Say
) -> None:
    """The stream run, the batch hours and the disruptions, each at its time."""
    start = time.monotonic()

    def at(seconds: float) -> None:
        time.sleep(max(0.0, start + seconds - time.monotonic()))

    def stream() -> None:
        streamed = run_stream(
            aws, seed=p.seed, rate=p.rate, duration=p.duration * 0.9, run_id=f"chaos-{p.seed}"
        )
        record.stream_run_id = streamed.run_id
        kinesis = aws.client("kinesis")
        for key, data in POISON.items():
            kinesis.put_record(StreamName=aws.settings.raw_stream_name, Data=data, PartitionKey=key)

    def batch() -> None:
        from spark_jobs import runner

        for hour, when in zip(p.hours, p.batch_at, strict=True):
            at(when)
            run_batch(aws, hour, seed=p.seed, scale=p.batch_scale)
            runner.score(aws, hour, spark)
            say(f"batch hour {layout.format_hour(hour)} landed and scored")
        aws.client("sqs").send_message(QueueUrl=aws.settings.importer_queue_url, MessageBody=POISON_SQS_BODY)

    threads = [_thread("stream", stream, record), _thread("batch", batch, record)]
    for d in p.disruptions:
        at(d.at)
        if d.target == "postgres":
            _restart_postgres(stack)
        else:
            supervisor.kill(d.target)
        record.done.append(f"{d.at:g}s {d.target}")
        say(f"{d.at:6.1f}s  {'restarted' if d.target == 'postgres' else 'SIGKILLed'} {d.target}")
    at(p.duration)
    for t in threads:
        t.join()


def _thread(name: str, target: Callable[[], None], record: Run) -> threading.Thread:
    def guarded() -> None:
        try:
            target()
        except Exception as err:  # the figures would be meaningless: reported, and the run fails
            record.failures.append(f"{name}: {type(err).__name__}: {err}")

    t = threading.Thread(target=guarded, name=f"chaos-{name}", daemon=True)
    t.start()
    return t


def _restart_postgres(stack: LocalStack) -> None:
    port = int(stack.postgres.port_file.read_text())
    stack.postgres.stop()
    time.sleep(POSTGRES_DOWN_SECONDS)
    stack.postgres.start(port=port)


SETTLE_SECONDS = 300
ROWS_SQL = (
    "SELECT message_id, source, verdict, enterprise_id FROM scored_messages WHERE message_id = ANY(%(ids)s)"
)
DUPLICATES_SQL = (
    "SELECT count(*) FROM (SELECT message_id FROM scored_messages WHERE message_id = ANY(%(ids)s) "
    "GROUP BY message_id HAVING count(*) > 1) d"
)


def _settle(aws: AwsClients, p: Plan, record: Run, began: datetime, say: Say) -> dict[str, Any]:
    """Until every produced message is stored and every actionable one has its action (or
    ``SETTLE_SECONDS``); then the reconciliation."""
    produced = _produced(aws, p, record.stream_run_id)
    deliveries: Counter[str] = Counter()
    settling = time.monotonic()
    deadline = settling + SETTLE_SECONDS
    rows: dict[str, tuple[str, str, str]] = {}
    redriven = 0
    while True:
        redriven += _redrive_dead_letters(aws, say)
        for action in drain_actions(aws):
            deliveries[action["message_id"]] += 1
        with _quiet_db(aws) as conn:
            if conn is not None:
                rows = {
                    m: (s, v, e) for m, s, v, e in conn.execute(ROWS_SQL, {"ids": list(produced)}).fetchall()
                }
        actionable = {m for m, (_s, v, _e) in rows.items() if v in contracts.ACTIONABLE_VERDICTS}
        if (len(rows) == len(produced) and actionable <= set(deliveries)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    settle_s = round(time.monotonic() - settling, 1)
    time.sleep(5)  # late duplicates would arrive now
    for action in drain_actions(aws):
        deliveries[action["message_id"]] += 1
    with connector(aws.settings)() as conn:
        duplicate_rows = conn.execute(DUPLICATES_SQL, {"ids": list(produced)}).fetchone()
        errors = conn.execute(
            "SELECT error_type, reason FROM import_errors WHERE recorded_at >= %(since)s", {"since": began}
        ).fetchall()
    aside = set_aside_items(aws, began)
    ours = {m: n for m, n in deliveries.items() if m in produced}
    lost = set(produced) - set(rows)
    per: dict[str, Counter[str]] = {}
    for m, (source, enterprise) in produced.items():
        stored = rows.get(m)
        key = f"{enterprise}/{source}"
        per.setdefault(key, Counter())["produced"] += 1
        per[key]["stored"] += stored is not None and stored[0] == source
    reasons = Counter(f"importer {t}" for t, _r in errors) + Counter(
        f"{g} {r.split(':')[0]}" for g, r in aside
    )
    return {
        "produced": len(produced),
        "stored": len(rows),
        "by_enterprise_source": {k: dict(v) for k, v in sorted(per.items())},
        "lost": sorted(lost)[:20],
        "lost_count": len(lost),
        "lost_by_source": dict(Counter(produced[m][0] for m in lost)),
        "settle_s": settle_s,
        "duplicate_rows": int(duplicate_rows[0]) if duplicate_rows else 0,
        "actionable": len(actionable),
        "actions": sum(ours.values()),
        "missing_actions": sorted(actionable - set(ours))[:20],
        "duplicate_actions": sum(n - 1 for n in ours.values() if n > 1),
        "unexpected_actions": sorted(set(ours) - actionable)[:20],
        "set_aside": dict(reasons),
        "redriven": redriven,
        "set_aside_without_reason": sum(1 for _t, r in errors if not r) + sum(1 for _g, r in aside if not r),
    }


LEASE_FIELDS = (
    "leaseKey",
    "leaseOwner",
    "checkpointOwner",
    "checkpoint",
    "leaseCounter",
    "ownerSwitchesSinceCheckpoint",
)


def lease_picture(aws: AwsClients) -> dict[str, list[dict[str, str]]]:
    """Each consumer group's leases as the KCL left them (``LEASE_FIELDS`` per shard): where a
    stalled shard shows, when messages are missing."""
    dynamodb = aws.client("dynamodb")
    picture: dict[str, list[dict[str, str]]] = {}
    for stream, group in stream_groups(aws.settings).items():
        items = lease_items(dynamodb, stream, group)
        picture[group] = sorted(
            ({k: str(next(iter(item[k].values()))) for k in LEASE_FIELDS if k in item} for item in items),
            key=lambda lease: lease.get("leaseKey", ""),
        )
    return picture


def worker_log_tails(stack: LocalStack, seed: int, lines: int = 15) -> str:
    """The last lines of each worker's log and its KCL daemon's warnings and errors: what to read
    first when a run lost something."""
    workers = chaos_dir(stack, seed) / "workers"
    out = []
    for log in sorted(workers.glob("*.out")):
        out += [f"== {log}", *log.read_text(errors="replace").splitlines()[-lines:]]
    for log in sorted(workers.glob("*/*[0-9].log")):
        flagged = [line for line in log.read_text(errors="replace").splitlines() if _flagged(line)]
        out += [f"== {log} (warnings and errors)", *flagged[-lines:]]
    return "\n".join(line[:400] for line in out)


def _flagged(line: str) -> bool:
    """A daemon's warning or error, or a processor's (the daemon logs every line a processor
    writes to stderr as an ERROR; the level is the processor's own)."""
    if "DrainChildSTDERRTask" in line:
        return '"level":"WARNING"' in line or '"level":"ERROR"' in line
    return (" WARN " in line or " ERROR " in line) and "Dropping metrics" not in line


def _redrive_dead_letters(aws: AwsClients, say: Say) -> int:
    """What the on-call does when importer-dlq pages: the DLQ's messages back onto the queue.
    Under the run's SQS faults a notification can be delivered ``maxReceiveCount`` times without
    reaching an importer (responses dropped, an importer killed mid-import) and be dead-lettered;
    it is not lost, and the figures count it."""
    s = aws.settings
    moved = redrive(aws.client("sqs"), s.importer_dlq_url, s.importer_queue_url)  # one receive when empty
    if moved:
        say(f"{moved} importer notifications were dead-lettered; moved back, as runbook importer-dlq says")
    return moved


@contextmanager
def _quiet_db(aws: AwsClients) -> Iterator[Any]:
    """A connection, or None while PostgreSQL is still coming back."""
    try:
        conn = connector(aws.settings)()
    except DatabaseUnreachableError:
        yield None
        return
    with conn:
        yield conn


def _produced(aws: AwsClients, p: Plan, stream_run_id: str) -> dict[str, tuple[str, str]]:
    """Every message the run produced: message id -> (source, enterprise), from the ground truth
    the sensors wrote beside their data."""
    bucket = aws.settings.archive_bucket
    batch = [
        key
        for key in list_keys(aws.s3, bucket, layout.LABELS_PREFIX)
        if any(f"/date={h:%Y-%m-%d}/hour={h:%H}/" in key for h in p.hours)
    ]
    out = {m: ("BATCH", e) for m, e in labelled(aws, batch).items()}
    if stream_run_id:
        out |= {m: ("STREAM", e) for m, e in labelled(aws, stream_labels(aws, stream_run_id)).items()}
    return out


def print_figures(console: Any, figures: dict[str, Any]) -> None:
    """The reconciliation as a table and a verdict, with the seed to repeat it."""
    from rich.table import Table

    table = Table(title=f"chaos seed {figures['seed']}: {figures['duration_s']:g}s of disruptions")
    for column in ("enterprise/source", "produced", "stored"):
        table.add_column(column, justify="left" if column == "enterprise/source" else "right")
    for key, counts in figures["by_enterprise_source"].items():
        table.add_row(key, f"{counts.get('produced', 0):,}", f"{counts.get('stored', 0):,}")
    console.print(table)
    console.print(
        f"produced {figures['produced']:,}, stored {figures['stored']:,}, lost {figures['lost_count']}, "
        f"duplicate rows {figures['duplicate_rows']}; actionable {figures['actionable']:,}, actions "
        f"{figures['actions']:,} (missing {len(figures['missing_actions'])}, duplicate "
        f"{figures['duplicate_actions']}, unexpected {len(figures['unexpected_actions'])})"
    )
    console.print(
        f"set aside: {figures['set_aside']} ({figures['set_aside_without_reason']} without a reason); "
        f"dead-lettered and moved back: {figures.get('redriven', 0)}"
    )
    console.print(f"disruptions: {', '.join(figures['disruptions'])}; restarts {figures['restarts']}")
    if figures["lost_count"]:
        console.print(f"lost by source: {figures['lost_by_source']}; leases at the end: {figures['leases']}")
        console.print(f"the workers' logs: {figures['workers_logs']}")
    injected = sum(figures["faults_injected"].values())
    console.print(f"AWS faults injected: {injected:,} ({figures['faults_injected']})")
    if figures["run_failures"]:
        console.print(f"[red]the run itself failed[/]: {figures['run_failures']}")
    verdict = "[green]nothing lost or doubled[/]" if figures["ok"] else "[red]LOST OR DOUBLED[/]"
    console.print(f"{verdict} in {figures['elapsed_s']}s (repeat: trustpipe chaos --seed {figures['seed']})")
