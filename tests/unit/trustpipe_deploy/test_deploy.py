"""`make deploy`'s decisions: when to build a new image, what it needs before it applies, what it
tells the person at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trustpipe.errors import RunError
from trustpipe_deploy import deploy
from trustpipe_deploy.deploy import DeployError, Deployment


def _project(tmp_path: Path) -> Path:
    for folder in ("build/wheelhouse", "build/emr", "ansible", "packer", "infra/envs/dev"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "build/wheelhouse/trustpipe-0.1.0-py3-none-any.whl").write_bytes(b"wheel 1")
    (tmp_path / "build/emr/requirements.txt").write_text("six==1.17.0 --hash=sha256:00\n")
    (tmp_path / "ansible/worker.yml").write_text("- hosts: all\n")
    (tmp_path / "packer/worker.pkr.hcl").write_text("source {}\n")
    return tmp_path


def test_the_image_is_built_only_when_its_inputs_change(tmp_path: Path) -> None:
    deployment = Deployment(_project(tmp_path), "dev")
    built: list[str] = []

    def build() -> str:
        built.append(f"ami-{len(built) + 1:08x}")
        return built[-1]

    assert deploy.worker_image(deployment, "us-east-1", print, build) == "ami-00000001"
    assert deploy.worker_image(deployment, "us-east-1", print, build) == "ami-00000001"
    assert built == ["ami-00000001"]
    (tmp_path / "ansible/worker.yml").write_text("- hosts: all\n  become: true\n")
    assert deploy.worker_image(deployment, "us-east-1", print, build) == "ami-00000002"
    (tmp_path / "build/wheelhouse/trustpipe-0.1.0-py3-none-any.whl").write_bytes(b"wheel 2")
    assert deploy.worker_image(deployment, "us-east-1", print, build) == "ami-00000003"
    assert json.loads(deployment.image_record.read_text())["ami_id"] == "ami-00000003"


def test_the_ami_id_is_read_from_packers_machine_readable_output() -> None:
    out = (
        "1700000000,,ui,say,==> Builds finished.\n"
        "1700000001,amazon-ebs.worker,artifact,0,id,us-east-1:ami-0a1b2c3d4e5f67890\n"
    )
    assert deploy.ami_from_packer(out) == "ami-0a1b2c3d4e5f67890"
    with pytest.raises(RunError, match="no AMI id"):
        deploy.ami_from_packer("1700000000,,ui,error,Build 'worker' errored\n")


def test_no_backend_config_or_no_wheel_stops_before_anything_is_applied(tmp_path: Path) -> None:
    deployment = Deployment(_project(tmp_path), "dev")
    with pytest.raises(DeployError, match=r"backend.hcl does not exist: copy backend.hcl.example"):
        deploy.deploy(deployment, print, ami_id="ami-1")
    (tmp_path / "build/emr/requirements.txt").unlink()
    with pytest.raises(DeployError, match="no cluster wheels: run `make emr-wheels`"):
        deploy.deploy(deployment, print, ami_id="ami-1")
    (tmp_path / "build/wheelhouse/trustpipe-0.1.0-py3-none-any.whl").unlink()
    with pytest.raises(DeployError, match="no trustpipe wheel: run `make image-inputs`"):
        deploy.deploy(deployment, print, ami_id="ami-1")
    with pytest.raises(DeployError, match="ENV must be one of dev, prod"):
        deploy.deploy(Deployment(tmp_path, "staging"), print, ami_id="ami-1")


class _Clients:
    """What next_steps asks AWS, answered as AWS answers before the e-mail is clicked."""

    def __init__(self, subscriptions: list[dict[str, str]]) -> None:
        self.settings = type("S", (), {"oncall_topic_arn": "arn:aws:sns:us-east-1:1:oncall"})()
        self.subscriptions = subscriptions

    def client(self, service: str) -> Any:
        outer = self

        class Client:
            def describe_auto_scaling_groups(self, **_: Any) -> dict[str, Any]:
                return {"AutoScalingGroups": [{"Instances": [{"InstanceId": "i-0abc"}]}]}

            def list_subscriptions_by_topic(self, **_: Any) -> dict[str, Any]:
                return {"Subscriptions": outer.subscriptions}

        return Client()


def test_next_steps_say_how_to_reach_airflow_and_which_subscriptions_wait() -> None:
    secret = "arn:aws:secretsmanager:us-east-1:1:secret:trustpipe-dev/airflow/host-AbCdEf"
    airflow = {
        "asg_name": "trustpipe-dev-airflow",
        "parameter_prefix": "/trustpipe-dev/airflow",
        "host_secret_arn": secret,
    }
    outputs = {"airflow": {"value": airflow}}
    confirmed = "arn:aws:sns:us-east-1:1:oncall:x"
    subs = [
        {"Protocol": "email", "Endpoint": "a@example.com", "SubscriptionArn": "PendingConfirmation"},
        {"Protocol": "email", "Endpoint": "b@example.com", "SubscriptionArn": confirmed},
    ]
    lines = deploy.next_steps(outputs, _Clients(subs))  # type: ignore[arg-type]
    text = "\n".join(lines)
    assert "aws ssm start-session --target i-0abc --document-name AWS-StartPortForwardingSession" in text
    assert f"--secret-id {secret} --query SecretString --output text | jq -r .admin_password" in text
    assert "email a@example.com: pending: confirm the e-mail AWS sent" in text
    assert "email b@example.com: confirmed" in text
    assert "no subscription" in "\n".join(deploy.next_steps({}, _Clients([])))  # type: ignore[arg-type]
