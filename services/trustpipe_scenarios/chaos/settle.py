"""After the disruptions: wait until every stage settled, then reconcile what was produced with
what was stored and what was actioned."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from trustpipe import contracts, layout
from trustpipe.aws import AwsClients
from trustpipe.errors import DatabaseUnreachableError
from trustpipe_importer.app import connector
from trustpipe_importer.redrive import redrive
from trustpipe_scenarios.chaos.plan import Plan, Run
from trustpipe_scenarios.stream_demo import (
    drain_actions,
    labelled,
    list_keys,
    set_aside_items,
    stream_labels,
)

Say = Callable[[str], None]


SETTLE_SECONDS = 300
ROWS_SQL = (
    "SELECT message_id, source, verdict, enterprise_id FROM scored_messages WHERE message_id = ANY(%(ids)s)"
)
DUPLICATES_SQL = (
    "SELECT count(*) FROM (SELECT message_id FROM scored_messages WHERE message_id = ANY(%(ids)s) "
    "GROUP BY message_id HAVING count(*) > 1) d"
)


def settle(aws: AwsClients, p: Plan, record: Run, began: datetime, say: Say) -> dict[str, Any]:
    """Until every produced message is stored and every actionable one has its action (or
    ``SETTLE_SECONDS``); then the reconciliation."""
    produced = _produced(aws, p, record.stream_run_id)
    deliveries: Counter[str] = Counter()
    settling = time.monotonic()
    deadline = settling + SETTLE_SECONDS
    rows: dict[str, tuple[str, str, str]] = {}
    redriven = 0
    while True:
        redriven += _redrive_dead_letters(aws, say)
        for action in drain_actions(aws):
            deliveries[action["message_id"]] += 1
        with _quiet_db(aws) as conn:
            if conn is not None:
                rows = {
                    m: (s, v, e) for m, s, v, e in conn.execute(ROWS_SQL, {"ids": list(produced)}).fetchall()
                }
        actionable = {m for m, (_s, v, _e) in rows.items() if v in contracts.ACTIONABLE_VERDICTS}
        if (len(rows) == len(produced) and actionable <= set(deliveries)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    settle_s = round(time.monotonic() - settling, 1)
    time.sleep(5)  # late duplicates would arrive now
    for action in drain_actions(aws):
        deliveries[action["message_id"]] += 1
    with connector(aws.settings)() as conn:
        duplicate_rows = conn.execute(DUPLICATES_SQL, {"ids": list(produced)}).fetchone()
        errors = conn.execute(
            "SELECT error_type, reason FROM import_errors WHERE recorded_at >= %(since)s", {"since": began}
        ).fetchall()
    aside = set_aside_items(aws, began)
    ours = {m: n for m, n in deliveries.items() if m in produced}
    lost = set(produced) - set(rows)
    per: dict[str, Counter[str]] = {}
    for m, (source, enterprise) in produced.items():
        stored = rows.get(m)
        key = f"{enterprise}/{source}"
        per.setdefault(key, Counter())["produced"] += 1
        per[key]["stored"] += stored is not None and stored[0] == source
    reasons = Counter(f"importer {t}" for t, _r in errors) + Counter(
        f"{g} {r.split(':')[0]}" for g, r in aside
    )
    return {
        "produced": len(produced),
        "stored": len(rows),
        "by_enterprise_source": {k: dict(v) for k, v in sorted(per.items())},
        "lost": sorted(lost)[:20],
        "lost_count": len(lost),
        "lost_by_source": dict(Counter(produced[m][0] for m in lost)),
        "settle_s": settle_s,
        "duplicate_rows": int(duplicate_rows[0]) if duplicate_rows else 0,
        "actionable": len(actionable),
        "actions": sum(ours.values()),
        "missing_actions": sorted(actionable - set(ours))[:20],
        "duplicate_actions": sum(n - 1 for n in ours.values() if n > 1),
        "unexpected_actions": sorted(set(ours) - actionable)[:20],
        "set_aside": dict(reasons),
        "redriven": redriven,
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
    return moved


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


def _produced(aws: AwsClients, p: Plan, stream_run_id: str) -> dict[str, tuple[str, str]]:
    """Every message the run produced: message id -> (source, enterprise), from the ground truth
    the sensors wrote beside their data."""
    bucket = aws.settings.archive_bucket
    batch = [
        key
        for key in list_keys(aws.s3, bucket, layout.LABELS_PREFIX)
        if any(f"/date={h:%Y-%m-%d}/hour={h:%H}/" in key for h in p.hours)
    ]
    out = {m: ("BATCH", e) for m, e in labelled(aws, batch).items()}
    if stream_run_id:
        out |= {m: ("STREAM", e) for m, e in labelled(aws, stream_labels(aws, stream_run_id)).items()}
    return out
