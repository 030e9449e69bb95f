"""The day partitions' names, window and guards, without a database (the database side is in
tests/integration/trustpipe_importer/test_store_window.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from trustpipe.db import partitions
from trustpipe.db.partitions import DayPartitions, apply_retention, day_of, partition_name, window

TODAY = date(2026, 12, 7)


class Untouchable:
    """A connection that fails the test if anything is asked of it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the connection was used: {name}")


def test_a_day_and_its_partition_name_round_trip() -> None:
    assert partition_name(TODAY) == "scored_messages_p20261207"
    assert day_of("scored_messages_p20261207") == TODAY


@pytest.mark.parametrize(
    "name",
    [
        "scored_messages_default",
        "scored_messages_p20261399",  # not a calendar day
        "scored_messages_p2026120",  # truncated
        "scored_messages_p202612071",  # one digit too many
        "scored_messages_p2026-12-07",
        "other_p20261207",
        "",
    ],
)
def test_a_name_that_is_not_a_day_partition_of_ours_is_none(name: str) -> None:
    assert day_of(name) is None


def test_a_day_is_its_utc_midnight_to_the_next() -> None:
    start, end = partitions.day_bounds(TODAY)
    assert (start, end) == (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))


def test_the_window_is_the_kept_days_and_the_days_ahead() -> None:
    assert window(TODAY, 90) == (date(2026, 9, 9), date(2026, 12, 9))
    assert window(TODAY, 1) == (TODAY, date(2026, 12, 9))
    assert partitions.ahead(TODAY) == [date(2026, 12, d) for d in (6, 7, 8, 9)]


def test_days_outside_the_window_or_known_ask_nothing_of_the_database() -> None:
    # GIVEN a keeper that knows today exists
    keeper = DayPartitions(keep_days=3, known={TODAY})
    # WHEN it is asked for today, a day long past and a day far ahead
    made = keeper.ensure(Untouchable(), [TODAY, date(2020, 1, 1), date(2099, 1, 1)], today=TODAY)  # type: ignore[arg-type]
    # THEN it does nothing (those rows belong to the default partition or exist already)
    assert made == []


def test_making_a_partition_inside_an_open_transaction_is_refused() -> None:
    # GIVEN a connection in the middle of a load's transaction
    busy = SimpleNamespace(info=SimpleNamespace(transaction_status=psycopg.pq.TransactionStatus.INTRANS))
    # WHEN a partition is asked for THEN it refuses (its lock would wait on the load's own)
    with pytest.raises(RuntimeError, match="outside any open transaction"):
        DayPartitions().ensure(busy, [TODAY], today=TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize("keep_days", [0, -1])
def test_retention_keeps_at_least_one_day(keep_days: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        apply_retention(Untouchable(), keep_days, TODAY)  # type: ignore[arg-type]
