"""What the EMR clusters install, read from the code and the lock (no apply): the lock's `emr`
group covers every package the scoring job imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.harness.paths import ROOT
from trustpipe_deploy import emr_wheels

CLUSTER_BRINGS = {"pyspark", "py4j"}
"""EMR's Spark puts its own pyspark and py4j on the job's path (spark-submit)."""
OPTIONAL = {"certifi"}
"""Imported when present, never required: botocore falls back to the CA bundle it carries."""
IMPORTS = """
import importlib.metadata as md, json, sys
before = set(sys.modules)
import spark_jobs.runner, spark_jobs.score_messages
from trustpipe.settings import Settings
from trustpipe.aws import AwsClients
loaded = {m.split(".")[0] for m in set(sys.modules) - before}
dists = md.packages_distributions()
print(json.dumps(sorted({d for m in loaded for d in dists.get(m, [])})))
"""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_package_the_job_imports_is_in_the_clusters_requirements() -> None:
    # GIVEN the distributions the job's entry point loads (the runner, its scoring job, settings
    # and clients), other than the project's own and what the cluster's Spark brings
    done = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True)
    imported = {_normal(d) for d in json.loads(done.stdout)} - CLUSTER_BRINGS - OPTIONAL - {"trustpipe"}
    assert {"boto3", "fastavro", "numpy"} <= imported
    # WHEN the lock's emr group is exported for the cluster
    pinned = {
        _normal(e.split("==")[0]) for e in emr_wheels.for_target(emr_wheels.export(ROOT), emr_wheels.CLUSTER)
    }
    # THEN every one of them is pinned there (a new import without its wheel would fail on EMR)
    assert sorted(imported - pinned) == []
    # and nothing the job never runs is shipped to the cluster
    assert not pinned & {"psycopg", "sqlalchemy", "kclpy-ext", "apache-airflow", "pyspark", "moto"}
