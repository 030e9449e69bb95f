"""The local stack's real parts as fixtures, once per test process: a moto server, PostgreSQL,
Terraform applied; one local SparkSession.

Most of a stack's start is Terraform's AWS provider waiting between polls (two minutes, the CPU
idle). A process whose tests will want a stack starts it early (``start_early``, as its collection
ends) with `trustpipe local up` in a child process of its own, so the wait overlaps the tests that
need no stack and the SparkSession's start; the ``local_stack`` fixture then joins it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.cli import CLI
from tests.harness.paths import ROOT
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_stack.stack import LocalStack


class EarlyStack:
    """`trustpipe local up` into a state dir, run in a child process from the moment it is
    started; ``join`` waits for it and hands over the stack (whatever the child did not finish,
    the fixture's own `up` does)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        log = (state_dir.parent / f"{state_dir.name}-up.log").open("wb")
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.proc = subprocess.Popen(
            [*CLI, "local", "up", "--state-dir", str(state_dir)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def join(self) -> LocalStack:
        self.proc.wait()
        return LocalStack(ROOT, self.state_dir)


_early: list[EarlyStack] = []


def start_early(session: pytest.Session) -> None:
    """Start this process's stack now when its share of the run will want one: under
    pytest-xdist, when the modules that use the stack are at least as many as the workers (each
    worker then gets one); in a single process, when any test uses it."""
    units = {item.nodeid.split("::")[0] for item in session.items if "local_stack" in item.fixturenames}
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if units and len(units) >= workers and not _early:
        factory = session.config._tmp_path_factory  # type: ignore[attr-defined]
        _early.append(EarlyStack(factory.mktemp("stack")))


def stop_early() -> None:
    """At the session's end: a stack started early that no test joined is stopped too."""
    while _early:
        _early.pop().join().down(say=lambda _msg: None)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`trustpipe local up` into a temporary state dir (begun early when ``start_early`` did);
    everything stopped by pid afterwards."""
    stack = _early.pop().join() if _early else LocalStack(ROOT, tmp_path_factory.mktemp("stack"))
    try:
        stack.up(say=lambda _msg: None)
        yield stack
    finally:
        stack.down(say=lambda _msg: None)


@pytest.fixture(scope="session")
def settings(local_stack: LocalStack) -> Settings:
    return local_stack.settings()


@pytest.fixture(scope="session")
def aws(settings: Settings) -> AwsClients:
    return AwsClients(settings)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local SparkSession for the whole run (2 cores: the machine's); its warnings logged
    under the run's temporary folder."""
    from spark_jobs.session import local_session

    log_file = tmp_path_factory.mktemp("spark") / "spark.log"
    session = local_session("trustpipe-tests", "local[2]", shuffle_partitions=4, log_file=log_file)
    try:
        yield session
    finally:
        session.stop()
