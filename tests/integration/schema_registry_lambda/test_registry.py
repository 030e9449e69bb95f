"""The registry over real HTTP: confluent-kafka's own clients, our client and codec, DynamoDB."""

from __future__ import annotations

import json
import random
import subprocess
import threading
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from schema_registry_lambda.dynamodb import DynamoStore
from schema_registry_lambda.registry import Registry, parse_candidate
from tests.harness.cli import CLI, run_cli
from tests.harness.factories import email_v1, email_v3
from tests.harness.paths import ROOT
from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder, UnknownSchemaIdError
from trustpipe.registry_client import RegistryClient, RegistryClientError
from trustpipe.settings import Settings
from trustpipe_stack.procs import free_port, stop_pid, wait_for_port
from trustpipe_stack.stack import LocalStack

CTX = SerializationContext("email", MessageField.VALUE)


def serve(*args: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "registry", "serve", "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30, pid=proc.pid)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_pid(proc.pid)
        proc.wait()


@pytest.fixture
def memory_registry() -> Iterator[str]:
    yield from serve("--store", "memory")


@pytest.fixture
def dynamodb_registry(local_stack: LocalStack) -> Iterator[str]:
    yield from serve("--store", "dynamodb", "--state-dir", str(local_stack.state_dir))


def avro(version: int) -> Schema:
    return Schema(json.dumps(contracts.email_metadata(version)), "AVRO")


@pytest.mark.parametrize("registry", ["memory_registry", "dynamodb_registry"])
def test_confluent_client_works_unchanged(registry: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(registry)
    subject = f"email-{registry}-value"
    client = SchemaRegistryClient({"url": url})
    # register, fetch by id, latest
    v1_id = client.register_schema(subject, avro(1))
    assert json.loads(client.get_schema(v1_id).schema_str) == contracts.email_metadata(1)
    latest = client.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (1, v1_id)
    # compatibility test and levels
    assert client.test_compatibility(subject, avro(2)) is True
    assert client.set_compatibility(subject, "FULL") == {"compatibility": "FULL"}
    assert client.get_compatibility(subject) == "FULL"
    assert client.test_compatibility(subject, avro(3)) is False
    with pytest.raises(SchemaRegistryError) as err:
        client.register_schema(subject, avro(3))
    assert err.value.http_status_code == 409
    client.set_compatibility(subject, "BACKWARD")
    assert client.register_schema(subject, avro(2)) != v1_id
    assert client.get_versions(subject) == [1, 2]


def test_scoring_stats_evolve_through_the_registry(memory_registry: str) -> None:
    # GIVEN ScoringStats before the histogram registered, under the registry's default BACKWARD
    client = SchemaRegistryClient({"url": memory_registry})
    old = (ROOT / "tests" / "vectors" / "scoring_stats_v1.avsc").read_text()
    first = client.register_schema("scoring-stats-value", Schema(old, "AVRO"))
    # WHEN today's contract (with score_histogram and its default) is registered
    new = Schema(json.dumps(contracts.load(contracts.SCORING_STATS)), "AVRO")
    assert client.test_compatibility("scoring-stats-value", new) is True
    second = client.register_schema("scoring-stats-value", new)
    # THEN it is the subject's second version, and the same change without a default is refused
    assert second != first and client.get_versions("scoring-stats-value") == [1, 2]
    no_default = contracts.load(contracts.SCORING_STATS)
    del no_default["fields"][-1]["default"]
    client.set_compatibility("scoring-stats-value", "BACKWARD_TRANSITIVE")  # old files, too
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("scoring-stats-value", Schema(json.dumps(no_default), "AVRO"))
    assert refused.value.http_status_code == 409


def test_confluent_serializer_to_our_codec_and_back(memory_registry: str) -> None:
    confluent = SchemaRegistryClient({"url": memory_registry})
    ours = RegistryClient(memory_registry)
    # THEIR serializer -> OUR decoder (writer v3 resolved to v4)
    data = AvroSerializer(confluent, json.dumps(contracts.email_metadata(3)))(email_v3(), CTX)
    decoded = FramedDecoder(ours, contracts.reader_schema()).decode(data)
    assert decoded["sending_ip"] == "198.51.100.7" and decoded["spf"] == "TEMPERROR"
    # OUR encoder (id from our client) -> THEIR deserializer
    schema_id = ours.register("email-ours-value", contracts.email_metadata(1))
    framed = FramedEncoder(schema_id, contracts.email_metadata(1)).encode(email_v1())
    theirs = AvroDeserializer(confluent)(framed, CTX)
    assert theirs["client_ip"] == "198.51.100.7" and theirs["message_id"] == "<m-1@partner.com>"


def test_our_client_fetches_each_id_once_and_knows_unknown_ids(memory_registry: str) -> None:
    producer, consumer = RegistryClient(memory_registry), RegistryClient(memory_registry)
    ids = [producer.register("email-value", contracts.email_metadata(v)) for v in (1, 2, 3)]
    decoder = FramedDecoder(consumer, contracts.reader_schema())
    for i in range(300):
        v = (1, 2, 3)[i % 3]
        record = {
            1: email_v1,
            2: lambda: {
                **email_v1(),
                "reply_to": None,
                "dkim_domain": None,
                "urls": [],
                "attachments": [],
            },
            3: email_v3,
        }[v]()
        decoder.decode(FramedEncoder(ids[v - 1], contracts.email_metadata(v)).encode(record))
    assert consumer.requests == 3
    assert consumer.latest("email-value").version == 3
    with pytest.raises(UnknownSchemaIdError):
        consumer.get_by_id(999)
    with pytest.raises(RegistryClientError) as err:
        producer.register("", contracts.email_metadata(1))
    assert err.value.status in (404, 405, 422)


def test_concurrent_registrations_get_one_id_per_schema(aws: AwsClients, settings: Settings) -> None:
    # GIVEN 8 registries (separate clients, as separate Lambdas would be) on one DynamoDB table
    schemas = [contracts.email_metadata(v) for v in (1, 2, 3, 4)] + [
        {"type": "record", "name": f"Other{i}", "fields": [{"name": "x", "type": "int"}]} for i in range(4)
    ]
    subjects = [f"race-{n}" for n in range(3)]
    results: list[tuple[str, int]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        registry = Registry(
            DynamoStore(AwsClients(settings).client("dynamodb"), settings.registry_table_name)
        )
        order = [(s, sub) for s in range(len(schemas)) for sub in subjects]
        random.Random(seed).shuffle(order)
        try:
            for index, subject in order:
                registry.store.set_compatibility(subject, "NONE")
                got = registry.register(subject, {"schema": json.dumps(schemas[index])})["id"]
                with lock:
                    results.append((parse_candidate({"schema": json.dumps(schemas[index])}).fingerprint, got))
        except BaseException as err:
            failures.append(err)

    # WHEN they register overlapping schemas at once
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN every schema has exactly one id, and every id one schema
    assert not failures, failures
    ids_by_schema: dict[str, set[int]] = {}
    for fingerprint, schema_id in results:
        ids_by_schema.setdefault(fingerprint, set()).add(schema_id)
    assert all(len(ids) == 1 for ids in ids_by_schema.values()), ids_by_schema
    assert len({next(iter(ids)) for ids in ids_by_schema.values()}) == len(schemas)
    store = DynamoStore(aws.client("dynamodb"), settings.registry_table_name)
    for fingerprint, ids in ids_by_schema.items():
        assert parse_candidate({"schema": store.schema(next(iter(ids)))}).fingerprint == fingerprint
    # AND each subject holds each schema in exactly one version
    for subject in subjects:
        versions = store.versions(subject)
        assert sorted(v.schema_id for v in versions) == sorted(
            {next(iter(i)) for i in ids_by_schema.values()}
        )


def test_serve_with_a_bad_store_option_is_one_line() -> None:
    result = run_cli("registry", "serve", "--store", "postgres")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --store must be one of memory, dynamodb, auto, not 'postgres'"
