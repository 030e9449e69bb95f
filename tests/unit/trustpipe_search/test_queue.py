"""The queue indexer against fakes: a message is deleted only after every announced object's
bulk answered; a transient failure keeps it (hidden for a backoff), bad input is set aside."""

from __future__ import annotations

import io
import json
from typing import Any

from botocore.exceptions import ClientError
from opensearchpy.exceptions import ConnectionError as SearchConnectionError

from tests.harness.scored import scored
from tests.harness.search import FakeSearch
from trustpipe import contracts
from trustpipe.codec import container_bytes
from trustpipe_search.queue import QueueIndexer


def body(*keys: str) -> str:
    records = [
        {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "scored"}, "object": {"key": k, "eTag": "e1"}},
        }
        for k in keys
    ]
    return json.dumps({"Type": "Notification", "Message": json.dumps({"Records": records})})


class FakeSqs:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.deleted: list[str] = []
        self.hidden: list[tuple[str, int]] = []

    def receive_message(self, **_: Any) -> dict[str, Any]:
        out, self.messages = self.messages, []
        return {"Messages": out}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:
        self.hidden.append((ReceiptHandle, VisibilityTimeout))


class FakeS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.put: dict[str, bytes] = {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        self.put[Key] = Body


def message(n: int, text: str) -> dict[str, Any]:
    return {
        "MessageId": f"m{n}",
        "ReceiptHandle": f"r{n}",
        "Body": text,
        "Attributes": {"ApproximateReceiveCount": "1"},
    }


def indexer(sqs: FakeSqs, s3: FakeS3, search: Any) -> QueueIndexer:
    return QueueIndexer(sqs, s3, search, "queue", "archive", wait_seconds=0, jitter=lambda: 1.0)


GOOD = container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(7, "q"))


def test_good_objects_are_indexed_and_bad_input_set_aside_before_the_messages_are_deleted() -> None:
    sqs = FakeSqs(
        [message(1, body("a.avro", "gone.avro")), message(2, "not json"), message(3, body("junk.avro"))]
    )
    s3 = FakeS3({"a.avro": GOOD, "junk.avro": b"not avro at all"})
    search = FakeSearch()
    counts = indexer(sqs, s3, search).run(once=True)
    assert (counts.objects, counts.indexed, counts.set_aside) == (1, 7, 3)
    assert sqs.deleted == ["r1", "r2", "r3"] and sqs.hidden == []
    reasons = [json.loads(line)["reason"] for v in s3.put.values() for line in v.splitlines()]
    assert sorted(r.split(":")[0] for r in reasons) == [
        "BadMagicByteError",
        "MissingObject",
        "not an SNS/S3 notification",
    ]


def test_a_search_store_that_does_not_answer_keeps_the_message_for_a_later_try() -> None:
    class Down(FakeSearch):
        def bulk(self, body: str, *_a: Any, **_k: Any) -> dict[str, Any]:
            raise SearchConnectionError("N/A", "connection refused", None)

    sqs = FakeSqs([message(1, body("a.avro"))])
    counts = indexer(sqs, FakeS3({"a.avro": GOOD}), Down()).run(once=True)
    assert counts.retried == 1
    assert sqs.deleted == [] and sqs.hidden == [("r1", 5)]


def test_a_long_object_keeps_its_message_hidden_until_it_is_indexed() -> None:
    import time

    class Slow(FakeSearch):
        def bulk(self, body: str, *a: Any, **k: Any) -> dict[str, Any]:
            time.sleep(0.35)
            return super().bulk(body, *a, **k)

    sqs = FakeSqs([message(1, body("a.avro"))])
    worker = indexer(sqs, FakeS3({"a.avro": GOOD}), Slow())
    worker.visibility_timeout = 0.2  # type: ignore[assignment]
    worker.run(once=True)
    assert sqs.hidden and all(h == ("r1", 0.2) for h in sqs.hidden)
    assert sqs.deleted == ["r1"]
