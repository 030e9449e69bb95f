"""How the batch importer's worker sorts an object's failures: the one list in
``trustpipe.transient`` says what is retried; anything else not transient sets the object aside
with its reason and the message is deleted (fakes for SQS and the import)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from trustpipe import announcement_queue
from trustpipe_importer import worker as worker_module
from trustpipe_importer.load import ForwardPendingError, Outcome
from trustpipe_importer.worker import Importer

EVENT = {
    "Records": [
        {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "scored"}, "object": {"key": "scored/x.avro", "eTag": "e", "size": 1}},
        }
    ]
}
MESSAGE = {
    "MessageId": "m1",
    "ReceiptHandle": "r1",
    "Body": json.dumps(EVENT),
    "Attributes": {"ApproximateReceiveCount": "2"},
}


class FakeSqs:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def delete_message(self, **_: Any) -> None:
        self.calls.append("delete")

    def change_message_visibility(self, VisibilityTimeout: int, **_: Any) -> None:
        self.calls.append(f"hide {VisibilityTimeout}")


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def handled(monkeypatch: pytest.MonkeyPatch, failure: BaseException | None) -> tuple[list[str], list[Any]]:
    """What the worker did with MESSAGE when its import raised ``failure`` (None: imported)."""
    aside: list[Any] = []

    def import_object(*_: Any) -> Outcome:
        if failure is not None:
            raise failure
        return Outcome("imported", 1)

    monkeypatch.setattr(worker_module, "import_object", import_object)
    monkeypatch.setattr(
        worker_module,
        "record_set_aside",
        lambda _c, event, kind, reason, body: aside.append((event.key, kind, reason)),
    )
    monkeypatch.setattr(announcement_queue, "retry_delay", lambda receives, jitter=None: 7)
    sqs = FakeSqs()
    Importer(sqs, None, lambda: None, "q", visibility_timeout=10_000).handle(MESSAGE)
    return sqs.calls, aside


@pytest.mark.parametrize(
    "failure",
    [
        client_error("ThrottlingException"),
        client_error("InternalError", 500),
        ForwardPendingError("3 verdicts wait"),
    ],
    ids=["throttled", "server-fault", "forward-pending"],
)
def test_transient_failures_keep_the_message_for_a_retry(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    calls, aside = handled(monkeypatch, failure)
    assert (calls, aside) == (["hide 7"], [])


def test_an_aws_refusal_that_is_not_transient_sets_the_object_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN S3 refusing the object itself (archived to Glacier: InvalidObjectState)
    calls, aside = handled(monkeypatch, client_error("InvalidObjectState", 403))
    # THEN the object is set aside with the refusal, the message deleted: it never loops
    assert aside == [("scored/x.avro", "ClientError", aside[0][2])]
    assert "InvalidObjectState" in aside[0][2]
    assert calls == ["delete"]


def test_an_imported_object_deletes_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    assert handled(monkeypatch, None) == (["delete"], [])
