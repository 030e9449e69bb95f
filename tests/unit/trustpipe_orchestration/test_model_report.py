"""A model build's report: ROC and precision-recall from the counted curves, thresholds marked."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.harness.pictures import assert_a_real_picture
from trustpipe_orchestration import model_report
from trustpipe_sensors.handmade_model import artifact

GRID = [step / 100 for step in range(101)]


def counted(positives: int, negatives: int, sharpness: float) -> dict[str, object]:
    """Curve counts of a model whose malicious scores sit above its benign ones by ``sharpness``."""
    tp = [round(positives * min(1.0, (1 - t) ** (1 / sharpness))) for t in GRID]
    fp = [round(negatives * (1 - t) ** (3 * sharpness)) for t in GRID]
    return {"thresholds": GRID, "tp": tp, "fp": fp, "positives": positives, "negatives": negatives}


def test_the_page_shows_roc_and_precision_recall_of_candidate_and_current(tmp_path: Path) -> None:
    model = artifact()
    curves = {
        "candidate": counted(300, 9700, 3.0),
        "current": {"version": "older", **counted(300, 9700, 1.5)},
    }
    metrics = {"auc": 0.97, "precision": 0.9, "recall": 0.8, "rows": 10_000}
    built = dataclasses.replace(model, metadata={"metrics": metrics, "holdout_curves": curves})
    page = model_report.draw(built, tmp_path / "model")
    text = page.read_text()
    assert re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', text) == [
        "roc",
        "precision_recall",
    ]
    for name in model_report.PICTURES:
        assert_a_real_picture(page.parent / name)
    assert "holdout AUC 0.9700" in text and "against current older" in text and "300 malicious" in text


def test_the_points_are_the_rates_of_the_counts() -> None:
    curve = {
        "thresholds": [0.0, 0.5, 1.0],
        "tp": [10, 6, 0],
        "fp": [90, 3, 0],
        "positives": 10,
        "negatives": 90,
    }
    assert model_report.points(curve) == [
        (0.0, 1.0, 1.0, 0.1),
        (0.5, pytest.approx(3 / 90), 0.6, pytest.approx(6 / 9)),
        (1.0, 0.0, 0.0, 1.0),
    ]


def test_a_model_built_before_the_curves_were_kept_says_so(tmp_path: Path) -> None:
    with pytest.raises(model_report.NoCurvesError, match="model handmade has no holdout curves"):
        model_report.draw(artifact(), tmp_path)
