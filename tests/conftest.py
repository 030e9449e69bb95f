"""Settings every test module shares."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# Airflow reads its configuration when it is first imported: give this test run a home of its own
# (SQLite database, logs) and point it at the project's DAGs before any test imports it.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="trustpipe-airflow-"))
os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
