"""The indexer as a Lambda function: Lambda's Kinesis events of the scored stream in, documents in
the search store (a fake) out, bad records set aside with their reason, the partial batch
response empty when every record is indexed or set aside."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.harness.kinesis_events import event, recorded, sequence
from tests.harness.scored import scored
from tests.harness.search import FakeSearch
from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedEncoder, InMemorySchemas
from trustpipe.workers import INDEXER
from trustpipe_deploy import stage_lambdas
from trustpipe_search import engine
from trustpipe_stream import aside, lambda_batch
from trustpipe_stream.batch import Rejected

SCORED_ID = 7
MAPPING_ERROR = {"type": "strict_dynamic_mapping_exception", "reason": "no [zz] here"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Store:
    """The fakes the indexer is built on: the search cluster, the template put, the set-asides."""

    def __init__(self, search: FakeSearch) -> None:
        self.search = search
        self.templates = 0
        self.aside: list[tuple[str, str, list[tuple[str, str]]]] = []

    def keep_aside(self, bucket: str) -> Any:
        def keep(shard: str, rejected: Sequence[Rejected]) -> None:
            self.aside.append((bucket, shard, [(r.record.sequence_number, r.reason) for r in rejected]))

        return keep


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    settings = json.loads((FIXTURES / "settings.json").read_text())
    settings |= {"search_url": "http://127.0.0.1:9", "registry_url": "http://127.0.0.1:9"}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    monkeypatch.setenv(lambda_batch.SETTINGS_ENV, str(tmp_path / "settings.json"))
    rows = scored(3, "m")
    refused = f"{rows[2]['enterprise_id']}/{rows[2]['message_id']}"
    s = Store(FakeSearch(lambda i, _seen: (400, MAPPING_ERROR) if i == refused else (201, None)))

    def ensure_template(_client: Any) -> None:
        s.templates += 1

    monkeypatch.setattr(engine, "connect", lambda _settings: s.search)
    monkeypatch.setattr(engine, "ensure_template", ensure_template)
    schemas = InMemorySchemas({SCORED_ID: contracts.load(contracts.SCORED_MESSAGE)})
    monkeypatch.setattr(AwsClients, "registry", lambda _self: schemas)
    monkeypatch.setattr(aside, "to_s3", lambda _s3, bucket, group: s.keep_aside(f"{bucket}/{group}"))
    return s


def framed(rows: list[dict[str, Any]]) -> list[bytes]:
    encoder = FramedEncoder(SCORED_ID, contracts.load(contracts.SCORED_MESSAGE))
    return [encoder.encode(r) for r in rows]


def test_the_function_indexes_the_scored_stream_and_sets_aside_what_it_cannot(store: Store) -> None:
    # GIVEN the handler the indexer's zip names, fresh (its worker is built on the first call)
    module = importlib.reload(importlib.import_module(stage_lambdas.handler_of(INDEXER).rsplit(".", 1)[0]))
    # WHEN Lambda hands it three scored messages, the third one the cluster refuses
    answer = module.handler(event(*framed(scored(3, "m"))), None)
    # THEN the batch is settled: two documents indexed, the refused one set aside with its reason
    assert answer == {"batchItemFailures": []}
    assert [d["meta"]["_id"] for d in store.search.sent[0]] == [
        f"{r['enterprise_id']}/{r['message_id']}" for r in scored(3, "m")
    ]
    assert store.aside == [
        (
            "a/indexer",
            "shardId-000000000006",
            [(sequence(2), "strict_dynamic_mapping_exception: no [zz] here")],
        )
    ]
    # WHEN it is invoked again, warm, with Lambda's recorded event (its data is no framed Avro)
    again = module.handler(recorded(), None)
    # THEN the record is set aside with the decoder's reason, and nothing was built twice
    assert again == {"batchItemFailures": []}
    (bucket, shard, [(seq, reason)]) = store.aside[1]
    assert (bucket, shard, seq) == (
        "a/indexer",
        "shardId-000000000006",
        recorded()["Records"][0]["kinesis"]["sequenceNumber"],
    )
    assert reason.startswith("BadMagicByteError")
    assert store.templates == 1 and len(store.search.sent) == 1


def test_an_event_that_is_not_a_kinesis_batch_is_refused_before_the_indexer_is_built(store: Store) -> None:
    module = importlib.reload(importlib.import_module("trustpipe_search.lambda_handler"))
    with pytest.raises(ValueError, match="not a Kinesis event"):
        module.handler({"Records": [{"kinesis": {}}]}, None)
    assert store.templates == 0 and store.search.sent == []
