"""A transient EMR cluster per hourly run: the cluster and the Spark step, as EMR API payloads.

Pure functions of the configuration and the hour, so the DAG passes them to the Amazon provider's
operators as task outputs (read at run time, never at parse time) and tests read them directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trustpipe import layout
from trustpipe_orchestration.config import EmrConfig

VENV_PYTHON = "/opt/trustpipe/bin/python"
"""Where the bootstrap action installs the job (a venv: EMR's system Python is left alone); Spark's
driver and executors run it (PYSPARK_PYTHON)."""
CLUSTER_SPARK = "4.0"
"""The Spark of the release the DAG asks for (EmrConfig.release_label, emr-spark-8.0.0: Spark 4.0.2).
The job calls Spark 4.0's functions (``is_valid_utf8`` judges strings), so no EMR 7 release
(Spark 3.5) can run it."""
CLUSTER_PYTHON = "3.11"
"""The venv's interpreter on the nodes: emr-spark-8.0.0 has Python 3.11, 3.12 and 3.13. 3.11 is the
project's floor and this lock's Python in development and CI, so the wheels the tests install for
this machine resolve the lock's markers as the cluster's do (numpy's fork at 3.12 included)."""
CLUSTER_PLATFORM = "manylinux_2_34_aarch64"
"""The nodes' wheel platform: Graviton instances (the m7g/r7g defaults of EmrConfig) on Amazon Linux
2023, whose glibc is 2.34 (and every older manylinux tag, trustpipe_deploy.emr_wheels)."""


def cluster_spec(emr: EmrConfig, name: str, tags: dict[str, str]) -> dict[str, Any]:
    """RunJobFlow payload: on-demand primary, spot core nodes, terminate when the steps are done."""
    core_market = "SPOT" if emr.core_on_spot else "ON_DEMAND"
    instances: dict[str, Any] = {
        "InstanceGroups": [
            {
                "Name": "primary",
                "InstanceRole": "MASTER",
                "Market": "ON_DEMAND",
                "InstanceType": emr.primary_instance_type,
                "InstanceCount": 1,
            },
            {
                "Name": "core",
                "InstanceRole": "CORE",
                "Market": core_market,
                "InstanceType": emr.core_instance_type,
                "InstanceCount": emr.core_instance_count,
            },
        ],
        # The terminate task ends the cluster; this is for the run that never reaches it.
        "KeepJobFlowAliveWhenNoSteps": True,
        "TerminationProtected": False,
    }
    if emr.subnet_ids:
        instances["Ec2SubnetIds"] = list(emr.subnet_ids)
    if emr.additional_security_group_ids:
        instances["AdditionalMasterSecurityGroups"] = list(emr.additional_security_group_ids)
        instances["AdditionalSlaveSecurityGroups"] = list(emr.additional_security_group_ids)
    spec: dict[str, Any] = {
        "Name": name,
        "ReleaseLabel": emr.release_label,
        "Applications": [{"Name": "Spark"}],
        "LogUri": emr.log_uri,
        "ServiceRole": emr.service_role,
        "JobFlowRole": emr.job_flow_role,
        "VisibleToAllUsers": True,
        "Instances": instances,
        "AutoTerminationPolicy": {"IdleTimeout": emr.idle_timeout_seconds},
        "BootstrapActions": [
            {
                "Name": "install trustpipe",
                "ScriptBootstrapAction": {
                    "Path": f"{emr.code_uri.rstrip('/')}/bootstrap.sh",
                    "Args": [emr.code_uri.rstrip("/"), VENV_PYTHON, f"python{CLUSTER_PYTHON}"],
                },
            }
        ],
        "Configurations": [
            {
                "Classification": "spark-env",
                "Configurations": [
                    {"Classification": "export", "Properties": {"PYSPARK_PYTHON": VENV_PYTHON}}
                ],
            }
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }
    if emr.security_configuration:
        spec["SecurityConfiguration"] = emr.security_configuration
    return spec


def score_steps(emr: EmrConfig, scored_bucket: str, hour: datetime) -> list[dict[str, Any]]:
    """One spark-submit step: the same entry point as locally, reading and writing s3:// directly
    (its parts go under the scored bucket's ``_work/`` prefix, which no import event watches)."""
    code = emr.code_uri.rstrip("/")
    return [
        {
            "Name": f"score_messages {layout.format_hour(hour)}",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": [
                    "spark-submit",
                    "--deploy-mode",
                    "client",
                    f"{code}/jobs/score_messages.py",
                    "--hour",
                    layout.format_hour(hour),
                    "--settings",
                    f"{code}/settings.json",
                    "--master",
                    "yarn",
                    "--work-uri",
                    f"s3://{scored_bucket}/_work",
                ],
            },
        }
    ]
