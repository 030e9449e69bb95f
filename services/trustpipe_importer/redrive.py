"""The importer DLQ's messages back onto the importer queue, once the cause is fixed.

SQS's own ``StartMessageMoveTask`` does the same on AWS; this works wherever the SQS API does
(the local stack's moto server has no move task). Each batch is sent before it is deleted from
the DLQ: a redrive cut short sends a message again at worst, and imports are idempotent (ledger
by key and ETag), so that changes nothing.
"""

from __future__ import annotations

from typing import Any

from trustpipe.errors import UserError

BATCH = 10
"""SQS's largest receive and send batch."""


def redrive(sqs: Any, dlq_url: str, queue_url: str, limit: int | None = None) -> int:
    """Move up to ``limit`` messages (all when None) from ``dlq_url`` to ``queue_url``; how many."""
    moved = 0
    while limit is None or moved < limit:
        want = BATCH if limit is None else min(BATCH, limit - moved)
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=want, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        entries = [{"Id": str(n), "MessageBody": m["Body"]} for n, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        done = [int(s["Id"]) for s in sent.get("Successful", [])]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(n), "ReceiptHandle": messages[n]["ReceiptHandle"]} for n in done],
            )
        moved += len(done)
        if sent.get("Failed"):
            failed = "; ".join(f"{f['Code']}: {f.get('Message', '')}" for f in sent["Failed"])
            raise RedriveError(
                f"moved {moved}; {len(sent['Failed'])} could not be sent back and stay in the DLQ: {failed}"
            )
    return moved


class RedriveError(UserError):
    """SQS refused to take messages back; they stay in the DLQ (visible again within a minute)."""
