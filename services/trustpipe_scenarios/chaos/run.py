"""`trustpipe chaos`: the workers behind the fault proxy, supervised as systemd runs them, the plan
carried out, then settled and reconciled."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trustpipe import counters, layout
from trustpipe.aws import AwsClients
from trustpipe.db.connect import connector
from trustpipe.errors import UserError
from trustpipe.metrics import COUNTERS_DEGRADED
from trustpipe.settings import Settings
from trustpipe.telemetry import totals
from trustpipe.workers import SEARCH_WORKERS, STREAM_WORKERS, Worker
from trustpipe_emulation.fault_proxy import dump_schedule
from trustpipe_importer.app import upgrade
from trustpipe_scenarios import lambda_stages as stages
from trustpipe_scenarios.chaos import exact
from trustpipe_scenarios.chaos.figures import lease_picture
from trustpipe_scenarios.chaos.plan import (
    HISTORY_HOURS,
    POISON_SQS_BODY,
    POSTGRES_DOWN_SECONDS,
    REDIS_DOWN_SECONDS,
    RESTART_SECONDS,
    SERVERS,
    WORKERS,
    Plan,
    Run,
    chaos_dir,
    plan,
)
from trustpipe_scenarios.chaos.settle import settle
from trustpipe_scenarios.stream_demo import send_poison, wait_ready
from trustpipe_sensors.app import run_batch, run_stream
from trustpipe_stack.launcher import Launcher, RestartPolicy
from trustpipe_stack.procs import shipped_command
from trustpipe_stack.servers import FaultProxyServer
from trustpipe_stack.stack import SPARK_LOG, LocalStack

KCL_GROUPS = (*STREAM_WORKERS, *SEARCH_WORKERS)
"""The consumer groups whose leases the run waits for: the path's and the search indexer's."""

Say = Callable[[str], None]


class SeedAlreadyRunError(UserError):
    """This stack already holds the seed's messages: its figures would count the last run too."""


def run(
    stack: LocalStack,
    seed: int,
    duration: float,
    say: Say = print,
    spark: Any = None,
    lambda_stages: Sequence[str] = (),
    **sizes: Any,
) -> dict[str, Any]:
    """The chaos run for ``seed`` on the local stack (brought up first); its figures, with
    ``ok`` true when nothing was lost, doubled or set aside without a reason. The stream stages
    named in ``lambda_stages`` run as Lambda functions on the emulated event source mapping (the
    disruptions SIGKILL the mapping's poller with its function instances)."""
    on_lambda = stages.chosen(lambda_stages)
    plan(seed, duration, **sizes)  # bad sizes refused before the stack comes up
    settings = stack.up(say=say)
    p = plan(seed, duration, counters=settings.redis_url is not None, **sizes)
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
        figures = _run_with_faults(stack, aws, p, spark, say, on_lambda)
        if settings.redis_url is not None:
            say("recounting the counters' tiles of the batch hours, as the next build would...")
            figures["counters_after_build"] = exact.after_build(aws, list(p.hours), spark)
            figures["ok"] = figures["ok"] and figures["counters_after_build"]["differ"] == 0
    finally:
        if own_spark:
            spark.stop()
    (chaos_dir(stack, seed) / "figures.json").write_text(
        json.dumps(figures, indent=2, sort_keys=True, default=str)
    )
    return figures


def _run_with_faults(
    stack: LocalStack, aws: AwsClients, p: Plan, spark: Any, say: Say, on_lambda: Sequence[Worker] = ()
) -> dict[str, Any]:
    """Workers behind the fault proxy, the schedule carried out, everything settled and counted."""
    seed, duration, settings = p.seed, p.duration, aws.settings
    folder = chaos_dir(stack, seed)
    folder.mkdir(parents=True, exist_ok=True)
    schedule = folder / "faults.json"
    schedule.unlink(missing_ok=True)  # no faults until the workers are up
    proxy = FaultProxyServer(folder / "proxy")
    supervisor = Launcher(folder / "workers", restart=RestartPolicy(delay=RESTART_SECONDS))
    record = Run()
    began = datetime.now(UTC)
    try:
        proxy.start(settings.aws_endpoint or "", schedule, seed)
        dataclasses.replace(settings, aws_endpoint=proxy.url).save(folder / "settings.json")
        _start_workers(supervisor, folder, on_lambda)
        say(f"workers started through the fault proxy at {proxy.url}: leasing shards...")
        wait_ready(aws, supervisor.exited, folder / "workers", workers=KCL_GROUPS, on_lambda=on_lambda)
        dump_schedule(p.windows, time.time(), schedule)  # fault windows count from here, as disruptions do
        say(f"running {duration:g}s: {len(p.disruptions)} disruptions, {len(p.windows)} fault windows")
        _carry_out(stack, aws, p, supervisor, spark, record, say)
        say("disruptions done; waiting for every stage to settle...")
        figures = settle(aws, p, record, began, say)
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
        lambda_stages=[w.name for w in on_lambda],
        counters_degraded=counters_degraded(folder),
        elapsed_s=round((datetime.now(UTC) - began).total_seconds(), 1),
    )
    figures["ok"] = bool(
        not figures["lost"]
        and not figures["duplicate_rows"]
        and not figures["duplicate_actions"]
        and not figures["missing_actions"]
        and not figures["unexpected_actions"]
        and not figures["not_indexed"]
        and figures["set_aside_without_reason"] == 0
        and not record.failures
    )
    return figures


def _start_workers(supervisor: Launcher, folder: Path, on_lambda: Sequence[Worker] = ()) -> None:
    """Every worker as its unit starts it, with the run's settings (through the proxy); the
    supervisor restarts it ``RESTART_SECONDS`` after it dies, as systemd does. A stage
    ``on_lambda`` is its mapping's poller instead (its functions' calls go through the proxy too)."""
    zips = stages.build(on_lambda, folder / "lambda") if on_lambda else {}
    by_name = {w.name: w for w in on_lambda}
    for name, args in WORKERS.items():
        settings = folder / "settings.json"
        if name in by_name:
            state = stages.state_dir_of(folder / "workers", by_name[name])
            supervisor.start(name, stages.command(by_name[name], zips[name], settings, state))
            continue
        work_dir = str(folder / "workers" / name)
        supervisor.start(name, shipped_command(*args, "--settings", str(settings), "--work-dir", work_dir))


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
    with exact.mark_kept(counters.from_settings(aws.settings)):
        runner.build(aws, first, HISTORY_HOURS, spark)


def _carry_out(
    stack: LocalStack, aws: AwsClients, p: Plan, supervisor: Launcher, spark: Any, record: Run, say: Say
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
        send_poison(aws)

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
        elif d.target == "redis":
            _restart_redis(stack)
        else:
            supervisor.kill(d.target)
        record.done.append(f"{d.at:g}s {d.target}")
        say(f"{d.at:6.1f}s  {'restarted' if d.target in SERVERS else 'SIGKILLed'} {d.target}")
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


def _restart_redis(stack: LocalStack) -> None:
    """The counters' redis-server stopped by its pid and started again on its port, empty."""
    port = int(stack.redis.port_file.read_text())
    stack.redis.stop()
    time.sleep(REDIS_DOWN_SECONDS)
    stack.redis.start(port=port)


def counters_degraded(folder: Path) -> int:
    """Messages the run's scorers scored with the model's snapshot because Redis did not answer
    (their batches' ``CountersDegraded``, from their metrics logs)."""
    logs = sorted((folder / "workers").glob("**/*-metrics.log"))
    return int(totals(logs)["metrics"].get(COUNTERS_DEGRADED.name, 0))
