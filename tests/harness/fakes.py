"""Fakes of AWS clients for unit tests (no network)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError

from trustpipe_alerter.worker import supersedes
from trustpipe_stream.processor import ShardProcessor, StreamRecord, StreamWorker


class FakeKinesis:
    """Refuses the records whose partition key is in ``refuse`` for the first ``times`` calls
    (throttled); fails a whole call holding a key ``invalid`` says Kinesis would not take, as
    PutRecords answers a request that fails validation."""

    def __init__(
        self,
        refuse: set[str] = frozenset(),  # type: ignore[assignment]
        times: int = 1,
        invalid: Callable[[str], bool] = lambda _key: False,
    ) -> None:
        self.refuse, self.times, self.invalid = refuse, times, invalid
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: list[dict[str, Any]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        if any(self.invalid(r["PartitionKey"]) for r in Records):
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "1 validation error detected"}},
                "PutRecords",
            )
        failing = len(self.calls) <= self.times
        out = []
        for r in Records:
            if failing and r["PartitionKey"] in self.refuse:
                out.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
                )
            else:
                self.stored.append(r)
                out.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-0"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in out), "Records": out}


SQS_ID_CHARACTERS = re.compile(r"""[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}""")
"""What SQS accepts as a FIFO message's MessageGroupId and MessageDeduplicationId (SendMessage
API reference): 1-128 alphanumerics and punctuation. moto does not check it; this fake does."""


class FakeSqs:
    """SendMessageBatch that records each call and refuses, as SQS does, entries whose group or
    deduplication id it would not take (``InvalidParameterValue``, the sender's fault), or every
    entry with ``refuse`` (``code``: SQS's ``InternalError`` unless told)."""

    def __init__(self, refuse: bool = False, code: str = "InternalError") -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.refuse, self.code = refuse, code

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append((QueueUrl, Entries))
        code = self.code if self.refuse else "InvalidParameterValue"
        failed = [
            {"Id": e["Id"], "Code": code, "SenderFault": code != "InternalError"}
            for e in Entries
            if self.refuse or not all(valid_sqs_id(e.get(k)) for k in FIFO_IDS)
        ]
        ok = [{"Id": e["Id"]} for e in Entries if e["Id"] not in {f["Id"] for f in failed}]
        return {"Successful": ok, "Failed": failed}


FIFO_IDS = ("MessageGroupId", "MessageDeduplicationId")


def valid_sqs_id(value: object) -> bool:
    """Whether SQS takes ``value`` as a FIFO message's group or deduplication id."""
    return isinstance(value, str) and SQS_ID_CHARACTERS.fullmatch(value) is not None


class FakeLedger:
    """The alerter's actions table in memory: each message key's state ("pending", "sent"), and
    the action and promotion claimed (``supersedes`` decides a take-over, as DynamoDB's condition)."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self.claimed: dict[str, tuple[str, int]] = {}
        self.claims: list[str] = []

    def claim(self, actions: Sequence[dict[str, Any]]) -> list[str]:
        states = []
        for a in actions:
            key = f"{a['enterprise_id']}/{a['message_id']}"
            claimed = self.claimed.get(key)
            if claimed is not None and supersedes(a, *claimed):
                del self.items[key]  # a later promotion's other action takes the claim over
            state = self._claim(key)
            if state == "new":
                self.claimed[key] = (a["action"], a.get("model_promotion", 0))
            states.append(state)
        return states

    def _claim(self, key: str) -> str:
        self.claims.append(key)
        if key in self.items:
            return self.items[key]
        self.items[key] = "pending"
        return "new"

    def mark_sent(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.items[key] = "sent"


class FakeCheckpointer:
    """The KCL's checkpointer: the positions checkpointed, in order."""

    def __init__(self) -> None:
        self.at: list[str | None] = []

    def checkpoint(self, sequence: str | None = None, sub: int | None = None) -> None:
        self.at.append(sequence)


def deliver(
    worker: StreamWorker,
    batch: Sequence[StreamRecord],
    shard_id: str = "shardId-000000000001",
    sleep: Callable[[float], None] = lambda _s: None,
) -> FakeCheckpointer:
    """``batch`` handed to ``worker`` by the shard processor, as the KCL delivers a batch (no
    waits between retries, unless ``sleep`` waits or refuses); the checkpoints it made."""
    checkpointer = FakeCheckpointer()
    delivered = SimpleNamespace(
        records=[
            SimpleNamespace(
                binary_data=r.data,
                partition_key=r.partition_key,
                sequence_number=r.sequence_number,
                sub_sequence_number=r.sub_sequence_number,
                timestamp_millis=r.arrived_ms,
            )
            for r in batch
        ],
        checkpointer=checkpointer,
        millis_behind_latest=0,
    )
    processor = ShardProcessor(worker, sleep=sleep, jitter=lambda: 1.0)
    processor.shard_id = shard_id
    processor.process_records(delivered)
    return checkpointer
