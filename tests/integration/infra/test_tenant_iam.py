"""Each enterprise's identities, as infra/modules/tenants applies them, held by IAM enforcement:
a sensor of enterprise A writes only A's landing prefix and nothing on the raw stream; A's
consumer reads only A's action queue.

The module is applied (with the alerting module, as the pipeline wires them) by Terraform on a
moto server of this test's own, with moto's IAM enforcement off; then the test turns it on
through moto's server-mode switch (``POST /moto-api/reset-auth`` with the number of requests
still let through unchecked, here 0: the same setting as the ``INITIAL_NO_AUTH_ACTION_COUNT``
environment variable, which ``moto.core.authorization.set_initial_no_auth_action_count`` uses in
server mode). From then on every request is checked against the caller's identity policies: the
ones the apply wrote. moto evaluates identity policies (and role trust), not resource policies:
the queue and topic policies are checked as documents here and on AWS by AWS.

The server is moto's own (werkzeug), not the local stack's hypercorn-served app: behind hypercorn
moto recomputes an S3 signature over the decoded path, and a landing key's `enterprise=` then
fails as SignatureDoesNotMatch before any policy is read.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from tests.harness.paths import ROOT
from trustpipe_deploy.terraform import Terraform, find_plugin_mirror
from trustpipe_stack.procs import free_port, stop_pid, wait_for_port
from trustpipe_stack.servers import HOST
from trustpipe_stack.stack import MOTO_PARALLELISM

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
NAME = "tp-iam"
ENTERPRISES = ("alpha", "bravo")
RAW_STREAM = f"{NAME}-raw"
LANDING = f"{NAME}-landing"
OPERATOR_POLICY = {
    # What each enterprise's own operator holds in its account: it may assume roles and put on
    # Kinesis (the control that shows the enforcing server lets a permitted put through).
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "kinesis:PutRecord"], "Resource": "*"}],
}

ROOT_TF = """
terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }}
  }}
}}

variable "enterprises" {{
  type = map(object({{
    sensor_principals   = optional(list(string), [])
    consumer_principals = optional(list(string), [])
  }}))
}}

