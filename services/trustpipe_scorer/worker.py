"""The scorer: each batch of raw records decoded (any sensor version, resolved to the v4 reader),
scored with the current model, and put on the scored stream as framed ScoredMessages. Pure
apart from what is passed in: the decoder's registry lookup, the model source, the put and the
error destination.

A record's enterprise is the one its channel authenticated: the front door stamps the caller's
enterprise on the raw record's partition key (``tenants.partition_key``), and the scorer reads it
back from there, never from the record. A record whose own ``enterprise_id`` disagrees
(``EnterpriseMismatchError``), or whose channel is an enterprise this deployment does not serve
(``UnknownEnterpriseError``), is never scored; nor is one that breaks a record rule
(``trustpipe.records``: a negative count, a NUL in a string, a message id that fits no partition
key, a time from 1970): ``RecordRuleError`` names the rule.

A record that cannot be decoded (bad magic byte, unknown schema id, truncated, oversize, not the
schema it claims), fails the channel check or breaks a rule is ``Rejected`` with its reason and
the shard moves on. Any other error escapes: a transient one (a failed put, the registry unreachable, no model
yet) makes the processor retry the batch, one of the record's own (a record the rules let pass
that the features still cannot take, a partition key Kinesis refuses) makes it split the batch
until that record is set aside alone. Either way records already put are put again: the
importers' upsert keyed by (enterprise, message id) makes that harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trustpipe import contracts, metrics, tenants
from trustpipe import records as record_rules
from trustpipe.codec import CodecError, FramedDecoder, FramedEncoder
from trustpipe.errors import TransientError
from trustpipe.model.artifact import ModelError
from trustpipe.model.features import Reputation, domain_of
from trustpipe.model.scorer import TrustModel
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_scorer.model_source import CurrentModel
from trustpipe_stream.batch import Rejected, StreamRecord
from trustpipe_stream.put import Entry

log = logging.getLogger("trustpipe.scorer")
MAX_MESSAGE_BYTES = 256 * 1024
"""A sensor's metadata record is a few hundred bytes (no bodies, no attachments' content); a
record past this is not one and is set aside unread (the decoder's ``max_bytes``)."""


class NoModelError(TransientError):
    """No model to score with (none promoted yet, or the current one does not load): the batch
    waits for one rather than being set aside record by record."""


@dataclass
class ScorerWorker:
    """A StreamWorker for the raw stream."""

    decoder: FramedDecoder
    """Built with ``max_bytes=MAX_MESSAGE_BYTES``."""
    writer_version: Callable[[int], int]
    """Sensor schema version of a registry id (the ScoredMessage records it)."""
    model: CurrentModel
    encoder: FramedEncoder
    put: Callable[[Iterable[Entry]], None]
    keep_aside: Callable[[str, Sequence[Rejected]], None]
    enterprises: frozenset[str] = frozenset()
    """The enterprises served (``Settings.enterprises``): a channel outside it is refused."""
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    fresh: FreshCounters | None = None
    """The counters in Redis (``Settings.redis_url``): None scores with the artifact's snapshot."""
    counts: dict[str, int] = field(default_factory=lambda: {"scored": 0, "set_aside": 0})

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        try:
            model = self.model.get()  # once per batch: a new model applies from the next batch
        except ModelError as err:
            raise NoModelError(f"no model to score with: {err}") from err
        scored_at = self.clock()
        checked: list[tuple[StreamRecord, dict[str, Any], str]] = []
        rejected: list[Rejected] = []
        for r in records:
            try:
                checked.append(self._check(r, scored_at))
            except (
                CodecError,
                tenants.EnterpriseMismatchError,
                tenants.UnknownEnterpriseError,
                record_rules.RecordRuleError,
            ) as err:
                rejected.append(Rejected(r, f"{type(err).__name__}: {err}"))
        reputation = None
        if self.fresh is not None:
            batch = [(enterprise, message) for _, message, enterprise in checked]
            reputation = self.fresh.reputation(model.artifact, batch, scored_at.date())
        out = [self._score(model, r, m, e, scored_at, reputation) for r, m, e in checked]
        self.put(out)
        self.counts["scored"] += len(out)
        return rejected

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        self.keep_aside(shard_id, rejected)
        self.counts["set_aside"] += len(rejected)

    def figures(self) -> list[tuple[metrics.Metric, float]]:
        """The scorer's own figures since the last call (the processor emits them per batch)."""
        if self.fresh is None:
            return []
        degraded, self.fresh.degraded = self.fresh.degraded, 0
        return [(metrics.COUNTERS_DEGRADED, degraded)]

    def _check(self, r: StreamRecord, scored_at: datetime) -> tuple[StreamRecord, dict[str, Any], str]:
        """The record decoded, with the enterprise its channel authenticated; or the error that
        sets it aside."""
        message = self.decoder.decode(r.data)
        channel = tenants.enterprise_of_key(r.partition_key)
        enterprise = tenants.check_claim(message["enterprise_id"], channel, self.enterprises)
        record_rules.check(message, scored_at)
        return r, message, enterprise

    def _score(
        self,
        model: TrustModel,
        r: StreamRecord,
        message: dict[str, Any],
        enterprise: str,
        scored_at: datetime,
        reputation: Reputation | None,
    ) -> Entry:
        verdict = model.score(message, reputation)
        scored = {
            "message_id": message["message_id"],
            "enterprise_id": enterprise,
            "received_at": message["received_at"],
            "scored_at": scored_at,
            "from_address": message["from_address"],
            "from_display_name": message["from_display_name"],
            "from_domain": domain_of(message["from_address"]),
            "reply_to": message.get("reply_to"),
            "sending_ip": message["sending_ip"],
            "score": verdict.score,
            "verdict": verdict.verdict,
            "reasons": verdict.reasons,
            "model_version": model.version,
            "model_promotion": model.artifact.promotion,
            "source": "STREAM",
            "source_ref": f"{r.shard_id}:{r.sequence_number}",
            "sensor_schema_version": self.writer_version(self.decoder.schema_id(r.data)),
        }
        return self.encoder.encode(scored), tenants.partition_key(enterprise, message["message_id"])


def sensor_version_of(lookup: Callable[[int], contracts.Schema]) -> Callable[[int], int]:
    """Registry id -> sensor schema version (0 when the schema is none of the sensors')."""
    cache: dict[int, int] = {}

    def version(schema_id: int) -> int:
        if schema_id not in cache:
            cache[schema_id] = contracts.email_metadata_version_of(lookup(schema_id)) or 0
        return cache[schema_id]

    return version
