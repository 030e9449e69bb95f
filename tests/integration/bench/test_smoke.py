"""Every benchmark that needs the local stack or Spark, at its smoke size, on the session's stack
and SparkSession (found in bench/, so a new one is covered as it lands): it completes and gives a
finite, positive ratio, printed. No goal is judged at this size; what fails here is a benchmark
an API change broke."""

from __future__ import annotations

import math

import pytest
from bench import harness


@pytest.fixture(params=[n for n in harness.names() if harness.needs(n)])
def benchmark(request: pytest.FixtureRequest) -> tuple[str, harness.Shared]:
    """A benchmark's name and what it needs, from the session (set up here, so that the stack's
    or Spark's start is not counted as the benchmark's time)."""
    name, needs = request.param, harness.needs(request.param)
    return name, harness.Shared(
        stack=request.getfixturevalue("local_stack") if harness.STACK in needs else None,
        spark=request.getfixturevalue("spark") if harness.SPARK in needs else None,
    )


def test_the_benchmark_runs_at_its_smoke_size(benchmark: tuple[str, harness.Shared]) -> None:
    # GIVEN a benchmark and what it needs running
    name, shared = benchmark
    # WHEN it runs at its smoke size
    results = harness.run_benchmark(name, smoke=True, shared=shared)
    # THEN it gives figures, each with a finite, positive ratio to its baseline
    for r in results:
        print(f"{r.id} (smoke): {r.value:,.4g} vs {r.baseline:,.4g} {r.unit}, ratio {r.ratio:.3f}")
    assert results
    assert all(math.isfinite(r.ratio) and r.ratio > 0 for r in results), [r.as_dict() for r in results]
