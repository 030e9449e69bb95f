"""Every benchmark that needs nothing running, at its smoke size (found in bench/, so a new one is
covered as it lands): it completes and gives a finite, positive ratio, printed. No goal is judged
at this size; what fails here is a benchmark an API change broke."""

from __future__ import annotations

import math

import pytest
from bench import harness


@pytest.mark.parametrize("name", [n for n in harness.names() if not harness.needs(n)])
def test_the_benchmark_runs_at_its_smoke_size(name: str) -> None:
    # WHEN the benchmark runs at its smoke size
    results = harness.run_benchmark(name, smoke=True)
    # THEN it gives figures, each with a finite, positive ratio to its baseline
    for r in results:
        print(f"{r.id} (smoke): {r.value:,.4g} vs {r.baseline:,.4g} {r.unit}, ratio {r.ratio:.3f}")
    assert results
    assert all(math.isfinite(r.ratio) and r.ratio > 0 for r in results), [r.as_dict() for r in results]
