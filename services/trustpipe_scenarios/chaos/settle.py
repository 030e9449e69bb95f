"""After the disruptions: wait until every stage settled (the stream path's one settle, with the
on-call's redrive), then reconcile what was produced with what was stored and what was actioned,
per enterprise and source. A message is the pair (enterprise, message id); the figures name one
by its message key, ``<enterprise>/<message id>``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from trustpipe import layout, tenants
from trustpipe.aws import AwsClients
from trustpipe.db.connect import connector
from trustpipe_importer.redrive import redrive
from trustpipe_scenarios.chaos.plan import Plan, Run
from trustpipe_scenarios.settle import Pair, pair_params
from trustpipe_scenarios.settle import settle as settle_path
from trustpipe_scenarios.stream_demo import (
    labelled,
    list_keys,
    set_aside_items,
    stream_labels,
    wait_indexed,
)

Say = Callable[[str], None]


SETTLE_SECONDS = 300
LINGER_SECONDS = 5
"""After settling, how long late duplicates are waited for."""
DUPLICATES_SQL = (
    "SELECT count(*) FROM (SELECT 1 FROM scored_messages "
    "WHERE (enterprise_id, message_id) IN (SELECT * FROM unnest(%(enterprises)s::text[], %(ids)s::text[])) "
    "GROUP BY enterprise_id, message_id HAVING count(*) > 1) d"
)
"""Messages stored more than once (one row per (enterprise, message id) is right)."""
SHOWN = 20
"""Messages named in a figure's list (lost, missing, unexpected): the counts say how many."""


def settle(aws: AwsClients, p: Plan, record: Run, began: datetime, say: Say) -> dict[str, Any]:
    """Until every produced message is stored and every actionable one has its action (or
    ``SETTLE_SECONDS``), moving dead-lettered notifications back meanwhile; then the
    reconciliation."""
    produced = _produced(aws, p, record.stream_run_id)
    redriven: list[int] = []
    settled = settle_path(
        aws,
        produced,
        timeout=SETTLE_SECONDS,
        every=2,
        linger=LINGER_SECONDS,
        on_poll=lambda: redriven.append(_redrive_dead_letters(aws, say)),
    )
    with connector(aws.settings)() as conn:
        duplicate_rows = conn.execute(DUPLICATES_SQL, pair_params(produced)).fetchone()
        errors = conn.execute(
            "SELECT error_type, reason FROM import_errors WHERE recorded_at >= %(since)s", {"since": began}
        ).fetchall()
    aside = set_aside_items(aws, began)
    rows, lost = settled.rows, settled.lost
    indexed = wait_indexed(aws, sorted(rows), say)  # every stored message, from either path
    per: dict[str, Counter[str]] = {}
    for (enterprise, message_id), source in produced.items():
        stored = rows.get((enterprise, message_id))
        key = f"{enterprise}/{source}"
        per.setdefault(key, Counter())["produced"] += 1
        per[key]["stored"] += stored is not None and stored.source == source
    reasons = Counter(f"importer {t}" for t, _r in errors) + Counter(
        f"{g} {r.split(':')[0]}" for g, r in aside
    )
    return {
        "produced": len(produced),
        "stored": len(rows),
        "by_enterprise_source": {k: dict(v) for k, v in sorted(per.items())},
        "lost": _named(lost),
        "lost_count": len(lost),
        "lost_by_source": dict(Counter(produced[m] for m in lost)),
        "settle_s": settled.settle_s,
        "indexed": indexed,
        "not_indexed": len(rows) - indexed,
        "duplicate_rows": int(duplicate_rows[0]) if duplicate_rows else 0,
        "actionable": len(settled.actionable),
        "actions": sum(settled.delivered.values()),
        "missing_actions": _named(settled.missing_actions),
        "duplicate_actions": settled.duplicate_actions,
        "unexpected_actions": _named(settled.unexpected_actions),
        "set_aside": dict(reasons),
        "redriven": sum(redriven),
        "set_aside_without_reason": sum(1 for _t, r in errors if not r) + sum(1 for _g, r in aside if not r),
    }


def _redrive_dead_letters(aws: AwsClients, say: Say) -> int:
    """What the on-call does when importer-dlq pages: the DLQ's messages back onto the queue.
    Under the run's SQS faults a notification can be delivered ``maxReceiveCount`` times without
    reaching an importer (responses dropped, an importer killed mid-import) and be dead-lettered;
    it is not lost, and the figures count it."""
    s = aws.settings
    moved = redrive(aws.client("sqs"), s.importer_dlq_url, s.importer_queue_url)  # one receive when empty
    if moved:
        say(f"{moved} importer notifications were dead-lettered; moved back, as runbook importer-dlq says")
    if s.search_dlq_url and s.search_queue_url:
        indexer = redrive(aws.client("sqs"), s.search_dlq_url, s.search_queue_url)
        if indexer:
            say(f"{indexer} indexer notifications were dead-lettered; moved back (runbook indexer-dlq)")
        moved += indexer
    return moved


def _named(messages: set[Pair]) -> list[str]:
    """The first ``SHOWN`` of ``messages`` by message key, sorted."""
    return sorted(tenants.message_key(*m) for m in messages)[:SHOWN]


def _produced(aws: AwsClients, p: Plan, stream_run_id: str) -> dict[Pair, str]:
    """Every message the run produced: (enterprise, message id) -> source, from the ground truth
    the sensors wrote beside their data."""
    bucket = aws.settings.archive_bucket
    batch = [
        key
        for key in list_keys(aws.s3, bucket, layout.LABELS_PREFIX)
        if any(f"/date={h:%Y-%m-%d}/hour={h:%H}/" in key for h in p.hours)
    ]
    out = dict.fromkeys(labelled(aws, batch), "BATCH")
    if stream_run_id:
        out |= dict.fromkeys(labelled(aws, stream_labels(aws, stream_run_id)), "STREAM")
    return out