provider "aws" {{
  region                      = "{region}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}

resource "aws_kms_key" "this" {{
  description             = "{name}"
  deletion_window_in_days = 7
}}

resource "aws_s3_bucket" "landing" {{
  bucket        = "{landing}"
  force_destroy = true
}}

resource "aws_kinesis_stream" "raw" {{
  name        = "{raw}"
  shard_count = 1
}}

module "alerting" {{
  source      = "{modules}/alerting"
  name        = "{name}"
  enterprises = keys(var.enterprises)
  kms_key_arn = aws_kms_key.this.arn
}}

module "tenants" {{
  source             = "{modules}/tenants"
  name               = "{name}"
  enterprises        = var.enterprises
  landing_bucket_arn = aws_s3_bucket.landing.arn
  action_queue_arns  = module.alerting.action_queue_arns
  action_queue_urls  = module.alerting.action_queue_urls
  alert_topic_arns   = module.alerting.alert_topic_arns
  kms_key_arn        = aws_kms_key.this.arn
}}

output "tenants" {{
  value = module.tenants.tenants
}}
"""
SERVICES = ("dynamodb", "iam", "kinesis", "kms", "s3", "sns", "sqs", "sts")


def _client(endpoint: str, service: str, **credentials: str) -> Any:
    credentials = credentials or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **credentials)


def _operator(endpoint: str, name: str) -> dict[str, str]:
    """An IAM user of the account standing for one enterprise's own principal; its credentials."""
    iam = _client(endpoint, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="operator", PolicyDocument=json.dumps(OPERATOR_POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _apply(endpoint: str, work: Path, enterprises: dict[str, Any]) -> dict[str, Any]:
    root = work / "root"
    root.mkdir()
    endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in SERVICES)
    (root / "main.tf").write_text(
        ROOT_TF.format(
            region=REGION,
            endpoints=endpoints,
            name=NAME,
            landing=LANDING,
            raw=RAW_STREAM,
            modules=ROOT / "infra" / "modules",
        )
    )
    tf = Terraform(workdir=root, state_dir=work / "state", plugin_mirror=find_plugin_mirror())
    tf.init()
    tf.apply({"enterprises": json.dumps(enterprises)}, parallelism=MOTO_PARALLELISM)
    outputs: dict[str, Any] = tf.outputs()["tenants"]["value"]
    return outputs


def _enforce(endpoint: str, unchecked: float) -> None:
    """moto's server-mode switch: check every request after the next ``unchecked``."""
    reply = requests.post(f"{endpoint}/moto-api/reset-auth", data=str(unchecked).encode(), timeout=10)
    reply.raise_for_status()


@contextmanager
def _as_administrator(endpoint: str) -> Iterator[None]:
    """Enforcement paused: the account's administrator reads what the apply wrote."""
    _enforce(endpoint, math.inf)
    try:
        yield
    finally:
        _enforce(endpoint, 0)


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The module applied for alpha and bravo, each role assumable by that enterprise's own
    operator only; then IAM enforcement on. Yields the endpoint, the tenants output and each
    operator's credentials. The server is stopped by its pid."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    work = tmp_path_factory.mktemp("tenant-iam")
    port = free_port(HOST)
    with (work / "moto.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for_port(HOST, port, timeout=30, pid=server.pid)
        endpoint = f"http://{HOST}:{port}"
        operators = {e: _operator(endpoint, f"{e}-operator") for e in ENTERPRISES}
        arn = {e: f"arn:aws:iam::{ACCOUNT}:user/{e}-operator" for e in ENTERPRISES}
        tenants = _apply(
            endpoint,
            work,
            {e: {"sensor_principals": [arn[e]], "consumer_principals": [arn[e]]} for e in ENTERPRISES},
        )
        for enterprise in ENTERPRISES:  # an action waiting on each queue, sent before enforcement
            _client(endpoint, "sqs").send_message(
                QueueUrl=tenants[enterprise]["action_queue_url"],
                MessageBody=json.dumps({"action_id": f"{enterprise}/<m@x>/1"}),
                MessageGroupId="g",
                MessageDeduplicationId=enterprise,
            )
        _enforce(endpoint, 0)
        yield {"endpoint": endpoint, "tenants": tenants, "operators": operators}
    finally:
        stop_pid(server.pid)


def _session(
    enforced: dict[str, Any], enterprise: str, role: str, operator: str | None = None
) -> dict[str, str]:
    """Credentials of ``enterprise``'s ``role`` (sensor or consumer), assumed by ``operator``'s
    principal (the enterprise's own by default)."""
    sts = _client(enforced["endpoint"], "sts", **enforced["operators"][operator or enterprise])
    credentials = sts.assume_role(
        RoleArn=enforced["tenants"][enterprise][f"{role}_role_arn"], RoleSessionName=f"{enterprise}-{role}"
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def _denied(call: Any, **kwargs: Any) -> str:
    """The action IAM refused ``call`` (which must fail with 403 AccessDenied: moto names the
    action in the message, ``... is not authorized to perform: <action>``; S3's says only
    ``AccessDenied``)."""
    with pytest.raises(ClientError) as failed:
        call(**kwargs)
    error = failed.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
    message = str(error["Error"].get("Message", ""))
    found = re.search(r"not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9]+)", message)
    return found.group(1) if found else str(error["Error"]["Code"])


def _landing_key(enterprise: str) -> str:
    return (
        f"messages/enterprise={enterprise}/date=2026-12-07/hour=09/quarter=0/{enterprise}-20261207T0900.avro"
    )


def test_a_sensor_writes_its_own_landing_prefix_and_no_other(enforced: dict[str, Any]) -> None:
    # GIVEN alpha's sensor identity, as alpha's operator assumes it
    s3 = _client(enforced["endpoint"], "s3", **_session(enforced, "alpha", "sensor"))
    # WHEN it puts a drop under its own prefix THEN the put is let through
    s3.put_object(Bucket=LANDING, Key=_landing_key("alpha"), Body=b"Obj\x01")
    # WHEN it puts one under bravo's prefix, or beside the prefixes, THEN IAM refuses
    assert (
        _denied(s3.put_object, Bucket=LANDING, Key=_landing_key("bravo"), Body=b"Obj\x01") == "AccessDenied"
    )
    assert (
        _denied(s3.put_object, Bucket=LANDING, Key="messages/alpha.avro", Body=b"Obj\x01") == "AccessDenied"
    )
    # and a prefix that merely starts like alpha's is another enterprise's, refused too
    assert _denied(s3.put_object, Bucket=LANDING, Key=_landing_key("alpha-x"), Body=b"x") == "AccessDenied"
    # and it reads nothing back, not even its own
    assert _denied(s3.get_object, Bucket=LANDING, Key=_landing_key("alpha")) == "AccessDenied"


def test_a_sensor_cannot_put_on_the_raw_stream(enforced: dict[str, Any]) -> None:
    endpoint = enforced["endpoint"]
    record = {"StreamName": RAW_STREAM, "Data": b"\x00\x00\x00\x00\x01", "PartitionKey": "bravo/<m@x>"}
    # GIVEN the enforcing server lets a principal that holds kinesis:PutRecord put (the control)
    _client(endpoint, "kinesis", **enforced["operators"]["alpha"]).put_record(**record)
    # WHEN alpha's sensor puts a record (claiming bravo or itself) on the raw stream
    kinesis = _client(endpoint, "kinesis", **_session(enforced, "alpha", "sensor"))
    # THEN IAM refuses: the stream path is the front door's, never the sensor's
    assert _denied(kinesis.put_record, **record) == "kinesis:PutRecord"
    batch = [{"Data": b"\x00\x00\x00\x00\x01", "PartitionKey": "alpha/<m@x>"}]
    assert _denied(kinesis.put_records, StreamName=RAW_STREAM, Records=batch) == "kinesis:PutRecords"


def test_the_applied_sensor_policy_grants_nothing_on_kinesis(enforced: dict[str, Any]) -> None:
    # (moto checks Kinesis calls against resource "*": a grant scoped to a stream ARN would be
    # refused there all the same, so the documents the apply wrote are read too)
    for enterprise in ENTERPRISES:
        for statement in _role_policy(enforced, enterprise, "sensor")["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted = [a for a in actions if re.fullmatch(a.replace("*", ".*"), "kinesis:PutRecords")]
            granted += [a for a in actions if re.fullmatch(a.replace("*", ".*"), "kinesis:PutRecord")]
            assert granted == [], (enterprise, statement)


def _role_policy(enforced: dict[str, Any], enterprise: str, role: str) -> dict[str, Any]:
    with _as_administrator(enforced["endpoint"]):
        document = _client(enforced["endpoint"], "iam").get_role_policy(
            RoleName=f"{NAME}-{enterprise}-{role}", PolicyName=role
        )["PolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)  # type: ignore[no-any-return]


def test_a_consumer_reads_its_own_action_queue_and_no_other(enforced: dict[str, Any]) -> None:
    tenants = enforced["tenants"]
    # GIVEN alpha's consumer identity
    sqs = _client(enforced["endpoint"], "sqs", **_session(enforced, "alpha", "consumer"))
    # WHEN it receives from alpha's queue THEN it gets alpha's action
    (message,) = sqs.receive_message(QueueUrl=tenants["alpha"]["action_queue_url"], WaitTimeSeconds=0)[
        "Messages"
    ]
    assert json.loads(message["Body"])["action_id"].startswith("alpha/")
    sqs.delete_message(QueueUrl=tenants["alpha"]["action_queue_url"], ReceiptHandle=message["ReceiptHandle"])
    # WHEN it receives from bravo's queue THEN IAM refuses
    assert _denied(sqs.receive_message, QueueUrl=tenants["bravo"]["action_queue_url"]) == "sqs:ReceiveMessage"
    # and it cannot send actions, to its own queue or another's
    for enterprise in ENTERPRISES:
        queue = tenants[enterprise]["action_queue_url"]
        denied = _denied(sqs.send_message, QueueUrl=queue, MessageBody="{}", MessageGroupId="g")
        assert denied == "sqs:SendMessage"
    # while bravo's consumer does receive bravo's action
    bravo = _client(enforced["endpoint"], "sqs", **_session(enforced, "bravo", "consumer"))
    (message,) = bravo.receive_message(QueueUrl=tenants["bravo"]["action_queue_url"])["Messages"]
    assert json.loads(message["Body"])["action_id"].startswith("bravo/")


def test_only_an_enterprises_own_principals_assume_its_roles(enforced: dict[str, Any]) -> None:
    # GIVEN bravo's operator WHEN it assumes alpha's sensor or consumer role THEN STS refuses
    for role in ("sensor", "consumer"):
        with pytest.raises(ClientError) as refused:
            _session(enforced, "alpha", role, operator="bravo")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # while alpha's own operator assumes them (the control)
    assert _session(enforced, "alpha", "sensor", operator="alpha")["aws_session_token"]


def test_queue_and_topic_policies_keep_every_other_principal_out(enforced: dict[str, Any]) -> None:
    # (read from the applied resources; AWS enforces them, moto does not)
    with _as_administrator(enforced["endpoint"]):
        for enterprise in ENTERPRISES:
            own = enforced["tenants"][enterprise]
            queue = _client(enforced["endpoint"], "sqs").get_queue_attributes(
                QueueUrl=own["action_queue_url"], AttributeNames=["Policy"]
            )["Attributes"]["Policy"]
            topic = _client(enforced["endpoint"], "sns").get_topic_attributes(TopicArn=own["alert_topic_arn"])
            for policy, actions in (
                (queue, "sqs:ReceiveMessage"),
                (topic["Attributes"]["Policy"], "sns:Subscribe"),
            ):
                (deny,) = [
                    s for s in json.loads(policy)["Statement"] if s["Sid"].startswith("OnlyItsConsumer")
                ]
                assert deny["Effect"] == "Deny" and deny["Principal"] in ("*", {"AWS": "*"})
                assert actions in (deny["Action"] if isinstance(deny["Action"], list) else [deny["Action"]])
                assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": own["consumer_role_arn"]}}
