"""Settle the stream path, then reconcile: wait until every produced message is stored and every
QUARANTINE or LABEL verdict has its action (received from the enterprises' action queues as their
mail systems would), then say what was lost, doubled, missing or unexpected. The demo, the chaos
run and the stream path's tests all settle so."""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder
from trustpipe.errors import DatabaseUnreachableError
from trustpipe_importer.app import connector

ROWS_SQL = (
    "SELECT message_id, source, verdict, enterprise_id, received_at "
    "FROM scored_messages WHERE message_id = ANY(%(ids)s)"
)


class Stored(NamedTuple):
    """A message's stored verdict, as the web app reads it."""

    source: str
    verdict: str
    enterprise_id: str
    received_at: datetime


@dataclass
class Settled:
    """What the store and the action queues hold of the produced messages once settled."""

    produced: frozenset[str]
    rows: dict[str, Stored]
    """The produced messages stored, by message id."""
    actions: list[dict[str, Any]] = field(default_factory=list)
    """Every action received while settling (other runs' too), in the order received."""
    settle_s: float = 0.0
    """How long until every stage was complete (or the timeout)."""

    @property
    def actionable(self) -> set[str]:
        return {m for m, row in self.rows.items() if row.verdict in contracts.ACTIONABLE_VERDICTS}

    @property
    def lost(self) -> set[str]:
        return set(self.produced) - set(self.rows)

    @property
    def delivered(self) -> Counter[str]:
        """How many actions each produced message received."""
        return Counter(a["message_id"] for a in self.actions if a["message_id"] in self.produced)

    @property
    def duplicate_actions(self) -> int:
        return sum(n - 1 for n in self.delivered.values() if n > 1)

    @property
    def missing_actions(self) -> set[str]:
        return self.actionable - set(self.delivered)

    @property
    def unexpected_actions(self) -> set[str]:
        return set(self.delivered) - self.actionable

    @property
    def complete(self) -> bool:
        """Every message stored and every actionable one acted on."""
        return not self.lost and not self.missing_actions

    @property
    def reconciled(self) -> bool:
        """Complete, and nothing acted on twice or without a reason."""
        return self.complete and not self.duplicate_actions and not self.unexpected_actions


def settle(
    aws: AwsClients,
    produced: Collection[str],
    *,
    timeout: float,
    every: float = 1.0,
    linger: float = 0.0,
    mailbox: list[dict[str, Any]] | None = None,
    on_poll: Callable[[], object] | None = None,
) -> Settled:
    """Until every message of ``produced`` is stored and every actionable one has its action, or
    ``timeout`` seconds; then, after ``linger`` seconds more, the actions that came late (a
    duplicate would come now). Actions are received into ``mailbox`` (kept by a caller that
    settles more than once); ``on_poll`` runs before each look (the on-call's chores). A
    PostgreSQL that is restarting is waited for."""
    out = Settled(frozenset(produced), {}, mailbox if mailbox is not None else [])
    began = time.monotonic()
    while True:
        if on_poll is not None:
            on_poll()
        out.actions += drain_actions(aws)
        stored = _stored(aws, out.produced)
        if stored is not None:
            out.rows = stored
        if out.complete or time.monotonic() - began > timeout:
            break
        time.sleep(every)
    out.settle_s = round(time.monotonic() - began, 1)
    if linger:
        time.sleep(linger)
        out.actions += drain_actions(aws)
    return out


def _stored(aws: AwsClients, ids: frozenset[str]) -> dict[str, Stored] | None:
    """The stored rows of ``ids``, or None while PostgreSQL is away."""
    with _quiet_db(aws) as conn:
        if conn is None:
            return None
        return {m: Stored(*rest) for m, *rest in conn.execute(ROWS_SQL, {"ids": list(ids)}).fetchall()}


@contextmanager
def _quiet_db(aws: AwsClients) -> Iterator[Any]:
    """A connection, or None while PostgreSQL is still coming back."""
    try:
        conn = connector(aws.settings)()
    except DatabaseUnreachableError:
        yield None
        return
    with conn:
        yield conn


def drain_actions(aws: AwsClients) -> list[dict[str, Any]]:
    """Every action on the enterprises' queues, received and deleted (the caller is their mail system)."""
    sqs = aws.client("sqs")
    decoder = FramedDecoder(aws.registry(), contracts.load(contracts.ACTION))
    out = []
    for url in aws.settings.action_queue_urls.values():
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for m in messages:
                out.append(decoder.decode(base64.b64decode(m["Body"])))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out
