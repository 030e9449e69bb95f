"""A stream stage's Lambda form run locally: the event source mapping's poller
(``event_source.ShardConsumer`` per shard, one thread each) over the moto stream, invoking the
stage's zip under ``awslambdaric`` (``lambda_runtime.LocalFunction``), as many instances at once
as the function's reserved concurrency allows, discarded batches kept in the on-failure bucket.

``python -m trustpipe_emulation.lambda_poller --zip Z --handler H --stream FIELD --settings S
--state-dir D --name N`` runs one stage so until SIGTERM, as a worker unit would (the demo, the
chaos run and P4 start it in place of the stage's KCL service).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trustpipe.aws import AwsClients
from trustpipe.retry import Backoff
from trustpipe.settings import Settings
from trustpipe_emulation.event_source import (
    POLL_SECONDS,
    Checkpoints,
    Discarded,
    Mapping,
    ShardConsumer,
    Source,
    StreamRecord,
    invocation_record,
    on_failure_key,
)
from trustpipe_emulation.lambda_runtime import Answer, LocalFunction

SETTINGS_ENV = "TRUSTPIPE_SETTINGS"
"""trustpipe_stream.lambda_batch.SETTINGS_ENV: where the function finds its settings."""

log = logging.getLogger("trustpipe.emulation.lambda_poller")
DISCOVER_SECONDS = 5.0
"""How often the poller lists the stream's shards (a reshard's children are found so)."""
BACKOFF = Backoff(0.5, 10.0)


class FunctionPool:
    """Up to ``size`` instances of one function (its reserved concurrency), started on demand;
    an invocation waits for a free one, as Lambda throttles past the reserved concurrency."""

    def __init__(self, make: Callable[[int], LocalFunction], size: int) -> None:
        self._make, self._slots = make, threading.BoundedSemaphore(size)
        self._free: list[LocalFunction] = []
        self._all: list[LocalFunction] = []
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Answer:
        with self._slots:
            with self._lock:
                function = self._free.pop() if self._free else None
                if function is None:
                    function = self._make(len(self._all))
                    self._all.append(function)
            try:
                return function.invoke(event)
            finally:
                with self._lock:
                    self._free.append(function)

    @property
    def instances(self) -> list[LocalFunction]:
        with self._lock:
            return list(self._all)

    def close(self) -> None:
        with self._lock:
            for function in self._all:
                function.close()
            self._all.clear()
            self._free.clear()


@dataclass
class Counts:
    """What the poller did, for the run's report."""

    invocations: int = 0
    function_errors: int = 0
    """Invocations that failed whole (the handler raised, the runtime died or timed out)."""
    discarded_batches: int = 0
    discarded_records: int = 0
    shards: set[str] = field(default_factory=set)


class StreamPoller:
    """The mapping of one stream to one function: a thread per shard until ``stop``."""

    def __init__(
        self,
        kinesis: Any,
        s3: Any,
        stream_name: str,
        mapping: Mapping,
        invoke: Callable[[dict[str, Any]], Answer],
        state_dir: Path,
        function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:stage",
    ) -> None:
        self.kinesis, self.s3, self.stream_name, self.mapping = kinesis, s3, stream_name, mapping
        self.invoke, self.function_arn = invoke, function_arn
        state_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = Checkpoints(state_dir / f"{stream_name}-{mapping.uuid}-checkpoints.json")
        self.counts = Counts()
        self.reading: set[str] = set()
        """The shards whose iterator the poller holds (from LATEST, records put after it are read)."""
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._discover: threading.Thread | None = None

    def start(self) -> None:
        self._discover = threading.Thread(target=self._discover_shards, name="esm-discover", daemon=True)
        self._discover.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for t in [self._discover, *self._threads.values()]:
            if t is not None:
                t.join(timeout)

    def _discover_shards(self) -> None:
        arn = self.kinesis.describe_stream_summary(StreamName=self.stream_name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        while not self._stop.is_set():
            try:
                shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
            except Exception as err:
                log.warning("%s: ListShards failed (%s); trying again", self.stream_name, err)
                shards = []
            for shard in shards:
                shard_id = shard["ShardId"]
                if shard_id not in self._threads:
                    source = Source(arn, shard_id)
                    t = threading.Thread(target=self._run_shard, args=(source,), name=f"esm-{shard_id}")
                    t.daemon = True
                    self._threads[shard_id] = t
                    self.counts.shards.add(shard_id)
                    t.start()
            self._stop.wait(DISCOVER_SECONDS)

    def _run_shard(self, source: Source) -> None:
        reader = _ShardReader(self.kinesis, self.stream_name, source.shard_id, self.mapping, self.checkpoints)
        consumer = ShardConsumer(
            self.mapping,
            source,
            read=reader.read,
            invoke=self._counted_invoke,
            discard=lambda d: self._keep(d, source),
            checkpoint=lambda seq: self.checkpoints.put(source.shard_id, seq),
        )
        reader.consumer = consumer
        reader.on_iterator = lambda: self.reading.add(source.shard_id)
        while not self._stop.is_set() and not reader.ended:
            batch = consumer.gather(self._stop)
            if batch:
                consumer.deliver(batch)
            else:
                self._stop.wait(POLL_SECONDS)
        if reader.ended and not consumer.pending:
            log.info("%s: shard ended and done", source.shard_id)

    def _counted_invoke(self, event: dict[str, Any]) -> Answer:
        self.counts.invocations += 1
        answer = self.invoke(event)
        if answer.failed:
            self.counts.function_errors += 1
            log.info("%s: invocation failed: %s", self.stream_name, answer.error)
        return answer

    def _keep(self, d: Discarded, source: Source) -> None:
        """The discarded batch's invocation record in the on-failure bucket (retried until it is
        there: the records leave the mapping only once they are kept)."""
        self.counts.discarded_batches += 1
        self.counts.discarded_records += len(d.records)
        if self.mapping.on_failure_bucket is None:
            return
        now = time.time()
        body = json.dumps(invocation_record(d, source, self.function_arn, now)).encode()
        key = on_failure_key(self.mapping, source.shard_id, now)
        failures = 0
        while True:
            try:
                self.s3.put_object(Bucket=self.mapping.on_failure_bucket, Key=key, Body=body)
                return
            except Exception as err:
                failures += 1
                log.warning("on-failure destination refused (%s); retrying", err)
                time.sleep(BACKOFF.delay(failures))


class _ShardReader:
    """GetShardIterator/GetRecords for one shard, resuming after its checkpoint; a failed read
    starts again from the checkpoint (the records read after it are dropped and read again)."""

    def __init__(
        self, kinesis: Any, stream_name: str, shard_id: str, mapping: Mapping, checkpoints: Checkpoints
    ) -> None:
        self.kinesis, self.stream_name, self.shard_id = kinesis, stream_name, shard_id
        self.mapping, self.checkpoints = mapping, checkpoints
        self.iterator: str | None = None
        self.ended = False
        self.consumer: ShardConsumer | None = None
        self.on_iterator: Callable[[], None] = lambda: None

    def read(self, limit: int) -> list[StreamRecord]:
        if self.ended:
            return []
        try:
            if self.iterator is None:
                self.iterator = self._iterator()
                self.on_iterator()
            out = self.kinesis.get_records(ShardIterator=self.iterator, Limit=limit)
        except Exception as err:
            log.warning("%s: GetRecords failed (%s); resuming from the checkpoint", self.shard_id, err)
            self.iterator = None
            if self.consumer is not None:
                self.consumer.pending = []
            return []
        self.iterator = out.get("NextShardIterator")
        if self.iterator is None:
            self.ended = True
        return [StreamRecord.from_get_records(r) for r in out["Records"]]

    def _iterator(self) -> str:
        after = self.checkpoints.get(self.shard_id)
        args: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if after is not None:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        elif self.mapping.starting_timestamp is not None:
            args.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.mapping.starting_timestamp)
        else:
            args.update(ShardIteratorType=self.mapping.starting_position)
        iterator: str = self.kinesis.get_shard_iterator(**args)["ShardIterator"]
        return iterator


