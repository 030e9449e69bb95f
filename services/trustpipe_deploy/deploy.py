"""`make deploy ENV=dev|prod`: from this checkout to a running stack on AWS.

The worker image is built with Packer only when its inputs changed (the wheelhouse, the Ansible
role, the Packer template); then ``terraform apply`` of ``infra/envs/<env>`` stands up everything
and uploads the code (DAGs, wheels, the EMR job, the settings) and Airflow's Variables and
Connections. What is left for a person is printed at the end: how to reach the Airflow UI, and
whether the on-call e-mail subscriptions are confirmed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustpipe.aws import AwsClients
from trustpipe.errors import RunError, UserError
from trustpipe.settings import Settings
from trustpipe_deploy.terraform import Terraform, find_plugin_mirror

CLOUD_ENVS = ("dev", "prod")
IMAGE_INPUTS = ("build/wheelhouse", "ansible", "packer")
"""What the worker image is built from: a change to any file here builds a new image."""
Say = Callable[[str], None]


class DeployError(UserError):
    """The deployment cannot start: a missing file, tool or choice."""


@dataclass(frozen=True)
class Deployment:
    """Where a cloud root is applied from, and what it keeps between runs (under ``build/``)."""

    project_root: Path
    env: str
    root_dir: Path | None = None
    """The Terraform root (default ``infra/envs/<env>``)."""

    @property
    def root(self) -> Path:
        return self.root_dir or self.project_root / "infra" / "envs" / self.env

    @property
    def backend_config(self) -> Path:
        return self.root / "backend.hcl"

    @property
    def work_dir(self) -> Path:
        return self.project_root / "build" / f"deploy-{self.env}"

    @property
    def image_record(self) -> Path:
        """The last image built for this env: its inputs' fingerprint and AMI id."""
        return self.work_dir / "image.json"


