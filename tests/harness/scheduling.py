"""How `make test` spreads the suite over its pytest-xdist workers.

A work unit runs whole on one worker: a test module (its module fixtures start once), a path
prefix of ``SHARED_WORKER`` (the Spark jobs' modules share one SparkSession, whose JVM's start is
most of their time; the model build's two builds are a unit of their own beside them), or one test
of a ``BY_TEST`` module. Units are handed out longest first by tier (the Spark groups, the whole
paths, the integration modules, the unit modules), so the waits start while the rest runs. Each
worker's stack starts as its collection ends (tests/harness/stack.py), before any unit.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

SHARED_WORKER = {
    "tests/integration/spark_jobs/test_model_build.py": "spark-build",
    "tests/integration/spark_jobs/": "spark",
}
BY_TEST = ("tests/integration/bench/test_smoke.py",)
"""Modules whose tests are units of their own: each benchmark's smoke run (a few minutes apiece,
on the worker's own stack and SparkSession)."""
TIERS = (*SHARED_WORKER, "tests/e2e/", "tests/integration/", "tests/unit/")


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: its module's path, its ``SHARED_WORKER`` group, or itself."""
    path = nodeid.split("::")[0]
    if path in BY_TEST:
        return nodeid
    return next((group for folder, group in SHARED_WORKER.items() if path.startswith(folder)), path)


def tier(nodeid: str) -> int:
    """The test's place in the order units are handed out (lower first)."""
    return next((i for i, prefix in enumerate(TIERS) if nodeid.startswith(prefix)), len(TIERS))


class ByWorkUnit(LoadScopeScheduling):  # type: ignore[misc]
    """xdist's scope scheduling over ``work_unit``s, in collection order (not reordered by size).

    A worker runs a test only once the next one is queued behind it, so xdist tops up a worker
    that holds two tests or fewer, even one that has just started a single long test (the chaos
    run). Such a top-up takes the cheapest unit (the queue's end) instead of the next long one, so
    two long units never queue on one worker while another idles.
    """

    def __init__(self, config: Any, log: Any = None) -> None:
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        running = [done for done in self.assigned_work.get(node, {}).values() if not all(done.values())]
        if running and not any(any(done.values()) for done in running):
            self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)
        super()._assign_work_unit(node)