READY_FILE = "ready"
COUNTS_FILE = "counts.json"


def serve(args: argparse.Namespace) -> int:
    """Run one stage's mapping and function instances until SIGTERM or SIGINT: ``ready`` in the
    state dir once every shard is read, ``counts.json`` (what the poller did) kept current."""
    settings = Settings.load(Path(args.settings))
    aws = AwsClients(settings)
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    (state / READY_FILE).unlink(missing_ok=True)
    environment = {SETTINGS_ENV: str(Path(args.settings).resolve())}
    if os.environ.get("DATABASE_URL"):
        environment["DATABASE_URL"] = os.environ["DATABASE_URL"]
    functions = FunctionPool(
        lambda n: LocalFunction(
            Path(args.zip),
            args.handler,
            environment,
            timeout_seconds=args.timeout,
            name=f"{args.name}-{n}",
            log_path=state / f"function-{n}.log",
            region=settings.region,
        ),
        args.concurrency,
    )
    mapping = Mapping(
        batch_size=args.batch_size,
        maximum_batching_window_seconds=args.window,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=args.retries,
        on_failure_bucket=args.on_failure_bucket,
        # A new mapping reads from its first launch on (not the stream's older records); a
        # restarted one resumes after its checkpoints, or from that same moment.
        starting_position="AT_TIMESTAMP",
        starting_timestamp=_first_launch(state),
        uuid=args.name,  # one mapping per stage and stream: its checkpoints survive a restart
    )
    stream_name = getattr(settings, args.stream)
    poller = StreamPoller(aws.client("kinesis"), aws.s3, stream_name, mapping, functions.invoke, state)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signo, _frame: stop.set())
    poller.start()
    try:
        shards = len(aws.client("kinesis").list_shards(StreamName=stream_name)["Shards"])
        while not stop.wait(1.0):
            if len(poller.reading) >= shards and not (state / READY_FILE).exists():
                (state / READY_FILE).write_text(f"{shards}\n")
            _write_counts(state, poller.counts)
    finally:
        poller.stop()
        functions.close()
        _write_counts(state, poller.counts)
    return 0


def _first_launch(state: Path) -> float:
    """When the mapping in ``state`` was first started (recorded then, read on every restart)."""
    path = state / "created_at"
    if not path.exists():
        path.write_text(f"{time.time():.3f}\n")
    return float(path.read_text())


def _write_counts(state: Path, counts: Counts) -> None:
    data = {**dataclasses.asdict(counts), "shards": sorted(counts.shards)}
    partial = state / f".{COUNTS_FILE}"
    partial.write_text(json.dumps(data))
    partial.replace(state / COUNTS_FILE)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--zip", required=True, help="The stage's zip (trustpipe_deploy.stage_lambdas).")
    parser.add_argument("--handler", required=True)
    parser.add_argument("--stream", required=True, help="The Settings field naming the stream it reads.")
    parser.add_argument("--settings", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--name", required=True, help="The function's name (and its mapping's).")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--window", type=float, default=0)
    parser.add_argument("--retries", type=int, default=-1)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--on-failure-bucket", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
