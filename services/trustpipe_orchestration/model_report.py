"""A model build, drawn: the holdout's ROC and precision-recall curves of the candidate against the
current model (counted by the build at fixed thresholds, kept in the artifact's metadata as
``holdout_curves``), with the thresholds the build chose marked on the candidate's curves. The
nightly DAG uploads it beside the artifact (``models/<version>/report/``); the demo draws it
locally."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from trustpipe import layout
from trustpipe.model.artifact import ModelArtifact
from trustpipe_orchestration import pictures

PICTURES = ("roc.png", "precision_recall.png")
COLOURS = {"candidate": "#2980b9", "current": "#7f8c8d"}


class NoCurvesError(ValueError):
    """The artifact was built before the build counted its holdout curves."""


def points(curve: dict[str, Any]) -> list[tuple[float, float, float, float]]:
    """(threshold, false positive rate, recall, precision) at each counted threshold; precision is
    1.0 where nothing is flagged (the curve's conventional start)."""
    out = []
    for t, tp, fp in zip(curve["thresholds"], curve["tp"], curve["fp"], strict=True):
        fpr = fp / curve["negatives"] if curve["negatives"] else 0.0
        recall = tp / curve["positives"] if curve["positives"] else 0.0
        precision = tp / (tp + fp) if tp + fp else 1.0
        out.append((t, fpr, recall, precision))
    return out


def draw(artifact: ModelArtifact, out: Path) -> Path:
    """The PNGs and ``index.html`` into ``out``; the page's path."""
    curves = artifact.metadata.get("holdout_curves")
    if not curves:
        raise NoCurvesError(
            f"model {artifact.version} has no holdout curves: it was built before they were kept"
        )
    out.mkdir(parents=True, exist_ok=True)
    marks = _marks(artifact)
    _curves(curves, marks, out / "roc.png", roc=True)
    _curves(curves, marks, out / "precision_recall.png", roc=False)
    page = out / pictures.PAGE
    page.write_text(_page(artifact, curves, out))
    return page


def publish(client: Any, bucket: str, version: str, folder: Path) -> str:
    """Upload the drawn report beside the artifact; the page's key."""
    prefix = layout.model_key(version).rsplit("/", 1)[0] + "/report/"
    return pictures.publish(client, bucket, prefix, folder, PICTURES)


def _marks(artifact: ModelArtifact) -> dict[str, float]:
    """The thresholds to mark: the default pair, and each enterprise's quarantine threshold."""
    marks = {
        "default QUARANTINE": artifact.default_thresholds.quarantine,
        "default LABEL": artifact.default_thresholds.label,
    }
    for enterprise, t in sorted(artifact.thresholds.items()):
        marks[f"{enterprise} QUARANTINE"] = t.quarantine
    return marks


def _curves(curves: dict[str, Any], marks: dict[str, float], path: Path, roc: bool) -> None:
    plt = pictures.pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    for name in ("current", "candidate"):
        if name not in curves:
            continue
        pts = points(curves[name])
        xs = [p[1] if roc else p[2] for p in pts]
        ys = [p[2] if roc else p[3] for p in pts]
        label = name if name == "candidate" else f"current ({curves[name].get('version', '?')})"
        ax.plot(xs, ys, color=COLOURS[name], lw=2 if name == "candidate" else 1.5, label=label)
    candidate = points(curves["candidate"])
    for n, (mark, threshold) in enumerate(marks.items()):
        _, fpr, recall, precision = min(candidate, key=lambda p: abs(p[0] - threshold))
        x, y = (fpr, recall) if roc else (recall, precision)
        ax.plot([x], [y], "o", color="#c0392b" if "QUARANTINE" in mark else "#e67e22", ms=6)
        ax.annotate(
            f"{mark} {threshold:.2f}",
            (x, y),
            xytext=(0.3, 0.5 - 0.06 * n),  # a column of labels in the plot's empty middle
            textcoords="axes fraction",
            fontsize=7,
            arrowprops={"arrowstyle": "-", "color": "#95a5a6", "lw": 0.6},
        )
    if roc:
        ax.plot([0, 1], [0, 1], ls=":", color="#bdc3c7", label="chance")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate (recall)")
        ax.set_title("holdout ROC", fontsize=10)
    else:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("holdout precision-recall", fontsize=10)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.legend(loc="lower right" if roc else "lower left", fontsize=8)
    pictures.save(fig, path)


def _page(artifact: ModelArtifact, curves: dict[str, Any], folder: Path) -> str:
    m = artifact.metadata.get("metrics", {})
    current = curves.get("current")
    vs = (
        f"against current {html.escape(str(current.get('version', '?')))}"
        if current
        else "(no current model)"
    )
    nan = float("nan")
    counted = curves["candidate"]
    intro = (
        f"<p>holdout AUC {m.get('auc', nan):.4f}, precision {m.get('precision', nan):.3f}, "
        f"recall {m.get('recall', nan):.3f} {vs}; {counted['positives']:,} malicious and "
        f"{counted['negatives']:,} benign holdout messages</p>"
    )
    return pictures.page(f"trustpipe: model {artifact.version}", intro, folder, PICTURES)
