"""What the EMR clusters install and run and how they are locked down, read from the code and the
Terraform (no apply): the lock's `emr` group covers every package the scoring job imports, the
cluster's Spark has every function the job calls, and every bucket the stack creates denies plain
HTTP wherever the pipeline turns TLS on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import hcl2

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


def _spark_functions_called() -> set[str]:
    """Every ``pyspark.sql.functions`` function the jobs call (``F.<name>(``)."""
    sources = (ROOT / "spark_jobs" / "spark_jobs").glob("*.py")
    return {name for path in sources for name in re.findall(r"\bF\.(\w+)\(", path.read_text())}


def test_the_job_calls_no_spark_function_newer_than_the_clusters_spark() -> None:
    import pyspark.sql.functions as F
    from packaging.version import Version

    from trustpipe_orchestration.emr import CLUSTER_SPARK

    # GIVEN the Spark version each function the jobs call was added in (its docstring says)
    added = {}
    for name in _spark_functions_called():
        found = re.search(r"versionadded:: ([\d.]+)", getattr(F, name).__doc__ or "")
        assert found, f"F.{name}: no version in its docstring"
        added[name] = Version(found.group(1)).release[:2]
    assert len(added) > 20
    # THEN the release the DAG asks for has every one (the checkout's pyspark may be newer)
    cluster = Version(CLUSTER_SPARK).release[:2]
    assert sorted(name for name, version in added.items() if version > cluster) == []


def _modules() -> dict[str, dict[str, Any]]:
    out = {}
    for main in sorted((ROOT / "infra" / "modules").glob("*/main.tf")):
        with main.open() as f:
            out[main.parent.name] = hcl2.load(f)
    return out


def _resources(module: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for block in module.get("resource", []) for t, b in block.items() if t.strip('"') == kind]


def test_every_bucket_has_a_tls_only_policy_that_the_pipeline_turns_on() -> None:
    modules = _modules()
    # GIVEN every module that creates a bucket
    with_buckets = {name for name, m in modules.items() if _resources(m, "aws_s3_bucket")}
    assert {"data_lake", "private_bucket"} <= with_buckets
    for name in with_buckets:
        # THEN it has a bucket policy, switched by enforce_tls, whose document denies plain HTTP
        policies = _resources(modules[name], "aws_s3_bucket_policy")
        assert len(policies) == 1, f"{name} creates a bucket and no bucket policy"
        (switch,) = policies[0].values()
        assert "var.enforce_tls" in json.dumps(switch), name
        documents = json.dumps(modules[name].get("data", []))
        assert "aws:SecureTransport" in documents and "DenyInsecureTransport" in documents, name
    # and each module that uses private_bucket passes enforce_tls on, and so does the pipeline to them
    for name, module in modules.items():
        for block in module.get("module", []):
            for called, args in block.items():
                if args["source"] in ("../private_bucket", "../emr", "../orchestration", "../data_lake"):
                    assert args.get("enforce_tls") == "${var.enforce_tls}", f"{name} -> {called}"


def test_the_clusters_security_configuration_requires_imdsv2() -> None:
    text = (ROOT / "infra/modules/emr/main.tf").read_text()
    block = text.split('resource "aws_emr_security_configuration" "this"', 1)[1]
    assert re.search(r"MinimumInstanceMetadataServiceVersion\s*=\s*2\b", block)
    assert re.search(r"HttpPutResponseHopLimit\s*=\s*1\b", block)
    pipeline = (ROOT / "infra/modules/pipeline/main.tf").read_text()
    assert "security_configuration = one(module.emr[*].security_configuration_name)" in pipeline
