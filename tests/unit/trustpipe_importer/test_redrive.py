"""The importer DLQ's messages back onto the importer queue (in-process moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trustpipe_importer.redrive import RedriveError, redrive


@pytest.fixture
def queues() -> Iterator[tuple[Any, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        yield sqs, sqs.create_queue(QueueName="dlq")["QueueUrl"], sqs.create_queue(QueueName="q")["QueueUrl"]


def bodies(sqs: Any, url: str) -> list[str]:
    out = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
        "Messages"
    ):
        out += [m["Body"] for m in got]
    return out


def test_every_message_moves_back_once_in_batches(queues: tuple[Any, str, str]) -> None:
    sqs, dlq, queue = queues
    sent = [f'{{"object": {n}}}' for n in range(23)]
    for body in sent:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    assert redrive(sqs, dlq, queue, limit=12) == 12
    assert redrive(sqs, dlq, queue) == 11
    assert redrive(sqs, dlq, queue) == 0
    assert sorted(bodies(sqs, queue)) == sorted(sent)
    assert bodies(sqs, dlq) == []


class Refusing:
    """SQS refusing one message of each batch sent back."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        ok = self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries[1:])
        failed = [
            {"Id": Entries[0]["Id"], "Code": "InternalError", "Message": "try again", "SenderFault": False}
        ]
        return {"Successful": ok.get("Successful", []), "Failed": failed}


def test_a_message_sqs_refuses_stays_in_the_dlq_with_a_clear_error(queues: tuple[Any, str, str]) -> None:
    sqs, dlq, queue = queues
    for n in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"m{n}")
    with pytest.raises(
        RedriveError, match="moved 2; 1 could not be sent back and stay in the DLQ: InternalError"
    ):
        redrive(Refusing(sqs), dlq, queue)
    assert len(bodies(sqs, queue)) == 2
    assert bodies(sqs, dlq) == []  # hidden for the redrive's minute, not gone:
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
