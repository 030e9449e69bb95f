"""The registry as deployed: Terraform's Lambda, API and alarms on the moto server, and the
built zip's handler answering API Gateway events against the DynamoDB table."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

from tests.harness.cli import run
from tests.harness.paths import ROOT
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_stack.stack import LocalStack

FUNCTION = "trustpipe-local-schema-registry"


def test_lambda_api_and_alarms_are_deployed(aws: AwsClients, settings: Settings) -> None:
    config = aws.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config["Handler"] == "schema_registry_lambda.handler.handler"
    assert config["Environment"]["Variables"]["REGISTRY_TABLE"] == settings.registry_table_name
    # a private REST API (an HTTP API cannot be private), every method IAM-authorised
    gateway = aws.client("apigateway")
    (api,) = [a for a in gateway.get_rest_apis()["items"] if a["name"] == FUNCTION]
    assert api["endpointConfiguration"]["types"] == ["PRIVATE"]
    (endpoint,) = api["endpointConfiguration"]["vpcEndpointIds"]
    (vpce,) = aws.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"]
    assert vpce["ServiceName"].endswith(".execute-api") and vpce["PrivateDnsEnabled"]
    methods = {
        (r["path"], m): gateway.get_method(restApiId=api["id"], resourceId=r["id"], httpMethod=m)
        for r in gateway.get_resources(restApiId=api["id"])["items"]
        for m in r.get("resourceMethods", {})
    }
    assert {k: v["authorizationType"] for k, v in methods.items()} == {
        ("/", "ANY"): "AWS_IAM",
        ("/{proxy+}", "ANY"): "AWS_IAM",
    }
    assert all(m["methodIntegration"]["type"] == "AWS_PROXY" for m in methods.values())
    # and its policy admits requests through that endpoint only
    policy = json.loads(api["policy"].replace('\\"', '"'))
    denied = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert [s["Condition"]["StringNotEquals"]["aws:SourceVpce"] for s in denied] == [endpoint]
    (stage,) = gateway.get_stages(restApiId=api["id"])["item"]
    assert stage["stageName"] == "registry" and stage["deploymentId"]
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNamePrefix=FUNCTION)["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} == {"5XXError", "Throttles"}
    for alarm in alarms:
        # the published runbook's URL names a file of docs/runbooks/
        link = alarm["AlarmDescription"].split("Runbook: ")[1]
        assert link.rsplit("/", 2)[-2] == "runbooks", link
        assert (ROOT / "docs" / "runbooks" / link.rsplit("/", 1)[1]).is_file(), link


def test_lambda_role_is_least_privilege(aws: AwsClients, settings: Settings) -> None:
    iam = aws.client("iam")
    role = f"{FUNCTION}-lambda"
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert not any("*" in a for a in actions), statement
        assert "*" not in resources, statement
    table_statement = next(s for s in document["Statement"] if s.get("Sid") == "RegistryTable")
    assert table_statement["Resource"].endswith(f"table/{settings.registry_table_name}")


def test_built_zip_handler_serves_api_gateway_events(
    local_stack: LocalStack, settings: Settings, tmp_path: Path
) -> None:
    # GIVEN the deployment zip unpacked as Lambda would
    zip_path = ROOT / "build" / "schema-registry-lambda.zip"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "task")
    assert zip_path.stat().st_size < 5 * 1024 * 1024
    # WHEN its handler gets API Gateway REST API proxy events (register, then fetch by id)
    script = """
import json, sys
import schema_registry_lambda, trustpipe
assert schema_registry_lambda.__file__.startswith(sys.argv[1]), schema_registry_lambda.__file__
from schema_registry_lambda.handler import handler
from schema_registry_lambda.local_server import to_event
schema = json.dumps({"type": "record", "name": "Z", "fields": [{"name": "z", "type": "long"}]})

def call(method, path, body=None):
    data = json.dumps(body).encode() if body else b""
    event = to_event(method, path, {"Content-Type": "application/json"}, data, "10.0.0.1")
    result = handler(event, None)
    return [result["statusCode"], json.loads(result["body"])]

registered = call("POST", "/subjects/zip-value/versions", {"schema": schema})
fetched = call("GET", f"/schemas/ids/{registered[1]['id']}")
missing = call("GET", "/subjects/zip-value/versions/9")
print(json.dumps([registered, fetched, missing]))
"""
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "task"),
        "REGISTRY_TABLE": settings.registry_table_name,
        "AWS_ENDPOINT_URL": settings.aws_endpoint or "",
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    result = run([sys.executable, "-c", script, str(tmp_path / "task")], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    # THEN it answers as the registry does, and logs EMF metrics
    registered, fetched, missing = json.loads(result.stdout.strip().splitlines()[-1])
    assert registered[0] == 200 and fetched[0] == 200
    assert json.loads(fetched[1]["schema"])["name"] == "Z"
    assert missing[1]["error_code"] == 40402
    # and logs EMF on stdout, as CloudWatch Logs expects: a request by status, and its latency
    emf = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"_aws"')]
    requests = sorted(d["Status"] for d in emf if "Requests" in d)
    assert requests == ["2xx", "2xx", "4xx"]
    assert all(d["Service"] == "schema-registry" and "service" not in d for d in emf)
    latencies = [v for d in emf for v in d.get("LatencyMs", [])]
    assert len(latencies) == 3 and all(v > 0 for v in latencies)
