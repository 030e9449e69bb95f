"""`make bench`'s picture: each benchmark's ratio against its goal (green when met), and the
importer's peak RSS over the file sizes P6 measured."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trustpipe_orchestration import pictures

CHART = Path(__file__).parent / "results.png"
_GOAL = re.compile(r"(>=|<=)\s*([0-9.]+)")


def goal_of(result: dict[str, Any]) -> tuple[str, float, float] | None:
    """(comparison, threshold, the figure compared): a ratio goal, or a p99 or p95 goal on the value
    itself; None for a figure only reported."""
    found = _GOAL.search(result["goal"])
    if found is None:
        return None
    figure = result["value"] if result["goal"].startswith(("p99", "p95")) else result["ratio"]
    return found.group(1), float(found.group(2)), float(figure)


def met(comparison: str, threshold: float, figure: float) -> bool:
    return figure >= threshold if comparison == ">=" else figure <= threshold


def draw(results: dict[str, dict[str, Any]], path: Path = CHART) -> Path:
    plt = pictures.pyplot()
    rss = results.get("P6", {}).get("peak_rss_mib_by_rows")
    fig, axes = plt.subplots(1, 2 if rss else 1, figsize=(12 if rss else 8, 5), squeeze=False)
    ax = axes[0][0]
    ids = sorted(results)
    for n, key in enumerate(ids):
        goal = goal_of(results[key])
        if goal is None:
            ax.barh(n, results[key]["ratio"], color="#95a5a6")
            continue
        comparison, threshold, figure = goal
        ax.barh(n, figure, color="#27ae60" if met(*goal) else "#c0392b")
        ax.plot([threshold, threshold], [n - 0.4, n + 0.4], color="black", lw=2)
        ax.annotate(f"{comparison} {threshold:g}", (threshold, n + 0.42), fontsize=7, ha="center")
    ax.set_yticks(range(len(ids)), [f"{k}: {results[k]['unit']}" for k in ids], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio to the same run's baseline (P4: p99 seconds); black: the goal")
    ax.set_title("benchmarks against their goals (green: met)", fontsize=10)
    if rss:
        sizes = sorted(rss, key=int)
        right = axes[0][1]
        right.plot([int(s) for s in sizes], [rss[s] for s in sizes], "o-", color="#2980b9")
        right.set_xscale("log")
        right.set_ylim(0, max(rss.values()) * 1.3)
        right.set_xlabel("rows in the imported file")
        right.set_ylabel("importer peak RSS (MiB)")
        right.set_title("P6: memory stays flat as files grow", fontsize=10)
    pictures.save(fig, path)
    return path
