"""`trustpipe backfill`: re-score and re-import past hours by running the job directly.

The same steps as the hourly DAG's local runner, hour by hour, without a scheduler: score (the
hour's output is replaced under stable names), verify the manifest, drain the importers until the
new versions are in the ledger, and compare the rows in PostgreSQL. Idempotent: a second backfill
of the same hours replaces the same files and upserts the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from trustpipe import layout
from trustpipe.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MAX_HOURS = 24 * 31
"""One backfill covers at most a month: a typo in --from should not queue a year of Spark runs."""


class BackfillError(RuntimeError):
    """An hour could not be re-scored and re-imported completely."""


@dataclass(frozen=True)
class HourDone:
    hour: str
    records: int
    set_aside: int
    rows_in_db: int


def hours_between(first: datetime, last: datetime) -> list[datetime]:
    if last < first:
        raise BackfillError(f"--to {layout.format_hour(last)} is before --from {layout.format_hour(first)}")
    count = int((last - first) / timedelta(hours=1)) + 1
    if count > MAX_HOURS:
        raise BackfillError(f"{count} hours asked; one backfill covers at most {MAX_HOURS}")
    return [first + timedelta(hours=n) for n in range(count)]


def backfill(
    settings: Settings,
    first: datetime,
    last: datetime,
    spark: SparkSession | None = None,
    say: Callable[[str], None] = print,
) -> list[HourDone]:
    from spark_jobs.session import local_session
    from trustpipe_cli import batch_cmd
    from trustpipe_cli.import_cmd import connector, import_until_done, upgrade
    from trustpipe_orchestration import checks

    hours = hours_between(first, last)
    upgrade(settings)
    spark = spark or local_session("trustpipe-backfill")
    done = []
    for hour in hours:
        label = layout.format_hour(hour)
        batch_cmd.score(settings, hour, spark)
        verified = checks.verify_hour(settings, hour)
        missing = import_until_done(settings, verified["files"])
        if missing:
            raise BackfillError(f"{label}: {len(missing)} files not imported: {sorted(missing)[:3]}")
        with connector(settings)() as conn:
            row = conn.execute(
                "SELECT count(*) FROM scored_messages WHERE source_ref = %s", (label,)
            ).fetchone()
        rows = int(row[0]) if row else 0
        if rows != verified["records"]:
            raise BackfillError(f"{label}: {verified['records']} scored but {rows} rows in PostgreSQL")
        done.append(HourDone(label, verified["records"], verified["set_aside"], rows))
        say(f"{label}: {rows:,} scored and imported ({verified['set_aside']} objects set aside)")
    return done
