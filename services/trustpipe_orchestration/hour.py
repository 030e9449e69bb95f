"""The steps of one hour, in one place: score -> verify the manifest -> wait for the import ->
reconcile rows and stats -> quality gate.

The runner (Spark in-process, or whatever scored the hour) and the database are passed in, so the
same steps serve the hourly DAG (one task per step, the database through Airflow's SQL hook, EMR
as a runner of its own), `trustpipe backfill` and the demo (the steps in a row, the database
through psycopg, the importer drained in-process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.db.query import Database
from trustpipe.errors import RunError, UserError
from trustpipe.progress import Progress, quiet
from trustpipe_importer.load import IMPORTED_SQL, current_versions
from trustpipe_orchestration import checks
from trustpipe_orchestration.config import QualityBands

MAX_HOURS = 24 * 31
"""One backfill covers at most a month: a typo in --from should not queue a year of Spark runs."""

ROWS_SQL = "SELECT count(*) FROM scored_messages WHERE source_ref = {hour}"
STATS_SQL = "SELECT coalesce(sum(messages), 0) FROM scoring_stats WHERE hour = {hour}"
"""The hour's rows and stats in the store; ``{hour}`` is the hour's label as a SQL literal or a
bound parameter (the DAG's SQL check operators template it, the steps here bind it)."""

Score = Callable[[datetime], Any]
"""Scores one hour and publishes its manifest (e.g. ``spark_jobs.runner.score`` bound to a session)."""
Drain = Callable[[list[str]], set[tuple[str, str]]]
"""Imports until the given scored keys are in the ledger; what is still missing."""


class BackfillRangeError(UserError):
    """The hours asked for are out of order or too many."""


class HourIncompleteError(RunError):
    """An hour's files or rows did not all reach the store."""


@dataclass(frozen=True)
class HourDone:
    hour: str
    records: int
    set_aside: int
    rows_in_db: int


def hours_between(first: datetime, last: datetime) -> list[datetime]:
    if last < first:
        raise BackfillRangeError(
            f"--to {layout.format_hour(last)} is before --from {layout.format_hour(first)}"
        )
    count = int((last - first) / timedelta(hours=1)) + 1
    if count > MAX_HOURS:
        raise BackfillRangeError(f"{count} hours asked; one backfill covers at most {MAX_HOURS}")
    return [first + timedelta(hours=n) for n in range(count)]


def verify(aws: AwsClients, hour: datetime) -> dict[str, Any]:
    """The hour's manifest exists and accounts for everything landed; its summary."""
    return checks.verify_hour(aws.s3, aws.settings, hour)


def not_imported(aws: AwsClients, db: Database, summary: dict[str, Any]) -> set[tuple[str, str]]:
    """Files of the hour, as they are in S3 now (key and ETag), not yet in the importers' ledger."""
    current = current_versions(aws.s3, aws.settings.scored_bucket, summary["files"])
    rows = db.get_records(IMPORTED_SQL, {"keys": summary["files"]})
    return current - {(k, e) for k, e in rows}


def rows_in_store(db: Database, hour: str) -> tuple[int, int]:
    """(scored messages, messages counted in the stats) of the hour in PostgreSQL."""
    bound = "%(hour)s"
    rows = db.get_records(ROWS_SQL.format(hour=bound), {"hour": hour})
    stats = db.get_records(STATS_SQL.format(hour=bound), {"hour": hour})
    return int(rows[0][0]), int(stats[0][0])


def reconcile(db: Database, summary: dict[str, Any]) -> int:
    """Rows and stats of the hour in the store equal the manifest's records; the row count."""
    rows, stats = rows_in_store(db, summary["hour"])
    if rows != summary["records"] or stats != summary["records"]:
        raise HourIncompleteError(
            f"{summary['hour']}: {summary['records']:,} scored but {rows:,} rows and {stats:,} "
            "messages in the stats in PostgreSQL"
        )
    return rows


def quality_gate(
    db: Database, hour: datetime, bands: QualityBands, enterprises: Iterable[str] = ()
) -> checks.GateResult:
    """Each enterprise's volume and quarantine rate against its trailing week; raises on a breach."""
    first, last = checks.trailing_window(hour, bands)
    rows = db.get_records(checks.GATE_SQL, {"first": first, "last": last})
    stats = [checks.HourStats(e, h, int(m), int(q)) for e, h, m, q in rows]
    result = checks.quality_gate(layout.format_hour(hour), stats, bands, enterprises)
    if result.breaches:
        raise checks.QualityGateError(
            f"data-quality gate failed for {layout.format_hour(hour)}: " + "; ".join(result.breaches)
        )
    return result


def run_hour(aws: AwsClients, db: Database, hour: datetime, score: Score, drain: Drain) -> HourDone:
    """Every step of one hour in a row (no gate: a backfill re-scores hours that already passed)."""
    label = layout.format_hour(hour)
    score(hour)
    summary = verify(aws, hour)
    missing = drain(summary["files"])
    if missing:
        raise HourIncompleteError(f"{label}: {len(missing)} files not imported: {sorted(missing)[:3]}")
    rows = reconcile(db, summary)
    return HourDone(label, summary["records"], summary["set_aside"], rows)


@dataclass(frozen=True)
class InProcess:
    """The hour's parts run in this process: Spark in-process, the importer drained here, the
    store through psycopg (`trustpipe backfill`, the demo, the tests)."""

    db: Database
    score: Score
    drain: Drain


def in_process(aws: AwsClients, spark: Any = None, import_attempts: int = 10) -> InProcess:
    """Migrates the store first (idempotent); ``spark`` is a session, or None for one on first use."""
    from spark_jobs import runner
    from trustpipe.db.connect import connector
    from trustpipe.db.query import PostgresDatabase
    from trustpipe_importer import app as importer_app

    importer_app.upgrade(aws.settings)
    return InProcess(
        PostgresDatabase(connector(aws.settings)),
        lambda at: runner.score(aws, at, spark),
        lambda keys: importer_app.import_until_done(aws, keys, import_attempts),
    )


BACKFILL_PROGRESS = "hours re-scored and re-imported"


def backfill(
    aws: AwsClients,
    db: Database,
    hours: list[datetime],
    score: Score,
    drain: Drain,
    say: Callable[[str], None] = print,
    progress: Progress = quiet,
) -> list[HourDone]:
    """Re-score and re-import ``hours`` by running the job directly (not through Airflow).

    Idempotent: the hour's output is replaced under stable names and rows are upserted by message
    id, so a second backfill of the same hours changes nothing."""
    done: list[HourDone] = []
    progress(BACKFILL_PROGRESS, 0, len(hours))
    for hour in hours:
        result = run_hour(aws, db, hour, score, drain)
        done.append(result)
        progress(BACKFILL_PROGRESS, len(done), len(hours))
        say(
            f"{result.hour}: {result.rows_in_db:,} scored and imported ({result.set_aside} objects set aside)"
        )
    return done
