"""Shared benchmark plumbing: the benchmarks themselves, what a run may share, interleaved
best-of-N timing and the result record.

A benchmark is a module ``bench/p*.py`` with ``run(size, shared) -> list[Result]``, two sizes of
its own ``FULL`` (what `make bench` measures) and ``SMOKE`` (seconds of work: the test suite runs
it so that an API change that breaks it fails when it lands), and ``NEEDS``: what of the local
stack it needs running (``"stack"``, ``"spark"``), which the test suite gives it from its session.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trustpipe_stack.stack import LocalStack

BENCH = Path(__file__).parent
STACK, SPARK = "stack", "spark"
"""What a benchmark may need running: the local stack (moto server, PostgreSQL, the registry),
a SparkSession."""


def names() -> list[str]:
    """Every benchmark module (``bench/p*.py``), in the order `make bench` runs them."""
    return sorted(m.name for m in pkgutil.iter_modules([str(BENCH)]) if m.name.startswith("p"))


def needs(name: str) -> frozenset[str]:
    """The ``NEEDS`` of benchmark ``name`` (a tuple of literal strings), read from its source:
    sorting the benchmarks by what they need imports none of them (some import Spark, the KCL,
    the local stack)."""
    for node in ast.parse((BENCH / f"{name}.py").read_text()).body:
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "NEEDS" and node.value:
            found = frozenset(ast.literal_eval(node.value))
            if found - {STACK, SPARK}:
                raise ValueError(f"bench/{name}.py needs {sorted(found)}: only {STACK!r}, {SPARK!r} exist")
            return found
    raise LookupError(f"bench/{name}.py declares no NEEDS: tuple[str, ...]")


@dataclass(frozen=True)
class Shared:
    """What is already running that a benchmark may use instead of starting its own: the test
    suite's session stack and SparkSession. Given nothing, a benchmark starts what it needs and
    stops it by pid, as under `make bench`."""

    stack: LocalStack | None = None
    spark: Any = None


NOTHING = Shared()


def run_benchmark(name: str, smoke: bool = False, shared: Shared = NOTHING) -> list[Result]:
    """Benchmark ``name`` at its full size, or its smoke size."""
    module = importlib.import_module(f"bench.{name}")
    results: list[Result] = module.run(module.SMOKE if smoke else module.FULL, shared)
    return results


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
            while True:  # at least once, however short min_seconds
                items += fn()
                if (elapsed := time.perf_counter() - began) >= min_seconds:
                    break
            best[name] = max(best[name], items / elapsed)
    return best


def moto_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the benchmark's own moto server."""
    import boto3

    from trustpipe.aws import LOCAL_CREDENTIALS

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)


BENCH_REDIS_DB = 9
"""The database of the shared stack's redis-server a benchmark flushes and fills (the stack's own
counters live in database 0)."""


@contextmanager
def redis_url(shared: Shared) -> Iterator[str]:
    """A redis-server's URL for a benchmark's tiles, emptied: the shared stack's, in a database of
    the benchmarks' own, or one of this run's own in a temporary folder, stopped by its pid."""
    import redis

    from trustpipe_stack.servers import RedisServer

    if shared.stack is not None:
        url = shared.stack.redis.url.rpartition("/")[0] + f"/{BENCH_REDIS_DB}"
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()
