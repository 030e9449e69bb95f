"""Settings every test module shares; the local stack's fixtures come from tests/harness/stack.py.

`make test` runs the suite on several pytest-xdist workers. Each worker is a process of its own
with its own temporary directory, Airflow home, ports and local stack (moto server, PostgreSQL,
registry: started by the first test that asks for them), so the waits of one module (Terraform's
apply, a KCL group's start, the chaos run) overlap with the work of others; tests/harness/scheduling.py
says which tests run together and in what order.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any

import pytest

from tests.harness import jvm_archives, scheduling
from tests.harness.airflow_home import AIRFLOW_HOME
from tests.harness.stack import aws, local_stack, settings, spark, start_early, stop_early
from trustpipe.settings import LOCAL_JVM_OPTIONS

__all__ = ["aws", "local_stack", "settings", "spark"]

# Every JVM the suite starts (local Spark sessions, the KCL daemons, in this process or a child)
# compiles with C1 alone and collects with one thread: their data is small, and the optimising
# compiler's work on two shared cores cost more than it saved (the model-build tests' JVM: 129 -> 98 CPU-s).
os.environ.setdefault(LOCAL_JVM_OPTIONS, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
_archiving: list[threading.Thread] = []


def pytest_configure(config: pytest.Config) -> None:
    # The run's first process (xdist's controller, before it starts the workers) makes the JVMs'
    # class-data archives where missing, while the workers collect (tests/harness/jvm_archives.py).
    if not hasattr(config, "workerinput"):
        thread = jvm_archives.start(jvm_archives.folder())
        if thread is not None:
            _archiving.append(thread)


# The whole run's budget: past it the run fails, so the next slow test is noticed when it lands.
SUITE_BUDGET_MINUTES = float(os.environ.get("TRUSTPIPE_SUITE_BUDGET_MINUTES", "25"))
_began = time.monotonic()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: scheduling.tier(item.nodeid))


def pytest_collection_finish(session: pytest.Session) -> None:
    start_early(session)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    return scheduling.ByWorkUnit(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_early()
    while _archiving:
        _archiving.pop().join()  # its JVMs end by themselves, within their timeout
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
