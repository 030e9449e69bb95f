"""`make bench`'s chart: each result against its goal, and P6's memory over file sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import chart

from tests.harness.pictures import assert_a_real_picture

RESULTS = {
    "P1": {"ratio": 0.42, "value": 42.0, "goal": ">= 0.5", "unit": "records/s"},
    "P3": {"ratio": 0.55, "value": 55.0, "goal": ">= 0.5 at >= 1M rows", "unit": "rows/s"},
    "P4": {"ratio": 3.4, "value": 1.2, "goal": "p99 <= 2 s", "unit": "s"},
    "P6": {
        "ratio": 1.0,
        "value": 145.5,
        "goal": "<= 1.5",
        "unit": "MiB",
        "peak_rss_mib_by_rows": {"100000": 145.5, "300000": 146.0, "1000000": 145.5},
    },
    "P8b": {"ratio": 4.5, "value": 9.0, "goal": "report", "unit": "rows/s"},
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [("P1", (">=", 0.5, 0.42)), ("P3", (">=", 0.5, 0.55)), ("P4", ("<=", 2.0, 1.2)), ("P8b", None)],
)
def test_each_goal_is_read_with_the_figure_it_judges(key: str, expected: object) -> None:
    assert chart.goal_of(RESULTS[key]) == expected


def test_met_and_missed() -> None:
    assert not chart.met(*chart.goal_of(RESULTS["P1"]))  # type: ignore[misc]
    assert chart.met(*chart.goal_of(RESULTS["P3"]))  # type: ignore[misc]
    assert chart.met(*chart.goal_of(RESULTS["P4"]))  # type: ignore[misc]


def test_the_chart_is_a_real_picture(tmp_path: Path) -> None:
    assert_a_real_picture(chart.draw(RESULTS, tmp_path / "results.png"))
