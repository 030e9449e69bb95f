"""The web app's store held to its window: the daily round of ``trustpipe.db.partitions`` (day
partitions ahead, stray rows of the default partition moved into theirs, days past retention
dropped), summarised for the task's log and XCom and for `trustpipe db retention`."""

from __future__ import annotations

from datetime import date
from typing import Any

from trustpipe.db import partitions


def keep_window(connect: partitions.Connect, keep_days: int, today: date | None = None) -> dict[str, Any]:
    """Run the round; what it made and removed."""
    created, gone = partitions.maintain(connect, keep_days, today)
    return {
        "keep_days": keep_days,
        "cutoff": gone.cutoff.isoformat(),
        "created": [partitions.partition_name(d) for d in created],
        "dropped": list(gone.dropped),
        "default_rows_deleted": gone.default_rows,
    }


def describe(summary: dict[str, Any]) -> str:
    """One line a person reads."""
    dropped = ", ".join(summary["dropped"]) or "no partition"
    created = ", ".join(summary["created"]) or "none"
    return (
        f"kept {summary['keep_days']} days (from {summary['cutoff']}): dropped {dropped}; "
        f"deleted {summary['default_rows_deleted']:,} older rows of the default partition; "
        f"created {created}"
    )
