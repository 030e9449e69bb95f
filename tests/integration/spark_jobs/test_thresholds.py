"""The build's threshold selection in Spark (counts per grid step, no training row on the driver)
chooses what choosing over every row in Python chooses, boundary scores included."""

from __future__ import annotations

import random
from typing import Any

from spark_jobs import build_model
from trustpipe.model.artifact import Thresholds


def _reference(pairs: list[tuple[float, float]], precision: float, fallback: float) -> float:
    """The selection over every (score, label) row: the lowest 0.01 step from 0.05 whose
    flagged rows reach ``precision``."""
    for step in range(5, 100):
        t = step / 100
        flagged = [label for score, label in pairs if score >= t]
        if flagged and sum(flagged) / len(flagged) >= precision:
            return t
    return fallback


def test_spark_thresholds_equal_the_row_by_row_selection(spark: Any) -> None:
    rng = random.Random(7)
    rows: list[tuple[str, float, float]] = []
    for ent, skew in (("acme", 0.9), ("globex", 0.6), ("initech", 0.2)):
        for _ in range(3000):
            bad = rng.random() < 0.1
            score = min(1.0, max(0.0, rng.gauss(skew if bad else 0.15, 0.15)))
            rows.append((ent, score, 1.0 if bad else 0.0))
        # scores exactly on grid steps, where a bucketing by floor(score * 100) would be off by one
        rows += [(ent, step / 100, float(step % 3 == 0)) for step in range(5, 100)]
    rows.append(("quiet", 0.5, 0.0))  # nothing malicious: both thresholds fall back
    df = spark.createDataFrame(rows, "enterprise_id string, score double, label double")
    got = build_model.thresholds(df)
    expected = {}
    for ent in sorted({r[0] for r in rows}):
        pairs = [(s, lab) for e, s, lab in rows if e == ent]
        quarantine = _reference(
            pairs, build_model.QUARANTINE_PRECISION, build_model.DEFAULT_THRESHOLDS.quarantine
        )
        label = min(
            _reference(pairs, build_model.LABEL_PRECISION, build_model.DEFAULT_THRESHOLDS.label), quarantine
        )
        expected[ent] = Thresholds(quarantine, label)
    assert got == expected
    assert got["quiet"] == Thresholds(
        build_model.DEFAULT_THRESHOLDS.quarantine,
        min(build_model.DEFAULT_THRESHOLDS.label, build_model.DEFAULT_THRESHOLDS.quarantine),
    )
    assert len({t.quarantine for t in got.values()}) > 1  # the enterprises differ: the test can tell
