"""Settings every test module shares; the local stack's fixtures come from tests/harness/stack.py.

`make test` runs the suite on several pytest-xdist workers. Each worker is a process of its own
with its own temporary directory, Airflow home, ports and local stack (moto server, PostgreSQL,
registry: started by the first test that asks for them), so the waits of one module (Terraform's
apply, a KCL group's start, the chaos run) overlap with the work of others.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from tests.harness.airflow_home import AIRFLOW_HOME
from tests.harness.stack import aws, local_stack, settings, spark

__all__ = ["aws", "local_stack", "settings", "spark"]

# The whole run's budget: past it the run fails, so the next slow test is noticed when it lands.
SUITE_BUDGET_MINUTES = float(os.environ.get("TRUSTPIPE_SUITE_BUDGET_MINUTES", "25"))
# Tiers in the order they are handed out: the longest waits start first.
TIERS = ("tests/e2e/", "tests/integration/", "tests/unit/")
# Folders whose modules share one worker: the Spark jobs' tests share its one local SparkSession
# (its JVM's start is most of their time).
SHARED_WORKER = {"tests/integration/spark_jobs/": "spark"}
_began = time.monotonic()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """e2e modules are handed out first, then integration, then unit: the longest waits start
    while the rest runs."""
    items.sort(
        key=lambda item: next((i for i, t in enumerate(TIERS) if item.nodeid.startswith(t)), len(TIERS))
    )


def work_unit(nodeid: str) -> str:
    """What one worker runs whole: the test's module (its module fixtures start once), or the
    group of its ``SHARED_WORKER`` folder."""
    path = nodeid.split("::")[0]
    return next((group for folder, group in SHARED_WORKER.items() if path.startswith(folder)), path)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Hands out work units (``work_unit``), in collection order, to whichever worker is free."""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
    if hasattr(session.config, "workerinput"):
        return  # a worker: the controller judges the whole run
    minutes = (time.monotonic() - _began) / 60
    if minutes > SUITE_BUDGET_MINUTES:
        session.config.get_terminal_writer().line(
            f"the suite took {minutes:.1f} min, over its budget of {SUITE_BUDGET_MINUTES:g} min "
            "(TRUSTPIPE_SUITE_BUDGET_MINUTES): find the slow test in the durations above",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
