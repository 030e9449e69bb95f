"""The near-real-time path with one stage in its Lambda form: the scorer and the stream importer
run as KCL services (as in test_stream_path), the alerter as its Lambda zip (`make lambda`'s build)
under AWS's runtime interface client, invoked by the emulated Kinesis event source mapping over
the imported stream (partial batch responses, bisect on error, an S3 on-failure destination).

Its execution environments are killed mid-batch while the stream flows, so Lambda's retry
redelivers batches whose side effects were partly done: every message is stored, every
QUARANTINE or LABEL verdict gets exactly one action, and nothing reaches the on-failure bucket."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.harness.models import mixed
from tests.harness.streams import produce
from tests.harness.waits import wait_for
from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import CodecError, FramedDecoder
from trustpipe.model import artifact as artifacts
from trustpipe.settings import Settings
from trustpipe.workers import ALERTER
from trustpipe_deploy import stage_lambdas
from trustpipe_emulation.event_source import Mapping
from trustpipe_emulation.lambda_poller import FunctionPool, StreamPoller
from trustpipe_emulation.lambda_runtime import LocalFunction
from trustpipe_importer.app import upgrade
from trustpipe_scenarios.settle import Pair, pair_of, settle
from trustpipe_scenarios.stream_demo import records
from trustpipe_stack.launcher import Launcher
from trustpipe_stack.procs import shipped_command
from trustpipe_stack.stack import LocalStack

MODEL = mixed("stream-lambda-m1")
CONCURRENCY = 2
"""The alerter function's reserved concurrency here: one instance per imported shard at most."""


@dataclasses.dataclass
class LambdaPath:
    """The running path: the KCL services and the alerter's mapping and function instances."""

    services: Launcher
    poller: StreamPoller
    functions: FunctionPool
    on_failure_bucket: str


@pytest.fixture(scope="module")
def path(
    local_stack: LocalStack, aws: AwsClients, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LambdaPath]:
    upgrade(settings)
    artifacts.save(aws.s3, settings.archive_bucket, MODEL, make_current=True)
    build = tmp_path_factory.mktemp("lambda")
    zip_path = stage_lambdas.build(
        ALERTER, build, python=f"{sys.version_info.major}.{sys.version_info.minor}", compresslevel=1
    )
    bucket = f"lambda-on-failure-{uuid.uuid4().hex[:8]}"
    aws.s3.create_bucket(Bucket=bucket)
    functions = FunctionPool(
        lambda n: LocalFunction(
            zip_path,
            stage_lambdas.handler_of(ALERTER),
            {"TRUSTPIPE_SETTINGS": str(local_stack.settings_path)},
            timeout_seconds=60,
            name=f"alerter-{n}",
            log_path=build / f"alerter-{n}.log",
            region=settings.region,
        ),
        CONCURRENCY,
    )
    mapping = Mapping(
        batch_size=100,
        maximum_batching_window_seconds=1,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=50,
        on_failure_bucket=bucket,
        starting_position="LATEST",  # the stack's stream holds earlier modules' records
    )
    poller = StreamPoller(
        aws.client("kinesis"), aws.s3, settings.imported_stream_name, mapping, functions.invoke, build / "esm"
    )
    services = Launcher(local_stack.state_dir / "workers-lambda")
    state_dir = str(local_stack.state_dir)
    try:
        poller.start()
        shards = aws.client("kinesis").list_shards(StreamName=settings.imported_stream_name)["Shards"]
        wait_for("the mapping reading every shard", lambda: len(poller.reading) >= len(shards), timeout=60)
        services.start("scorer-1", shipped_command("scorer", "run", "--slot", "1", "--state-dir", state_dir))
        services.start(
            "importer", shipped_command("importer", "run", "--source", "stream", "--state-dir", state_dir)
        )
        yield LambdaPath(services, poller, functions, bucket)
    finally:
        for name in services.procs:
            services.kill(name)
        poller.stop()
        functions.close()


def produced_pairs(aws: AwsClients, settings: Settings, ids: list[str]) -> list[Pair]:
    """The messages (enterprise, message id) of ``ids`` as the sensors put them on the raw stream."""
    decoder = FramedDecoder(aws.registry(), contracts.email_metadata(contracts.READER_VERSION))
    wanted, out = set(ids), []
    for r in records(aws.client("kinesis"), settings.raw_stream_name):
        try:
            message = decoder.decode(r["Data"])
        except CodecError:
            continue  # another module's poison
        if message["message_id"] in wanted:
            out.append(pair_of(message))
    return list(dict.fromkeys(out))


def test_exactly_once_with_the_alerter_on_lambda_through_crashed_invocations(
    path: LambdaPath, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN the sensors stream while the alerter's execution environments die mid-batch
    ids = produce(aws, settings.raw_stream_name, seed=7, count=150)
    wait_for("the alerter invoked", lambda: path.poller.counts.invocations > 0, timeout=300)
    for function in path.functions.instances:
        function.crash_next(2, after_seconds=0.05)
    ids += produce(aws, settings.raw_stream_name, seed=7, count=150)
    # WHEN the path has settled (late duplicates given 10 s more)
    messages = produced_pairs(aws, settings, ids)
    settled = settle(aws, messages, timeout=420, every=2, linger=10)
    # THEN every message is stored once and each actionable verdict got exactly one action
    assert settled.lost == set(), f"{len(settled.lost)} of {len(messages)} not stored"
    assert settled.actionable, "the model gave no QUARANTINE or LABEL verdict"
    assert settled.missing_actions == set() and settled.duplicate_actions == 0
    # and the crashed invocations were retried by the mapping, none given up
    counts = path.poller.counts
    assert counts.function_errors >= 1, counts
    assert counts.discarded_records == 0, counts
    assert aws.s3.list_objects_v2(Bucket=path.on_failure_bucket).get("KeyCount", 0) == 0
