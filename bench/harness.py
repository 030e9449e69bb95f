"""Shared benchmark plumbing: interleaved best-of-N timing and the result record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """One benchmark's outcome; ``ratio`` = value / baseline, judged against ``goal``."""

    id: str
    name: str
    value: float
    baseline: float
    goal: str
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 2),
            "baseline": round(self.baseline, 2),
            "ratio": round(self.ratio, 3),
            "goal": self.goal,
            "unit": self.unit,
            **self.detail,
        }


def rates(work: dict[str, Callable[[], int]], repeats: int = 5, min_seconds: float = 0.2) -> dict[str, float]:
    """Items/s of each callable (it returns how many items it processed), best of ``repeats``.

    The candidates run interleaved, so a noisy neighbour slows them alike.
    """
    best = dict.fromkeys(work, 0.0)
    for _ in range(repeats):
        for name, fn in work.items():
            items, began = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - began) < min_seconds:
                items += fn()
            best[name] = max(best[name], items / elapsed)
    return best


def moto_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the benchmark's own moto server."""
    import boto3

    from trustpipe.aws import LOCAL_CREDENTIALS

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)
