"""The stream importer: micro-batches of the scored stream into PostgreSQL with the batch
importer's own load path (`load.upsert`: COPY to staging, idempotent upsert keyed by enterprise,
message id and the message's time), then, after the commit, the QUARANTINE and LABEL verdicts
that upsert stored onto the imported stream for the alerters (slide 68), each with its message's
partition key (`tenants.partition_key`): an alert never precedes its stored verdict, and a
verdict the store kept a newer one over is not forwarded.

The upsert notes the verdicts it stored in ``import_forwards`` in its own transaction; they are
forwarded from there and the notes dropped. The KCL hands each shard's records in batches of up
to ``maxRecords``; the processor checkpoints once ``process`` returned, so a crash between commit
and forward redelivers rows that are already stored (the upsert leaves them as they are) and
forwards the verdicts still noted, once.

A row PostgreSQL refuses (a NUL in a string: a ``DataError``) rolls the batch's transaction back;
the processor halves the batch until that record stands alone and it goes to ``import_errors``,
while the halves' upserts and forwards repeat as harmlessly as a redelivery.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from trustpipe.codec import CodecError, FramedDecoder
from trustpipe.db.partitions import DayPartitions
from trustpipe_importer.load import SCORED_MESSAGE, TARGETS, Connect, Forward, forward_pending_of, upsert
from trustpipe_stream.batch import Rejected, StreamRecord

log = logging.getLogger("trustpipe.importer")


@dataclass
class StreamImporter:
    """A StreamWorker for the scored stream."""

    decoder: FramedDecoder
    connect: Connect
    forward: Forward
    """Stored QUARANTINE/LABEL verdicts onto the imported stream (``app.to_alerters``)."""
    stream_name: str
    counts: dict[str, int] = field(default_factory=lambda: {"imported": 0, "forwarded": 0, "set_aside": 0})
    days: DayPartitions = field(default_factory=DayPartitions)
    """The store's day partitions: a batch's days get theirs before its load."""

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        rows: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        for r in records:
            try:
                rows.append(self.decoder.decode(r.data))
            except CodecError as err:
                rejected.append(Rejected(r, f"{type(err).__name__}: {err}"))
        if rows:
            with self.connect() as conn:
                self.days.ensure(conn, {r["received_at"].astimezone(UTC).date() for r in rows})
                with conn.transaction():
                    upsert(conn, rows, TARGETS[SCORED_MESSAGE], f"kinesis://{self.stream_name}")
                keys = [(r["enterprise_id"], r["message_id"], r["received_at"]) for r in rows]
                self.counts["forwarded"] += forward_pending_of(conn, keys, self.forward)
        self.counts["imported"] += len(rows)
        return rejected

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        """Rows in import_errors, one per record, keyed by its position (a redelivery adds none)."""
        with self.connect() as conn, conn.transaction():
            for x in rejected:
                position = f"kinesis://{self.stream_name}/{shard_id}/{x.record.sequence_number}"
                conn.execute(
                    "INSERT INTO import_errors (bucket, object_key, error_type, reason, message_body) "
                    "SELECT '', %(key)s, %(type)s, %(reason)s, %(body)s "
                    "WHERE NOT EXISTS (SELECT 1 FROM import_errors WHERE object_key = %(key)s)",
                    {
                        "key": position,
                        "type": x.reason.split(":", 1)[0],
                        "reason": x.reason,
                        "body": x.record.data[:5_000].hex(),
                    },
                )
        self.counts["set_aside"] += len(rejected)
