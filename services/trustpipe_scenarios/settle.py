"""Settle the stream path, then reconcile: wait until every produced message is stored and every
QUARANTINE or LABEL verdict has its action (received from the enterprises' action queues as their
mail systems would), then say what was lost, doubled, missing or unexpected. The demo, the chaos
run and the stream path's tests all settle so.

A message is the pair (enterprise, message id) everywhere here: one Message-ID that reached two
enterprises is two messages, stored, acted on and counted twice."""

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
from trustpipe.db.connect import connector
from trustpipe.errors import DatabaseUnreachableError

Pair = tuple[str, str]
"""(enterprise id, message id): one message."""
ROWS_SQL = (
    "SELECT enterprise_id, message_id, source, verdict, received_at FROM scored_messages "
    "WHERE (enterprise_id, message_id) IN (SELECT * FROM unnest(%(enterprises)s::text[], %(ids)s::text[]))"
)


class Stored(NamedTuple):
    """A message's stored verdict, as the web app reads it."""

    source: str
    verdict: str
    received_at: datetime


@dataclass
class Settled:
    """What the store and the action queues hold of the produced messages once settled."""

    produced: frozenset[Pair]
    rows: dict[Pair, Stored]
    """The produced messages stored, by (enterprise, message id)."""
    actions: list[dict[str, Any]] = field(default_factory=list)
    """Every action received while settling (other runs' too), in the order received."""
    settle_s: float = 0.0
    """How long until every stage was complete (or the timeout)."""

    @property
    def actionable(self) -> set[Pair]:
        return {m for m, row in self.rows.items() if row.verdict in contracts.ACTIONABLE_VERDICTS}

    @property
    def lost(self) -> set[Pair]:
        return set(self.produced) - set(self.rows)

    @property
    def delivered(self) -> Counter[Pair]:
        """How many actions each produced message received."""
        return Counter(m for m in map(pair_of, self.actions) if m in self.produced)

    @property
    def duplicate_actions(self) -> int:
        return sum(n - 1 for n in self.delivered.values() if n > 1)

    @property
    def missing_actions(self) -> set[Pair]:
        return self.actionable - set(self.delivered)

    @property
    def unexpected_actions(self) -> set[Pair]:
        return set(self.delivered) - self.actionable

    @property
    def complete(self) -> bool:
        """Every message stored and every actionable one acted on."""
        return not self.lost and not self.missing_actions

    @property
    def reconciled(self) -> bool:
        """Complete, and nothing acted on twice or without a reason."""
        return self.complete and not self.duplicate_actions and not self.unexpected_actions


def pair_of(record: dict[str, Any]) -> Pair:
    """The message a row, verdict or action is about: (its enterprise, its message id)."""
    return record["enterprise_id"], record["message_id"]


def settle(
    aws: AwsClients,
    produced: Collection[Pair],
    *,
    timeout: float,
    every: float = 1.0,
    linger: float = 0.0,
    mailbox: list[dict[str, Any]] | None = None,
    on_poll: Callable[[], object] | None = None,
) -> Settled:
    """Until every message of ``produced`` (enterprise, message id) is stored and every
    actionable one has its action, or ``timeout`` seconds; then, after ``linger`` seconds more,
    the actions that came late (a duplicate would come now). Actions are received into
    ``mailbox`` (kept by a caller that settles more than once); ``on_poll`` runs before each
    look (the on-call's chores). A PostgreSQL that is restarting is waited for."""
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


def _stored(aws: AwsClients, messages: frozenset[Pair]) -> dict[Pair, Stored] | None:
    """The stored rows of ``messages``, or None while PostgreSQL is away."""
    with _quiet_db(aws) as conn:
        if conn is None:
            return None
        rows = conn.execute(ROWS_SQL, pair_params(messages)).fetchall()
        return {(e, m): Stored(*rest) for e, m, *rest in rows}


def pair_params(messages: Collection[Pair]) -> dict[str, list[str]]:
    """``messages`` as the query parameters ``enterprises`` and ``ids``: parallel arrays, which
    ``unnest(%(enterprises)s::text[], %(ids)s::text[])`` makes rows of pairs again."""
    return {"enterprises": [e for e, _ in messages], "ids": [m for _, m in messages]}


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
    return [a for actions in drain_action_queues(aws).values() for a in actions]


def drain_action_queues(aws: AwsClients) -> dict[str, list[dict[str, Any]]]:
    """Every action on each enterprise's queue, by that enterprise, received and deleted."""
    sqs = aws.client("sqs")
    decoder = FramedDecoder(aws.registry(), contracts.load(contracts.ACTION))
    out: dict[str, list[dict[str, Any]]] = {}
    for enterprise, url in aws.settings.action_queue_urls.items():
        got = out.setdefault(enterprise, [])
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for m in messages:
                got.append(decoder.decode(base64.b64decode(m["Body"])))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out
