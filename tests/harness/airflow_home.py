"""This test run's own Airflow home (SQLite database, logs), pointed at the project's DAGs.

Airflow reads its configuration when it is first imported: the root conftest imports this module
before any test imports Airflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.harness.paths import ROOT

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="trustpipe-airflow-"))
os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
)