def image_fingerprint(project_root: Path, inputs: Iterable[str] = IMAGE_INPUTS) -> str:
    """Digest of every file the image is built from (paths and contents)."""
    digest = hashlib.sha256()
    for folder in inputs:
        for path in sorted((project_root / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(project_root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def worker_image(
    deployment: Deployment, region: str, say: Say, build: Callable[[], str] | None = None
) -> str:
    """The AMI for this deployment: the recorded one when the image's inputs are unchanged, else
    a new one from Packer (``build``, by default `packer build`), recorded."""
    fingerprint = image_fingerprint(deployment.project_root)
    try:
        record = json.loads(deployment.image_record.read_text())
    except (FileNotFoundError, ValueError):
        record = {}
    if record.get("fingerprint") == fingerprint and record.get("ami_id"):
        say(f"worker image unchanged: {record['ami_id']}")
        return str(record["ami_id"])
    say("worker image inputs changed: building a new image with Packer (about 15 minutes)")
    ami_id = (build or (lambda: packer_build(deployment.project_root, region, say)))()
    deployment.work_dir.mkdir(parents=True, exist_ok=True)
    deployment.image_record.write_text(json.dumps({"fingerprint": fingerprint, "ami_id": ami_id}) + "\n")
    return ami_id


def packer_build(project_root: Path, region: str, say: Say) -> str:
    """`packer init` + `packer build` of the worker image; its AMI id."""
    if shutil.which("packer") is None:
        raise DeployError("packer is not on PATH: install Packer >= 1.10 (or pass --ami)")
    template = project_root / "packer" / "worker.pkr.hcl"
    subprocess.run(["packer", "init", str(template.parent)], check=True, cwd=project_root)
    proc = subprocess.run(
        ["packer", "build", "-machine-readable", "-var", f"region={region}", str(template)],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RunError(f"packer build failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return ami_from_packer(proc.stdout)


def ami_from_packer(machine_readable: str) -> str:
    """The AMI id of a machine-readable `packer build` (``...,artifact,0,id,<region>:<ami>``)."""
    found = re.findall(r",artifact,0,id,[\w-]+:(ami-[0-9a-f]+)", machine_readable)
    if not found:
        raise RunError("packer build printed no AMI id")
    return str(found[-1])


def apply(
    deployment: Deployment,
    variables: dict[str, str],
    say: Say,
    plugin_mirror: str | None = None,
) -> dict[str, Any]:
    """`terraform init` with the root's backend.hcl and `terraform apply`; the outputs."""
    if not deployment.backend_config.is_file():
        raise DeployError(
            f"{deployment.backend_config} does not exist: copy backend.hcl.example beside it with your "
            "state bucket and lock table (docs/deploy.md, Remote state)"
        )
    tf = Terraform(
        workdir=deployment.root,
        state_dir=deployment.work_dir / "terraform",
        plugin_mirror=find_plugin_mirror(plugin_mirror),
        log_file=deployment.work_dir / "terraform.log",
    )
    say(f"terraform apply of {deployment.root} (log: {deployment.work_dir / 'terraform.log'})")
    tf.init(backend_config=str(deployment.backend_config.resolve()))
    tf.apply(variables)
    return tf.outputs()


def next_steps(outputs: dict[str, Any], aws: AwsClients) -> list[str]:
    """What a person does after the apply: reach the Airflow UI, confirm the on-call e-mails."""
    lines = []
    airflow = (outputs.get("airflow") or {}).get("value") or {}
    if airflow.get("asg_name"):
        groups = aws.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[airflow["asg_name"]]
        )["AutoScalingGroups"]
        instances = [i["InstanceId"] for g in groups for i in g.get("Instances", [])]
        target = instances[0] if instances else "<the instance of ASG " + airflow["asg_name"] + ">"
        lines += [
            "Airflow UI (Session Manager port forwarding, then http://localhost:8080):",
            f"  aws ssm start-session --target {target} --document-name AWS-StartPortForwardingSession "
            '--parameters \'{"portNumber":["8080"],"localPortNumber":["8080"]}\'',
            f"  Variables and Connections: Parameter Store under {airflow['parameter_prefix']}/",
        ]
        if airflow.get("host_secret_arn"):
            lines.append(
                "  sign in as admin with: aws secretsmanager get-secret-value --secret-id "
                f"{airflow['host_secret_arn']} --query SecretString --output text | jq -r .admin_password"
            )
    topic = aws.settings.oncall_topic_arn
    if topic:
        subs = aws.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        lines.append(f"On-call topic {topic}:")
        for sub in subs or [{"Endpoint": "no subscription", "SubscriptionArn": ""}]:
            pending = sub["SubscriptionArn"] in ("PendingConfirmation", "")
            state = "pending: confirm the e-mail AWS sent" if pending else "confirmed"
            lines.append(f"  {sub.get('Protocol', '')} {sub['Endpoint']}: {state}")
    return lines


def deploy(
    deployment: Deployment,
    say: Say,
    ami_id: str | None = None,
    alert_emails: list[str] | None = None,
    extra_variables: dict[str, str] | None = None,
    plugin_mirror: str | None = None,
) -> Settings:
    """The image when needed, then the apply; the deployment's settings (also written to
    ``build/deploy-<env>/settings.json``)."""
    if deployment.env not in CLOUD_ENVS and deployment.root_dir is None:
        raise DeployError(f"ENV must be one of {', '.join(CLOUD_ENVS)} (or local); got {deployment.env!r}")
    wheelhouse = deployment.project_root / "build" / "wheelhouse"
    if not list(wheelhouse.glob("trustpipe-*.whl")):
        raise DeployError(
            f"{wheelhouse} has no trustpipe wheel: run `make image-inputs` (`make deploy` does)"
        )
    if not (deployment.project_root / "build" / "emr" / "requirements.txt").is_file():
        raise DeployError(
            f"{deployment.project_root / 'build' / 'emr'} has no cluster wheels: run `make emr-wheels` "
            "(`make deploy` does)"
        )
    region = (extra_variables or {}).get("region", "us-east-1")
    variables = {"worker_ami_id": ami_id or worker_image(deployment, region, say), **(extra_variables or {})}
    if alert_emails:
        variables["alert_emails"] = json.dumps(alert_emails)
    outputs = apply(deployment, variables, say, plugin_mirror)
    settings = Settings.from_terraform_outputs(outputs)
    settings.save(deployment.work_dir / "settings.json")
    say(f"applied; the services' settings are in {deployment.work_dir / 'settings.json'}")
    for line in next_steps(outputs, AwsClients(settings)):
        say(line)
    return settings
