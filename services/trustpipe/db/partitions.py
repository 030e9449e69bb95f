"""The day partitions of ``scored_messages``: created ahead and on demand, dropped past retention.

``scored_messages`` is partitioned by RANGE on ``received_at`` (the message's own time), one
partition per UTC day, plus a DEFAULT partition for rows of days that have none (outside the
window, or a day not created yet), so an insert never fails for a missing partition.

Creating a partition takes an ACCESS EXCLUSIVE lock on the parent (``CREATE TABLE ... PARTITION
OF``): it waits for the upserts in flight and the ones after it wait for it. It is done under an
advisory lock, in a transaction of its own that holds nothing else, and never inside a load's
transaction (which holds locks on the parent): two importers creating at once queue on the
advisory lock, an importer's upsert and a creation queue on the parent's lock, and no cycle
forms. ``ATTACH PARTITION`` would need only SHARE UPDATE EXCLUSIVE on the parent, but an insert in
flight with the partition list of before the attach fails its default-partition check: the
stronger lock costs a short pause once a day instead of a failed load.

When the default partition already holds rows of a day being created, they are moved into it in
the same transaction.

Both are done as the table's owner role (``PARTITION_OWNER``, migration 0008) when the connected
user is a member of it, so every partition has the one owner whoever made it, and the services'
own roles keep no right to alter or drop anything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors, sql

log = logging.getLogger("trustpipe.db")

TABLE = "scored_messages"
DEFAULT_PARTITION = "scored_messages_default"
DAY_PARTITION = re.compile(r"^scored_messages_p(\d{8})$")
PARTITION_LOCK = 0x7472757370  # "trusp": partition creation and retention run one at a time
DEFAULT_KEEP_DAYS = 90
"""How many days of messages the web app's store holds (the lake keeps everything)."""
DAYS_BEHIND, DAYS_AHEAD = 1, 2
"""Partitions kept ready around today: yesterday (late mail) to the day after tomorrow."""
LOCK_TIMEOUT = "5s"
"""How long creating a partition waits for the parent's lock before giving up for now: the
rows go to the default partition meanwhile and move at the next creation."""

PARTITION_OWNER = "trustpipe_partitions"
"""The role that owns ``scored_messages`` and its partitions (``trustpipe.db.roles``)."""
Connect = Callable[[], psycopg.Connection[Any]]


def act_as_owner(conn: psycopg.Connection[Any]) -> None:
    """Inside a transaction: act as ``PARTITION_OWNER`` until it ends, when the role exists and
    the user may take it (before migration 0008, or without it, as the user itself)."""
    conn.execute(
        "SELECT set_config('role', r.rolname, true) FROM pg_roles r "
        "WHERE r.rolname = %s AND pg_has_role(current_user, r.oid, 'SET')",
        (PARTITION_OWNER,),
    )


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition's name stands for; None for the default partition or a foreign name."""
    found = DAY_PARTITION.match(name)
    try:
        return datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC).date() if found else None
    except ValueError:  # not a calendar day: not one of ours
        return None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def window(today: date, keep_days: int) -> tuple[date, date]:
    """[first, last] day that gets a partition of its own: the kept days and the days ahead."""
    return today - timedelta(days=keep_days - 1), today + timedelta(days=DAYS_AHEAD)


def ahead(today: date) -> list[date]:
    return [today + timedelta(days=n) for n in range(-DAYS_BEHIND, DAYS_AHEAD + 1)]


def today_utc() -> date:
    return datetime.now(UTC).date()


