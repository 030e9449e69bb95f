"""The alerter's worker on fakes: a fake ledger, its actions sent through the real
``ActionQueues`` to a fake SQS that checks group and deduplication ids as SQS does; what it sent,
alerted and set aside kept for the test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tests.harness.fakes import FakeLedger, FakeSqs
from trustpipe import contracts
from trustpipe.codec import FramedDecoder, FramedEncoder, InMemorySchemas
from trustpipe_alerter.channels import ActionQueues
from trustpipe_alerter.worker import Action, AlerterWorker
from trustpipe_stream.processor import Rejected, StreamRecord

SCORED = contracts.load(contracts.SCORED_MESSAGE)
SCORED_ID = 7
"""The id the verdicts' writer schema (ScoredMessage) is known under."""


class AlerterOnFakes:
    """An ``AlerterWorker`` serving the enterprises of ``queues`` (enterprise -> queue URL)."""

    def __init__(self, queues: Mapping[str, str], now: datetime) -> None:
        self.ledger = FakeLedger()
        self.sent: list[Action] = []
        self.sqs = FakeSqs()
        self.alerts: list[tuple[str, list[str]]] = []
        self.aside: list[Rejected] = []
        sender = ActionQueues(self.sqs, dict(queues), FramedEncoder(3, contracts.load(contracts.ACTION)))

        def send(actions: Sequence[Action]) -> None:
            sender.send(actions)
            self.sent.extend(actions)

        self.worker = AlerterWorker(
            decoder=FramedDecoder(InMemorySchemas({SCORED_ID: SCORED}), SCORED),
            ledger=self.ledger,
            enterprises=frozenset(queues),
            send_actions=send,
            alert=lambda ent, actions: self.alerts.append((ent, [a["message_id"] for a in actions])),
            keep_aside=lambda _shard, rejected: self.aside.extend(rejected),
            clock=lambda: now,
        )

    def run(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        rejected = self.worker.process(records)
        if rejected:
            self.worker.set_aside("shardId-0", rejected)
        return rejected

    def on_queues(self) -> list[tuple[str, dict[str, Any]]]:
        """(queue URL, entry) of every entry sent, in order."""
        return [(url, entry) for url, entries in self.sqs.calls for entry in entries]
