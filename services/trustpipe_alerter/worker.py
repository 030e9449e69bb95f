"""The alerter's worker: each verdict on the imported stream that asks for action becomes one
``Action`` (schemas/action.avsc) on its enterprise's action queue, and the batch's new actions
one alert per enterprise to its users' topic (slide 32). PASS_THROUGH produces nothing.

**One action per message**, a message being the pair (enterprise, message id): Message-IDs are
chosen by senders, and one campaign to two enterprises carries one Message-ID to both, which must
act at both. Before sending, the alerter claims the message's key (``tenants.message_key``) in
the actions table with a conditional write; a message already marked sent is skipped, so a
redelivered record, a restarted alerter or the same message from both paths acts once. If the alerter dies
after sending but before marking, the redelivery sends again with the same action id: the FIFO
queue drops it as a duplicate (5-minute window) and the mail system treats an action id as done
once, so a repeat is harmless.

**A later model's different action supersedes.** Verdicts are ordered by their model's promotion
number (``ScoredMessage.model_promotion``; a rollback promotes the older model again under a
higher number). When a verdict of a higher promotion asks for another action than the one
claimed (LABEL where the regressed model quarantined, or QUARANTINE where it labelled), the claim
is taken over (``supersedes``) and the new action sent, under its own action id and with its
promotion, which tells the mail system which of a message's actions stands. The same action again
under a higher promotion, or any action under a lower one, is not sent. A verdict that asks for
nothing (PASS_THROUGH) never reaches the alerter: an action already sent is not withdrawn.

The same holds when the processor splits a failing batch to find the record that fails: a half
processed again finds its messages claimed ("pending"), sends them again with the same action
ids (dropped by the queue as duplicates) and marks them sent; only an alert may be repeated.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from trustpipe import contracts, tenants
from trustpipe.codec import CodecError, FramedDecoder
from trustpipe.tenants import UnknownEnterpriseError
from trustpipe.transient import is_transient
from trustpipe_stream.batch import Rejected, StreamRecord, with_retries

log = logging.getLogger("trustpipe.alerter")
MARK_ATTEMPTS = 8
"""Tries at marking a batch's actions sent (backoff from 0.5 s doubling to 30 s, jittered: up to
about a minute) before the batch fails and is retried whole."""
LABEL_TEXT = "Caution: this message may not be from who it claims ({reasons})."

Action = dict[str, Any]


class Ledger(Protocol):
    """The actions issued, by message key (``action_key``)."""

    def claim(self, actions: Sequence[Action]) -> list[str]:
        """Record each action as pending unless its message has one that it does not
        ``supersede``; each message's state after: "new" (claimed now), "pending" (claimed
        before, maybe not sent) or "sent"."""
        ...

    def mark_sent(self, keys: Sequence[str]) -> None:
        """Mark the actions of these message keys sent."""
        ...


def action_key(action: Action) -> str:
    """The key of the message an action is for: ``<enterprise>/<message id>``."""
    return tenants.message_key(action["enterprise_id"], action["message_id"])


def supersedes(action: Action, claimed_action: str, claimed_promotion: int) -> bool:
    """Whether ``action`` takes over a message's claim for ``claimed_action`` made under
    ``claimed_promotion``: a later promotion's model asks for something else."""
    return bool(action["model_promotion"] > claimed_promotion and action["action"] != claimed_action)


def _claimed(action: Action) -> tuple[str, int]:
    return action["action"], action["model_promotion"]


def to_action(verdict: dict[str, Any], issued_at: datetime) -> Action:
    """The Action a stored QUARANTINE/LABEL verdict asks for; its id is
    ``<enterprise>/<message id>/<model version>/<promotion>`` (a rollback promotes an older
    version again: its action must not share the id the mail system already took)."""
    key = tenants.message_key(verdict["enterprise_id"], verdict["message_id"])
    promotion = int(verdict.get("model_promotion", 0))
    return {
        "action_id": f"{key}/{verdict['model_version']}/{promotion}",
        "message_id": verdict["message_id"],
        "enterprise_id": verdict["enterprise_id"],
        "action": verdict["verdict"],
        "label_text": (
            LABEL_TEXT.format(reasons=", ".join(verdict["reasons"]) or "low trust score")
            if verdict["verdict"] == "LABEL"
            else None
        ),
        "score": verdict["score"],
        "reasons": list(verdict["reasons"]),
        "model_version": verdict["model_version"],
        "model_promotion": promotion,
        "issued_at": issued_at,
    }


@dataclass
class AlerterWorker:
    """A StreamWorker for the imported stream."""

    decoder: FramedDecoder
    ledger: Ledger
    enterprises: frozenset[str]
    """The enterprises this deployment serves (``Settings.enterprises``): a verdict for another
    is set aside."""
    send_actions: Callable[[Sequence[Action]], None]
    alert: Callable[[str, Sequence[Action]], None]
    keep_aside: Callable[[str, Sequence[Rejected]], None]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    counts: dict[str, int] = field(
        default_factory=lambda: {"actions": 0, "repeats": 0, "passed": 0, "set_aside": 0}
    )

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        rejected: list[Rejected] = []
        wanted: dict[str, Action] = {}  # by message key: a message twice in a batch acts once
        issued_at = self.clock()
        for r in records:
            try:
                action = self._action_of(r, issued_at)
            except (CodecError, UnknownEnterpriseError) as err:
                rejected.append(Rejected(r, f"{type(err).__name__}: {err}"))
                continue
            if action is None:
                self.counts["passed"] += 1
            elif action_key(action) in wanted:
                self.counts["repeats"] += 1
                if supersedes(action, *_claimed(wanted[action_key(action)])):
                    wanted[action_key(action)] = action
            else:
                wanted[action_key(action)] = action
        states = self.ledger.claim(list(wanted.values()))
        to_send = [a for a, state in zip(wanted.values(), states, strict=True) if state != "sent"]
        self.counts["repeats"] += len(wanted) - len(to_send)
        self.send_actions(to_send)
        by_enterprise: dict[str, list[Action]] = defaultdict(list)
        for action in to_send:
            by_enterprise[action["enterprise_id"]].append(action)
        for enterprise_id, actions in by_enterprise.items():
            self.alert(enterprise_id, actions)
        self._mark_sent([action_key(a) for a in to_send])
        self.counts["actions"] += len(to_send)
        return rejected

    def _mark_sent(self, keys: list[str]) -> None:
        """Mark the sent actions, retrying in place: failing the batch here would send them all
        again (harmless within the FIFO queue's five-minute deduplication, a second copy after it)."""

        def warn(_failures: int, err: Exception, delay: float) -> None:
            log.warning("marking %d actions sent failed (%s); retrying in %.1fs", len(keys), err, delay)

        with_retries(
            lambda: self.ledger.mark_sent(keys), self.sleep, warn, attempts=MARK_ATTEMPTS, retry=is_transient
        )

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        self.keep_aside(shard_id, rejected)
        self.counts["set_aside"] += len(rejected)

    def _action_of(self, r: StreamRecord, issued_at: datetime) -> Action | None:
        verdict = self.decoder.decode(r.data)
        if verdict["verdict"] not in contracts.ACTIONABLE_VERDICTS:
            return None
        if verdict["enterprise_id"] not in self.enterprises:
            raise UnknownEnterpriseError(
                f"enterprise {verdict['enterprise_id'][:40]!r} is not served by this deployment"
            )
        return to_action(verdict, issued_at)