def existing_days(conn: psycopg.Connection[Any]) -> set[date]:
    """The days that have a partition now."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (TABLE,),
    ).fetchall()
    return {d for (name,) in rows if (d := day_of(name)) is not None}


def create_day_partition(conn: psycopg.Connection[Any], day: date) -> int:
    """Inside the caller's transaction: the day's partition, with the default partition's rows
    of that day moved into it; how many moved."""
    start, end = day_bounds(day)
    bounds = {"start": start, "end": end}
    conn.execute(f"CREATE TEMP TABLE moving (LIKE {TABLE}) ON COMMIT DROP")
    moved = conn.execute(
        f"WITH d AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 (module constants)
        "WHERE received_at >= %(start)s AND received_at < %(end)s RETURNING *) "
        "INSERT INTO moving SELECT * FROM d",
        bounds,
    ).rowcount
    conn.execute(
        sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(partition_name(day)),
            sql.Identifier(TABLE),
            sql.Literal(start.isoformat()),
            sql.Literal(end.isoformat()),
        )
    )
    if moved:
        conn.execute(f"INSERT INTO {TABLE} SELECT * FROM moving")  # noqa: S608
    conn.execute("DROP TABLE moving")
    return moved


@dataclass
class DayPartitions:
    """Keeps day partitions ready for a load path; remembers the days it has seen exist, so the
    usual call costs no query."""

    keep_days: int = DEFAULT_KEEP_DAYS
    lock_timeout: str = LOCK_TIMEOUT
    known: set[date] = field(default_factory=set)

    def ensure(
        self, conn: psycopg.Connection[Any], days: Iterable[date], today: date | None = None
    ) -> list[date]:
        """Create the partitions of ``days`` inside the window that do not exist yet, in a
        transaction of their own on ``conn`` (which must hold no transaction); the days created.
        Gives up quietly (rows go to the default partition) when the parent's lock does not
        come within ``lock_timeout``."""
        first, last = window(today or today_utc(), self.keep_days)
        wanted = {d for d in days if first <= d <= last} - self.known
        if not wanted:
            return []
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raise RuntimeError("partitions are created outside any open transaction")
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (self.lock_timeout,))
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
                act_as_owner(conn)
                present = existing_days(conn)
                created = sorted(wanted - present)
                for day in created:
                    moved = create_day_partition(conn, day)
                    log.info("created %s (%d rows moved in)", partition_name(day), moved)
        except errors.LockNotAvailable:
            log.warning("partitions of %s not created: table busy for %s", sorted(wanted), self.lock_timeout)
            return []
        self.known |= present | set(created)
        return created

    def ensure_ahead(self, conn: psycopg.Connection[Any], today: date | None = None) -> list[date]:
        """Yesterday to the day after tomorrow."""
        return self.ensure(conn, ahead(today or today_utc()), today)

    def sweep(self, conn: psycopg.Connection[Any], today: date | None = None) -> list[date]:
        """Partitions for the days inside the window whose rows sit in the default partition (a
        load reached a day before its partition existed): they move into their own."""
        first, last = window(today or today_utc(), self.keep_days)
        with conn.transaction():
            rows = conn.execute(
                f"SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM {DEFAULT_PARTITION} "  # noqa: S608
                "WHERE received_at >= %(start)s AND received_at < %(end)s",
                {"start": day_bounds(first)[0], "end": day_bounds(last)[1]},
            ).fetchall()
        return self.ensure(conn, [d for (d,) in rows], today) if rows else []


@dataclass(frozen=True)
class Retention:
    """What one retention run removed."""

    cutoff: date
    """Days before this one are gone."""
    dropped: tuple[str, ...]
    default_rows: int
    """Rows of the default partition older than the cutoff, deleted."""


def apply_retention(conn: psycopg.Connection[Any], keep_days: int, today: date | None = None) -> Retention:
    """Drop the day partitions older than ``keep_days`` (today counts as one) and delete the
    default partition's rows before that, in one transaction of its own on ``conn``."""
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1; got {keep_days}")
    cutoff = window(today or today_utc(), keep_days)[0]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        act_as_owner(conn)
        old = sorted(d for d in existing_days(conn) if d < cutoff)
        for day in old:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition_name(day))))
        deleted = conn.execute(
            f"DELETE FROM {DEFAULT_PARTITION} WHERE received_at < %s",  # noqa: S608
            (day_bounds(cutoff)[0],),
        ).rowcount
    for day in old:
        log.info("dropped partition %s", partition_name(day))
    return Retention(cutoff, tuple(partition_name(d) for d in old), deleted)


def maintain(connect: Connect, keep_days: int, today: date | None = None) -> tuple[list[date], Retention]:
    """The daily round: partitions ahead and for stray rows in the default, then retention."""
    with connect() as conn:
        keeper = DayPartitions(keep_days)
        created = keeper.ensure_ahead(conn, today) + keeper.sweep(conn, today)
        return created, apply_retention(conn, keep_days, today)
