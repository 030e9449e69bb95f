"""`make bench` keeps each benchmark's results as it finishes: one that raises loses nothing of the
others, and fails the run at the end, named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bench import __main__ as bench_main
from bench import chart, harness
from bench.harness import Result


@dataclass
class Kept:
    results: Path
    drawn: list[tuple[set[str], Path]] = field(default_factory=list)
    """The results each chart drawn had, and where it went."""


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kept:
    """bench/results.json in a temporary folder; the chart's drawings noted, not drawn."""
    k = Kept(tmp_path / "results.json")

    def draw(figures: dict[str, Any], path: Path) -> Path:
        k.drawn.append((set(figures), path))
        return path

    monkeypatch.setattr(bench_main, "RESULTS", k.results)
    monkeypatch.setattr(chart, "draw", draw)
    return k


def benchmarks(monkeypatch: pytest.MonkeyPatch, kept: Kept, failing: str) -> list[set[str]]:
    """Three benchmarks, ``failing`` raising; each notes which results the file held as it began."""
    seen: list[set[str]] = []

    def run_benchmark(name: str, smoke: bool = False, **_: Any) -> list[Result]:
        seen.append(set(json.loads(kept.results.read_text())) if kept.results.exists() else set())
        if name == failing:
            raise RuntimeError("the app's observer takes three arguments now")
        return [Result(name.upper(), name, 2.0, 4.0, ">= 0.5", "records/s")]

    monkeypatch.setattr(harness, "names", lambda: ["p1_a", "p2_b", "p3_c"])
    monkeypatch.setattr(harness, "run_benchmark", run_benchmark)
    return seen


def test_a_benchmark_that_raises_loses_nothing_and_fails_the_run_at_the_end(
    kept: Kept, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN three benchmarks, the second of which raises
    seen = benchmarks(monkeypatch, kept, failing="p2_b")
    # WHEN make bench runs them
    code = bench_main.main([])
    # THEN every one ran, each finding the results of those before it already kept
    assert seen == [set(), {"P1_A"}, {"P1_A"}]
    assert set(json.loads(kept.results.read_text())) == {"P1_A", "P3_C"}
    # AND the chart was redrawn beside the results after each that finished
    chart_path = kept.results.with_name("results.png")
    assert kept.drawn == [({"P1_A"}, chart_path), ({"P1_A", "P3_C"}, chart_path)]
    # AND the run fails at the end, naming the one that raised, its traceback shown
    out = capsys.readouterr()
    assert code == 1
    assert "failed: p2_b" in out.out
    assert "the app's observer takes three arguments now" in out.err


def test_a_smoke_run_writes_nothing(kept: Kept, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN three benchmarks that all work
    seen = benchmarks(monkeypatch, kept, failing="none")
    # WHEN they run at their smoke size
    code = bench_main.main(["--smoke"])
    # THEN the run passes, and neither results nor a chart were written
    assert code == 0 and len(seen) == 3
    assert not kept.results.exists() and kept.drawn == []
