"""The nightly model build on the local stack (moto server, local Spark): a model trained on the
simulator's labelled history is good but not perfect and promoted; one no better is not.

Its own work unit (tests/harness/scheduling.py): two builds are most of the Spark jobs' tests'
time, so they run beside the scoring tests, not before them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spark_jobs import runner
from tests.harness.pictures import assert_a_real_picture
from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.model import artifact as model_store
from trustpipe.settings import Settings
from trustpipe_orchestration import model_report
from trustpipe_sensors.app import run_batch

# The first test's time holds the stack's start, five hours landed and a whole build: 600 s on a
# machine whose two cores other test runs also kept busy.
pytestmark = pytest.mark.timeout(900)

HOUR = layout.parse_hour("2026-11-25T04")
HISTORY = 4


@pytest.fixture(scope="module")
def trained(spark: Any, aws: AwsClients) -> Any:
    # (the session first: its JVM starts while the stack, begun early, is still applying)
    for h in range(HISTORY, 0, -1):
        run_batch(aws, HOUR - timedelta(hours=h), seed=7, enterprise_ids=None, scale=0.3)
    run_batch(aws, HOUR, seed=7, enterprise_ids=None, scale=0.3)
    heard: list[tuple[str, int, int | None]] = []
    result = runner.build(aws, HOUR, HISTORY, spark, progress=lambda *step: heard.append(step))
    # the build told how far it got: each hour staged, then the training
    assert heard == [(runner.STAGED, n, HISTORY) for n in range(1, HISTORY + 1)] + [
        (runner.TRAINED, 0, 1),
        (runner.TRAINED, 1, 1),
    ]
    return result


def test_model_is_good_but_not_perfect_and_promoted(
    trained: Any, aws: AwsClients, settings: Settings
) -> None:
    metrics = trained.artifact.metadata["metrics"]
    print(f"holdout: {metrics}")
    assert 0.85 < metrics["auc"] < 1.0
    assert metrics["precision"] > 0.5 and metrics["recall"] > 0.3
    assert trained.promoted
    assert model_store.current_version(aws.s3, settings.archive_bucket) == trained.artifact.version
    assert trained.artifact.metadata["training_window"][-1] == "2026-11-25T03"


def test_a_model_that_is_no_better_is_not_promoted(
    trained: Any, spark: Any, aws: AwsClients, settings: Settings, tmp_path: Path
) -> None:
    again = runner.build(aws, HOUR, HISTORY, spark, trained_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert not again.promoted, again.reason
    assert again.current_auc == pytest.approx(trained.artifact.metadata["metrics"]["auc"])
    # and its holdout curves, candidate and current, were counted on the same holdout: the area
    # under each counted ROC is its AUC (to the grid's resolution), and they draw
    curves, metrics = again.artifact.metadata["holdout_curves"], again.artifact.metadata["metrics"]
    assert curves["current"]["version"] == trained.artifact.version
    for name, auc in (("candidate", metrics["auc"]), ("current", again.current_auc)):
        pts = sorted((fpr, tpr) for _, fpr, tpr, _ in model_report.points(curves[name]))
        steps = zip([(0.0, 0.0), *pts], pts, strict=False)
        area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in steps)
        assert area == pytest.approx(auc, abs=0.03), name
        assert curves[name]["positives"] + curves[name]["negatives"] == metrics["rows"]
    stored = model_store.load(aws.s3, settings.archive_bucket, again.artifact.version)
    page = model_report.draw(stored, tmp_path)
    for name in model_report.PICTURES:
        assert_a_real_picture(page.parent / name)
    assert model_store.current_version(aws.s3, settings.archive_bucket) == trained.artifact.version
    assert (
        model_store.load(aws.s3, settings.archive_bucket, again.artifact.version).version
        == again.artifact.version
    )
