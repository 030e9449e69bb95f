"""The local stack's real parts as fixtures, once per test process: a moto server, PostgreSQL,
Terraform applied; one local SparkSession."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.paths import ROOT
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_stack.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`trustpipe local up` into a temporary state dir; everything stopped by pid afterwards."""
    stack = LocalStack(ROOT, tmp_path_factory.mktemp("stack"))
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
