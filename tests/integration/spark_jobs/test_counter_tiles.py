"""The nightly build's exact tiles on a tiny labelled history: per entity and UTC day, the
labelled messages and malicious labels, and each entity's window through the history's last day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.sql import types as T

from spark_jobs.build_model import tiles
from trustpipe import counters
from trustpipe.model.suffixes import SuffixList

ROWS = T.StructType(
    [
        T.StructField("from_address", T.StringType()),
        T.StructField("sending_ip", T.StringType()),
        T.StructField("received_at", T.TimestampType()),
        T.StructField("label", T.DoubleType()),
    ]
)
LAST = date(2026, 11, 26)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_the_history_becomes_day_tiles_and_windows(spark: Any) -> None:
    # GIVEN labelled mail from two senders over three days, one day past the window
    old = LAST - timedelta(days=counters.WINDOW_DAYS)
    rows = [
        ("a@mail.partner.com", "198.51.100.1", at(LAST), 0.0),
        ("b@PARTNER.com", "198.51.100.2", at(LAST, 23), 1.0),
        ("c@partner.com", "198.51.100.3", at(LAST - timedelta(days=1), 0), 0.0),
        ("x@evil.top", None, at(old), 1.0),
    ]
    # WHEN the build counts them
    counted = tiles(spark.createDataFrame(rows, ROWS), SuffixList.bundled())
    # THEN each entity has a tile per UTC day it was seen, keyed as the features key it
    assert counted.through == LAST
    assert set(counted.days) == {
        (counters.ORG, "partner.com", LAST, 2, 1),
        (counters.ORG, "partner.com", LAST - timedelta(days=1), 1, 0),
        (counters.NET, "198.51.100", LAST, 2, 1),
        (counters.NET, "198.51.100", LAST - timedelta(days=1), 1, 0),
        (counters.ORG, "evil.top", old, 1, 1),
        (counters.NET, "", old, 1, 1),
    }
    # and the windows sum the days of the window only
    assert counted.windows == [(counters.NET, "198.51.100", 3, 1), (counters.ORG, "partner.com", 3, 1)]
