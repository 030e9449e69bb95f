"""`terraform apply` of infra/envs/dev, the cloud root, against a moto server, through the same
code `make deploy ENV=dev` runs: everything it creates, the code it uploads, Airflow's
configuration in Parameter Store, and no secret anywhere a person or a log could read it.

The root is applied as it is, with a test-only override file beside a copy of its files: the
provider pointed at the moto server, the state local. What moto cannot run is switched off, each
with its reason (MOTO_SWITCHES). Nothing of the root is left out: moto creates all of it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from tests.harness import reach
from tests.harness.paths import ROOT
from trustpipe import layout, metrics
from trustpipe.db import roles
from trustpipe.db.connect import connector
from trustpipe.settings import Settings
from trustpipe_deploy import emr_wheels, stage_lambdas
from trustpipe_deploy.deploy import Deployment, deploy
from trustpipe_review import lambda_handler
from trustpipe_search import engine
from trustpipe_stack.servers import MotoServer

MOTO_AMI = "ami-12c6146b"  # one of moto's stock images stands in for the baked one
MOTO_SWITCHES = {
    # The buckets deny requests without TLS; the moto server speaks plain HTTP.
    "enforce_tls": "false",
    # The AWS provider waits out the whole create timeout for a domain on moto (its waiter never
    # sees the domain ready; the check after the timeout does): a short one, not 60 minutes.
    "search_create_timeout": '"15s"',
}
SERVICES = [
    *(
        "apigateway",
        "apigatewayv2",
        "autoscaling",
        "cloudwatch",
        "dynamodb",
        "ec2",
        "emr",
        "firehose",
        "iam",
        "kinesis",
    ),
    *("kms", "opensearch", "lambda", "logs", "rds", "s3", "secretsmanager", "sns", "sqs", "ssm", "sts"),
    "cognitoidp",
]
ALERT_EMAIL = "oncall@example.com"
ENTERPRISES = {
    # A tenant map of the dev root's own, none of the simulator's enterprises: one enterprise's
    # roles assumed from its own account, one handed out by this account's root.
    "northwind": {
        "sensor_principals": ["arn:aws:iam::111122223333:role/northwind-sensors"],
        "consumer_principals": ["arn:aws:iam::111122223333:role/northwind-mail-gateway"],
    },
    "contoso-eu-2": {},
}


def _override(endpoint: str, state: Path) -> str:
    endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in SERVICES)
    switches = "\n".join(f"  {k} = {v}" for k, v in MOTO_SWITCHES.items())
    return f"""terraform {{
  backend "local" {{}}
}}

provider "aws" {{
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

module "pipeline" {{
{switches}
}}
"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout the apply uploads from: this one's dags/ and spark_jobs/, a wheelhouse with the
    project's wheel built now (as `make image-inputs` builds it), and the cluster's wheels (as
    `make emr-wheels` builds them) for this machine's Python and platform, standing in for the
    cluster's."""
    out = tmp_path_factory.mktemp("checkout")
    for folder in ("dags", "spark_jobs"):
        (out / folder).symlink_to(ROOT / folder)
    wheelhouse = out / "build" / "wheelhouse"
    uv = [sys.executable, "-m", "uv"] if shutil.which("uv") is None else ["uv"]
    done = subprocess.run(
        [*uv, "build", "--wheel", "--out-dir", str(wheelhouse), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    emr_wheels.build(ROOT, out / "build" / "emr", emr_wheels.this_machine())
    # The review function's code stands in as moto's stock AMI does for the baked image: moto
    # stores a function's zip and never runs it. The real zip is built and its handler run under
    # awslambdaric in tests/integration/trustpipe_lambda/test_stage_package.py.
    with zipfile.ZipFile(out / "build" / f"{stage_lambdas.REVIEW.name}-lambda.zip", "w") as stand_in:
        stand_in.writestr("README", "moto stand-in for the review function's zip; never run\n")
    return out


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = MotoServer(tmp_path_factory.mktemp("moto-dev"))
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def applied(
    moto: str, checkout: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Deployment, list[str]]]:
    """The dev root applied by `trustpipe_deploy.deploy` (the AMI given, so no Packer run)."""
    project = tmp_path_factory.mktemp("project")
    root = project / "infra" / "envs" / "dev"
    root.mkdir(parents=True)
    (project / "infra" / "modules").symlink_to(ROOT / "infra" / "modules")
    (project / "build").symlink_to(checkout / "build")
    for tf in (ROOT / "infra" / "envs" / "dev").glob("*.tf"):
        shutil.copy(tf, root)
    (root / "moto_override.tf").write_text(_override(moto, project / "state"))
    (root / "backend.hcl").write_text(f'path = "{project / "state" / "terraform.tfstate"}"\n')
    lambda_zip = ROOT / "build" / "schema-registry-lambda.zip"
    subprocess.run([sys.executable, "-m", "schema_registry_lambda.build"], cwd=ROOT, check=True)
    frontdoor_zip = ROOT / "build" / "frontdoor-lambda.zip"
    subprocess.run([sys.executable, "-m", "trustpipe_frontdoor.build"], cwd=ROOT, check=True)
    said: list[str] = []
    env = {"AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    # Terraform's own parallelism (10), not the local stack's 30: this root is the largest, and
    # the machine runs the rest of the suite beside it.
    env["TF_CLI_ARGS_apply"] = "-parallelism=10"
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        deployment = Deployment(project, "dev", root_dir=root)
        settings = deploy(
            deployment,
            say=said.append,
            ami_id=MOTO_AMI,
            alert_emails=[ALERT_EMAIL],
            extra_variables={
                "checkout_dir": str(checkout),
                "registry_lambda_zip": str(lambda_zip),
                "frontdoor_lambda_zip": str(frontdoor_zip),
                "enterprises": json.dumps(ENTERPRISES),
            },
        )
        yield settings, deployment, said
    finally:
        mp.undo()


def _aws(moto: str, service: str) -> Any:
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1", **credentials)


def test_the_whole_dev_root_applies_and_its_settings_name_every_resource(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, deployment, _ = applied
    # THEN the services' settings are complete (the importer, the DAG, the workers read them)
    assert settings.database_url and settings.database_url.startswith("postgresql://trustpipe_admin@")
    assert settings.database_url.endswith(f"/trustpipe?sslmode=verify-full&sslrootcert={roles.RDS_CA_BUNDLE}")
    assert settings.database_secret_arn and settings.oncall_topic_arn and settings.registry_url
    assert Settings.load(deployment.work_dir / "settings.json") == settings
    # and the resources they name exist
    assert _aws(moto, "s3").head_bucket(Bucket=settings.landing_bucket)
    assert _aws(moto, "kinesis").describe_stream_summary(StreamName=settings.raw_stream_name)
    (db,) = _aws(moto, "rds").describe_db_instances()["DBInstances"]
    assert db["MasterUserSecret"]["SecretArn"] == settings.database_secret_arn
    state = json.loads((deployment.project_root / "state" / "terraform.tfstate").read_text())
    assert len([r for r in state["resources"] if r["mode"] == "managed"]) > 100


def test_the_tenants_are_the_roots_own_map_each_with_its_queue_topic_and_roles(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, _, _ = applied
    # THEN the settings serve exactly the map's enterprises (no simulator default crept in)
    assert set(settings.tenants) == set(ENTERPRISES)
    iam, sqs, sns = _aws(moto, "iam"), _aws(moto, "sqs"), _aws(moto, "sns")
    for enterprise, own in settings.tenants.items():
        # and each names its own queue, topic and two roles, which exist
        assert own["action_queue_url"].endswith(f"/trustpipe-dev-actions-{enterprise}.fifo")
        assert own["alert_topic_arn"].endswith(f":trustpipe-dev-alerts-{enterprise}")
        policy = sqs.get_queue_attributes(QueueUrl=own["action_queue_url"], AttributeNames=["Policy"])
        assert own["consumer_role_arn"] in policy["Attributes"]["Policy"]
        assert (
            own["consumer_role_arn"]
            in sns.get_topic_attributes(TopicArn=own["alert_topic_arn"])["Attributes"]["Policy"]
        )
        for role in ("sensor", "consumer"):
            arn = own[f"{role}_role_arn"]
            assert arn.endswith(f":role/trustpipe-dev-{enterprise}-{role}")
            trust = iam.get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]["AssumeRolePolicyDocument"]
            trust = trust if isinstance(trust, dict) else json.loads(trust)
            (statement,) = trust["Statement"]
            named = ENTERPRISES[enterprise].get(f"{role}_principals") or ["arn:aws:iam::123456789012:root"]
            principals = statement["Principal"]["AWS"]
            assert sorted([principals] if isinstance(principals, str) else principals) == sorted(named)
        # and the sensor role writes the dev landing bucket's own prefix of its enterprise only
        sensor = iam.get_role_policy(RoleName=f"trustpipe-dev-{enterprise}-sensor", PolicyName="sensor")
        document = sensor["PolicyDocument"]
        document = document if isinstance(document, dict) else json.loads(document)
        (landing,) = [s for s in document["Statement"] if s["Sid"] == "OwnLandingPrefix"]
        assert (
            landing["Resource"]
            == f"arn:aws:s3:::{settings.landing_bucket}/messages/enterprise={enterprise}/*"
        )


def test_the_apply_uploaded_the_code_the_dag_and_the_clusters_read(
    applied: tuple[Settings, Deployment, list[str]], moto: str, checkout: Path
) -> None:
    settings, deployment, _ = applied
    outputs = _outputs(deployment)
    s3 = _aws(moto, "s3")
    dag_bucket = outputs["dag_bucket"]
    for dag in (ROOT / "dags").glob("*.py"):
        body = s3.get_object(Bucket=dag_bucket, Key=f"dags/{dag.name}")["Body"].read()
        assert body == dag.read_bytes(), dag.name
    (wheel,) = (checkout / "build" / "wheelhouse").glob("trustpipe-*.whl")
    code = outputs["code"]["code_uri"].removeprefix(f"s3://{settings.archive_bucket}/")
    assert code == "code" and outputs["emr"]["code_uri"] == outputs["code"]["code_uri"]

    def archived(key: str) -> bytes:
        return bytes(s3.get_object(Bucket=settings.archive_bucket, Key=f"code/{key}")["Body"].read())

    assert archived(f"wheels/{wheel.name}") == wheel.read_bytes()
    assert archived("bootstrap.sh") == (ROOT / "spark_jobs/emr/bootstrap.sh").read_bytes()
    assert archived("jobs/score_messages.py") == (ROOT / "spark_jobs/emr/score_messages.py").read_bytes()
    assert Settings.from_json(archived("settings.json").decode(), "code/settings.json") == settings


def test_no_secret_in_user_data_parameters_or_state(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, deployment, _ = applied
    password = json.loads(
        _aws(moto, "secretsmanager").get_secret_value(SecretId=settings.database_secret_arn)["SecretString"]
    )["password"]
    assert len(password) >= 8
    texts = dict(_user_data(moto))
    parameters = _parameters(moto, deployment)
    texts |= {f"parameter {name}": value for name, value in parameters.items()}
    texts["terraform state"] = (deployment.project_root / "state" / "terraform.tfstate").read_text()
    assert len(texts) >= 3 + 4 + 1  # the launch templates (workers, Airflow), the parameters, the state
    # and Airflow's keys and admin password, generated by the apply into the host secret
    host_keys = json.loads(
        _aws(moto, "secretsmanager").get_secret_value(
            SecretId=_outputs(deployment)["airflow"]["host_secret_arn"]
        )["SecretString"]
    )
    secrets = [
        password,
        *(host_keys[k] for k in ("fernet_key", "jwt_secret", "api_secret_key", "admin_password")),
    ]
    assert all(len(s) >= 32 for s in secrets[1:])
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, name
    # and the database connection logs in with an IAM token instead of carrying a password
    prefix = _outputs(deployment)["airflow"]["parameter_prefix"]
    connection = json.loads(parameters[f"{prefix}/connections/trustpipe_db"])
    assert "password" not in connection and connection["login"] == roles.AIRFLOW
    assert connection["extra"]["iam"] is True


def _named_metrics(state: dict[str, Any]) -> tuple[set[tuple[str, str, tuple[str, ...]]], set[str]]:
    """Every (namespace, metric, dimension names) the applied alarms and dashboards read, and the
    names of the alarms and widgets that read them."""
    named: set[tuple[str, str, tuple[str, ...]]] = set()
    readers: set[str] = set()

    def add(reader: str, namespace: str, name: str, dimensions: Any) -> None:
        named.add((namespace, name, tuple(sorted(dimensions))))
        readers.add(reader)

    for resource in state["resources"]:
        for instance in resource.get("instances", []):
            a = instance["attributes"]
            if resource["type"] == "aws_cloudwatch_metric_alarm":
                if a["metric_name"]:
                    add(a["alarm_name"], a["namespace"], a["metric_name"], a["dimensions"] or {})
                for query in a["metric_query"]:
                    for m in query["metric"]:
                        add(a["alarm_name"], m["namespace"], m["metric_name"], m["dimensions"] or {})
            elif resource["type"] == "aws_cloudwatch_dashboard":
                for widget in json.loads(a["dashboard_body"])["widgets"]:
                    title = widget["properties"]["title"]
                    for entry in widget["properties"]["metrics"]:
                        assert isinstance(entry, list), f"{title}: each metric is an array, not {entry!r}"
                        if isinstance(entry[0], dict):  # a SEARCH expression: {ns,dims} MetricName="x"
                            found = re.search(r"\{([^}]*)\} MetricName=\"([^\"]+)\"", entry[0]["expression"])
                            assert found, entry
                            namespace, *dimensions = found.group(1).split(",")
                            add(title, namespace, found.group(2), dimensions)
                        else:  # [namespace, name, dim, value, dim, value, ..., {options}]
                            plain = [e for e in entry if not isinstance(e, dict)]
                            add(title, plain[0], plain[1], plain[2::2])
    return named, readers


def test_alarms_and_dashboard_read_exactly_the_metrics_the_code_emits(
    applied: tuple[Settings, Deployment, list[str]],
) -> None:
    # GIVEN the dev root as applied (for_each and jsonencode evaluated by Terraform itself)
    _, deployment, _ = applied
    state = json.loads((deployment.project_root / "state" / "terraform.tfstate").read_text())
    named, readers = _named_metrics(state)
    # THEN what they read in trustpipe's own namespaces is the catalog of what the code emits,
    # no metric more (a chart or alarm on nothing) and none less (a figure nobody sees)
    ours = {n for n in named if n[0].startswith("trustpipe")}
    catalog = {(m.namespace, m.name, tuple(sorted(m.dimensions))) for m in metrics.ALL}
    assert ours - catalog == set(), "read by an alarm or widget, never emitted"
    assert catalog - ours == set(), "emitted, read by no alarm or widget"
    # and the rest are AWS's own metrics
    aws_namespaces = {"AWS/SQS", "AWS/Kinesis", "AWS/RDS", "AWS/ApiGateway", "AWS/Lambda", "AWS/ES"}
    assert {n[0] for n in named - ours} == aws_namespaces
    # and every paging worker alarm is there for every service: error rate and silence
    for service in metrics.WORKER_SERVICES:
        assert {f"trustpipe-dev-{service}-error-rate", f"trustpipe-dev-{service}-silent"} <= readers


def test_airflow_reads_its_variables_connections_and_dags_as_the_host_would(
    applied: tuple[Settings, Deployment, list[str]], moto: str, tmp_path: Path
) -> None:
    settings, _, _ = applied
    # GIVEN the Airflow host's environment file, as its user data writes it
    templates = _user_data(moto)
    (user_data,) = [text for name, text in templates.items() if "-airflow" in name] or [templates]
    env = _env_file(user_data)
    assert env["AIRFLOW__SECRETS__BACKEND"] == "trustpipe_orchestration.secrets.ParameterStoreBackend"
    # (the metadata URL names Airflow's own role, no password: a token comes per connection)
    metadata_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert metadata_url.startswith(f"postgresql+psycopg2://{roles.AIRFLOW}@") and "/airflow?" in metadata_url
    roles.require_verified(metadata_url)
    env = _as_here(env, applied[1])
    # WHEN Airflow (its own code, the Amazon provider's backend and S3 DAG bundle) reads them,
    # with a throwaway metadata database instead of the RDS one
    env |= {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    done = subprocess.run(
        [sys.executable, "-c", READ_AS_THE_HOST],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN the Variables are the deployment's settings and pipeline configuration
    assert Settings.from_dict(seen["trustpipe_settings"]) == settings
    assert seen["trustpipe_pipeline"]["mode"] == "emr"
    assert seen["trustpipe_pipeline"]["emr"]["code_uri"] == f"s3://{settings.archive_bucket}/code"
    # and the database connection is Airflow's own role, with no password (the Postgres hook
    # makes an IAM token per connection), verifying the server
    db = seen["trustpipe_db"]
    assert db["password"] is None and db["login"] == roles.AIRFLOW and db["schema"] == "trustpipe"
    assert db["extra"] == {
        "sslmode": "verify-full",
        "sslrootcert": roles.RDS_CA_BUNDLE,
        "iam": True,
        "aws_conn_id": "aws_default",
    }
    # and the DAG bundle brought the DAGs down from S3, and they parse
    assert sorted(seen["dag_files"]) == sorted(p.name for p in (ROOT / "dags").glob("*.py"))
    assert seen["import_errors"] == {}
    assert {"message_scoring_hourly", "model_build_nightly"} <= set(seen["dag_ids"])


def test_make_deploy_prints_how_to_reach_airflow_and_the_subscriptions(
    applied: tuple[Settings, Deployment, list[str]],
) -> None:
    _, _, said = applied
    text = "\n".join(said)
    assert "aws ssm start-session --target i-" in text and "AWS-StartPortForwardingSession" in text
    # (moto confirms an e-mail subscription at once; AWS waits for the click: a unit test has that)
    assert f"email {ALERT_EMAIL}: confirmed" in text


READ_AS_THE_HOST = """
import json
from airflow.models import Variable
from airflow.models.connection import Connection
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import DagBag

names = ("trustpipe_settings", "trustpipe_pipeline")
out = {name: Variable.get(name, deserialize_json=True) for name in names}
conn = Connection.get_connection_from_secrets("trustpipe_db")
out["trustpipe_db"] = {
    "password": conn.password, "login": conn.login, "schema": conn.schema, "extra": conn.extra_dejson
}
bundle = DagBundlesManager().get_bundle("trustpipe")
bundle.initialize()
out["dag_files"] = [p.name for p in bundle.path.glob("*.py")]
bag = DagBag(str(bundle.path))
out["import_errors"] = {k: str(v) for k, v in bag.import_errors.items()}
out["dag_ids"] = sorted(bag.dag_ids)
print(json.dumps(out))
"""


def _outputs(deployment: Deployment) -> dict[str, Any]:
    state = json.loads((deployment.project_root / "state" / "terraform.tfstate").read_text())
    return {name: out["value"] for name, out in state["outputs"].items()}


def _user_data(moto: str) -> dict[str, str]:
    """Each launch template's user data, decoded, by template name."""
    ec2 = _aws(moto, "ec2")
    out = {}
    for template in ec2.describe_launch_templates()["LaunchTemplates"]:
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"]
        data = version["LaunchTemplateData"].get("UserData", "")
        out[template["LaunchTemplateName"].rstrip("-0123456789")] = base64.b64decode(data).decode()
    return out


def _parameters(moto: str, deployment: Deployment) -> dict[str, str]:
    prefix = _outputs(deployment)["airflow"]["parameter_prefix"]
    ssm = _aws(moto, "ssm")
    paginator = ssm.get_paginator("get_parameters_by_path")
    pages = paginator.paginate(Path=prefix, Recursive=True, WithDecryption=True)
    return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}


def _env_file(user_data: str) -> dict[str, str]:
    """/etc/trustpipe/airflow.env as the user data writes it (KEY='value' lines)."""
    body = user_data.split("cat > /etc/trustpipe/airflow.env <<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    env = {}
    for line in body.splitlines():
        key, _, value = line.partition("=")
        assert value.startswith("'") and value.endswith("'") and "'" not in value[1:-1], line
        env[key] = value[1:-1]
    return env


# -- issue 34, least privilege: the database's roles, TLS and network ----------------------------

WORKER_SERVICES = ("scorer", "importer", "alerter", "indexer")
DATABASE_USERS = {"importer": roles.IMPORTER}
"""The worker services that use the database, and the role each logs in as (only the importers)."""


def _reaches_port(permission: dict[str, Any], port: int) -> bool:
    """Whether an EC2 security group permission lets TCP traffic to ``port`` through."""
    if permission["IpProtocol"] == "-1":
        return True
    if permission["IpProtocol"] not in ("tcp", "6"):
        return False
    return bool(permission.get("FromPort", 0) <= port <= permission.get("ToPort", 65535))


def test_only_the_importers_airflow_and_the_review_api_reach_the_database_port(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    assert applied
    ec2 = _aws(moto, "ec2")
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    # GIVEN a security group per worker service, each launch template using its service's own
    own = {service: groups[f"trustpipe-dev-{service}"] for service in WORKER_SERVICES}
    for name, data in _launch_template_data(moto).items():
        service = name.removeprefix("trustpipe-dev-")
        if service in own:
            assert data["SecurityGroupIds"] == [own[service]["GroupId"]], name
    # THEN a service that does not use the database has no way out to its port
    for service, group in own.items():
        out = [p for p in group["IpPermissionsEgress"] if _reaches_port(p, 5432)]
        assert bool(out) == (service in DATABASE_USERS), f"{service} egress to 5432: {out}"
    # and the database admits exactly the importers', the Airflow host's and the review function's
    # groups, no address range
    database = groups["trustpipe-dev-db"]
    admitted = [p for p in database["IpPermissions"] if _reaches_port(p, 5432)]
    assert not [p for p in admitted if p.get("IpRanges") or p.get("Ipv6Ranges") or p.get("PrefixListIds")]
    sources = {pair["GroupId"] for p in admitted for pair in p.get("UserIdGroupPairs", [])}
    expected = {own[s]["GroupId"] for s in DATABASE_USERS} | {
        groups[f"trustpipe-dev-{g}"]["GroupId"] for g in ("airflow", "review")
    }
    assert sources == expected


def test_each_service_may_log_in_as_its_own_role_only(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, deployment, _ = applied
    (db,) = _aws(moto, "rds").describe_db_instances()["DBInstances"]
    assert db["IAMDatabaseAuthenticationEnabled"] is True
    users = {**DATABASE_USERS, "airflow": roles.AIRFLOW}
    for service in (*WORKER_SERVICES, "airflow"):
        document = _role_policy(moto, f"trustpipe-dev-{service}")
        connect = [s for s in document["Statement"] if "rds-db:connect" in _listed(s["Action"])]
        if service not in users:
            # THEN a service that does not use the database can neither log in nor read its secret
            assert connect == [], service
            assert "secretsmanager:GetSecretValue" not in json.dumps(document), service
            continue
        # and one that does may log in as its own role on this instance, as no other
        (statement,) = connect
        arn = f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{db['DbiResourceId']}/{users[service]}"
        assert _listed(statement["Resource"]) == [arn], service
        # (its host's one-shot migration unit reads the master secret, and only that one; the
        # Airflow host its own keys too)
        secrets = [
            s for s in document["Statement"] if "secretsmanager:GetSecretValue" in _listed(s["Action"])
        ]
        expected = {settings.database_secret_arn}
        if service == "airflow":
            expected.add(_outputs(deployment)["airflow"]["host_secret_arn"])
        assert [set(_listed(s["Resource"])) for s in secrets] == [expected], service


def test_the_importer_connects_as_its_role_with_a_fresh_token_over_verified_tls(
    applied: tuple[Settings, Deployment, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the services' settings as the hosts get them (AWS: no endpoint, IAM authentication)
    settings, _, _ = applied
    assert settings.database_iam_auth and settings.aws_endpoint is None
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(psycopg, "connect", lambda url, **kwargs: seen.append((url, kwargs)))
    # WHEN the importer's connector connects twice
    connect = connector(settings)
    connect()
    connect()
    # THEN as trustpipe_importer, TLS verified against the shipped bundle, no password in the URL
    (host, _port) = roles.address(settings.database_url or "")
    for url, kwargs in seen:
        assert url.startswith(f"postgresql://{roles.IMPORTER}@{host}:")
        roles.require_verified(url)
        assert f"sslrootcert={roles.RDS_CA_BUNDLE}" in url
        # and the password is an RDS IAM token for that user and host, made for this connection
        token = kwargs["password"]
        assert token.startswith(f"{host}:") and "Action=connect" in token
        assert f"DBUser={roles.IMPORTER}" in token
    assert len(seen) == 2


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _role_policy(moto: str, role: str) -> dict[str, Any]:
    """The statements of every inline policy of ``role``, as one document."""
    iam = _aws(moto, "iam")
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = document if isinstance(document, dict) else json.loads(document)
        statements += document["Statement"]
    return {"Statement": statements}


def _launch_template_data(moto: str) -> dict[str, dict[str, Any]]:
    """Each launch template's latest data, by template name."""
    ec2 = _aws(moto, "ec2")
    out = {}
    for template in ec2.describe_launch_templates()["LaunchTemplates"]:
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"]
        out[template["LaunchTemplateName"].rstrip("-0123456789")] = version["LaunchTemplateData"]
    return out


# -- EMR installs what it runs (issue 34, part 2), and its nodes and buckets are locked down ----

AWS_SHIM = """#!{python}
# `aws s3 cp s3://<bucket>/<prefix>/ <dir> --recursive` against the moto server: all the
# bootstrap action asks of the AWS CLI.
import os, sys
from pathlib import Path
import boto3
args = sys.argv[1:]
if args[:2] != ["s3", "cp"] or "--recursive" not in args:
    sys.exit(f"aws stand-in: not a recursive s3 cp: {{args}}")
bucket, _, prefix = args[2].removeprefix("s3://").partition("/")
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    for obj in page.get("Contents", []):
        target = Path(args[3]) / obj["Key"][len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, obj["Key"], str(target))
"""
TINY_HOUR = "2026-11-25T04"


def _stand_ins(bin_dir: Path) -> None:
    """`aws` (the S3 copy, from the moto server) and `sudo` (runs its command as this user)."""
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(AWS_SHIM.format(python=sys.executable))
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for shim in bin_dir.iterdir():
        shim.chmod(0o755)


def test_the_bootstrap_installs_from_the_uploaded_objects_alone_and_the_job_scores_an_hour(
    applied: tuple[Settings, Deployment, list[str]], moto: str, checkout: Path, tmp_path: Path
) -> None:
    # This machine's Python and platform stand in for the cluster's (the apply uploaded wheels
    # built for them, as `make emr-wheels` builds the cluster's), and this checkout's pyspark for
    # the cluster's Spark: spark-submit puts its pyspark.zip and py4j on the job's path, as EMR's does.
    from tests.harness.models import mixed
    from trustpipe.aws import AwsClients
    from trustpipe.model import artifact as model_store
    from trustpipe_sensors.app import run_batch

    settings, deployment, _ = applied
    s3 = _aws(moto, "s3")
    code = f"s3://{settings.archive_bucket}/code"
    uploaded = {
        o["Key"]
        for o in s3.list_objects_v2(Bucket=settings.archive_bucket, Prefix="code/wheels/")["Contents"]
    }
    # GIVEN code/wheels/ as the apply left it: the trustpipe wheel, the job's pins and their wheels
    cluster = checkout / "build" / "emr"
    pins = (cluster / "requirements.txt").read_text().splitlines()
    (trustpipe_wheel,) = (checkout / "build" / "wheelhouse").glob("trustpipe-*.whl")
    expected = {f"code/wheels/{p.name}" for p in (cluster / "wheels").glob("*.whl")}
    assert len(expected) == len(pins) > 5
    assert uploaded == expected | {f"code/wheels/{trustpipe_wheel.name}", "code/wheels/requirements.txt"}
    # WHEN the uploaded bootstrap action runs as EMR runs it (the cluster spec's arguments), with
    # the package index and this machine's pip configuration out of reach
    spec = _cluster_spec(deployment)
    (action,) = spec["BootstrapActions"]
    path, args = action["ScriptBootstrapAction"]["Path"], action["ScriptBootstrapAction"]["Args"]
    assert path == f"{code}/bootstrap.sh" and args[0] == code
    bootstrap = tmp_path / "bootstrap.sh"
    bootstrap.write_bytes(
        s3.get_object(Bucket=settings.archive_bucket, Key="code/bootstrap.sh")["Body"].read()
    )
    venv_python = tmp_path / "opt" / "trustpipe" / "bin" / "python"
    python = f"python{emr_wheels.this_machine().python}"
    _stand_ins(tmp_path / "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env |= {
        "PATH": f"{tmp_path / 'bin'}:{env['PATH']}",
        "PIP_CONFIG_FILE": os.devnull,
        "AWS_ENDPOINT_URL": moto,
    }
    env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(bootstrap), code, str(venv_python), python],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # THEN the venv holds exactly the pinned packages and trustpipe, and nothing the job never runs
    frozen = subprocess.run(
        [str(venv_python), "-m", "pip", "freeze", "--all"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    installed = {line.split("==")[0].split(" @ ")[0] for line in frozen.splitlines()} - {"pip", "setuptools"}
    assert installed == {p.split("==")[0].lower() for p in pins} | {"trustpipe"}
    # AND GIVEN a tiny hour landed for the dev root's tenants and a current model
    job_settings = dataclasses.replace(settings, aws_endpoint=moto)
    job_settings.save(tmp_path / "settings.json")
    aws = AwsClients(job_settings)
    run_batch(aws, layout.parse_hour(TINY_HOUR), seed=5, scale=0.02)
    model_store.save(aws.s3, settings.archive_bucket, mixed("20261125T050000-0hand000"), make_current=True)
    job = tmp_path / "score_messages.py"
    job.write_bytes(
        s3.get_object(Bucket=settings.archive_bucket, Key="code/jobs/score_messages.py")["Body"].read()
    )
    # WHEN spark-submit runs the uploaded entry point with the venv's Python (PYSPARK_PYTHON)
    import pyspark

    env |= {"PYSPARK_PYTHON": str(venv_python), "PYSPARK_DRIVER_PYTHON": str(venv_python)}
    env["SPARK_HOME"] = str(Path(pyspark.__file__).parent)  # the cluster's /usr/lib/spark
    spark_submit = Path(sys.executable).parent / "spark-submit"
    done = subprocess.run(
        [
            str(spark_submit),
            str(job),
            "--hour",
            TINY_HOUR,
            "--settings",
            str(tmp_path / "settings.json"),
            "--master",
            "local[2]",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    # THEN the hour is scored, every record in a record out
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["hour"] == TINY_HOUR and summary["records_in"] == summary["records_out"] > 0


def _cluster_spec(deployment: Deployment) -> dict[str, Any]:
    """The RunJobFlow payload the hourly DAG builds from the applied `emr` configuration."""
    from trustpipe_orchestration import emr
    from trustpipe_orchestration.config import EmrConfig

    return emr.cluster_spec(EmrConfig.from_dict(_outputs(deployment)["emr"]), "hour", {})


def test_every_cluster_requires_imdsv2_on_its_nodes(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    _, deployment, _ = applied
    # GIVEN the cluster the hourly DAG asks for
    name = _cluster_spec(deployment)["SecurityConfiguration"]
    # THEN it names the applied security configuration, which requires IMDSv2 with one hop
    described = _aws(moto, "emr").describe_security_configuration(Name=name)
    configuration = json.loads(described["SecurityConfiguration"])
    assert configuration["InstanceMetadataServiceConfiguration"] == {
        "MinimumInstanceMetadataServiceVersion": 2,
        "HttpPutResponseHopLimit": 1,
    }
    assert configuration["EncryptionConfiguration"]["EnableAtRestEncryption"] is True


def test_every_bucket_of_the_root_has_a_tls_only_policy(
    applied: tuple[Settings, Deployment, list[str]],
) -> None:
    _, deployment, _ = applied
    state = json.loads((deployment.project_root / "state" / "terraform.tfstate").read_text())
    # GIVEN every bucket the root created, and every policy document Terraform computed for it
    buckets = [
        i["attributes"]["arn"]
        for r in state["resources"]
        if r["mode"] == "managed" and r["type"] == "aws_s3_bucket"
        for i in r["instances"]
    ]
    assert len(buckets) >= 5  # landing, scored, archive, the DAGs, the cluster logs
    denied: set[str] = set()
    for r in state["resources"]:
        if r["mode"] == "data" and r["type"] == "aws_iam_policy_document":
            for i in r["instances"]:
                for statement in json.loads(i["attributes"]["json"])["Statement"]:
                    insecure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
                    if (
                        statement["Effect"] == "Deny"
                        and insecure == "false"
                        and statement["Action"] == "s3:*"
                    ):
                        resources = statement["Resource"]
                        denied |= {resources} if isinstance(resources, str) else set(resources)
    # THEN each bucket and its objects are denied to plain HTTP (the bucket policies themselves
    # are switched off here only: the moto server speaks plain HTTP, MOTO_SWITCHES)
    assert [b for b in buckets if not {b, f"{b}/*"} <= denied] == []


# -- The search domain (issue 35): private, encrypted, reached by the indexer and Airflow only --


def test_the_search_domain_is_private_encrypted_and_admits_only_the_indexer_airflow_and_review(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, deployment, _ = applied
    search = _outputs(deployment)["search"]
    # GIVEN the domain as applied, in the VPC's private subnets
    domain = _aws(moto, "opensearch").describe_domain(DomainName=search["domain_name"])["DomainStatus"]
    assert search["url"] == f"https://{domain['Endpoints']['vpc']}"
    # and its URL is published in the SSM parameter the settings name (the URL comes after the
    # hosts that read them): the indexer and Airflow read it there, which their roles may
    assert settings.search_url is None and settings.search_url_parameter is not None
    parameter = _aws(moto, "ssm").get_parameter(Name=settings.search_url_parameter)["Parameter"]
    assert parameter["Type"] == "String" and parameter["Value"] == search["url"]
    assert engine.parameter_url(settings, _aws(moto, "ssm")) == search["url"]
    for role in ("trustpipe-dev-indexer", "trustpipe-dev-airflow"):
        statements = _role_policy(moto, role)["Statement"]
        (reads,) = [
            s
            for s in statements
            if "ssm:GetParameter" in _listed(s["Action"]) and parameter["ARN"] in _listed(s["Resource"])
        ]
        assert _listed(reads["Resource"]) == [parameter["ARN"]], role
        assert not any("es:DescribeDomain" in _listed(s["Action"]) for s in statements), role
    ec2 = _aws(moto, "ec2")
    private = {
        s["SubnetId"]
        for s in ec2.describe_subnets()["Subnets"]
        if s["Tags"] and "-private-" in {t["Key"]: t["Value"] for t in s["Tags"]}.get("Name", "")
    }
    assert len(domain["VPCOptions"]["SubnetIds"]) == 2 and set(domain["VPCOptions"]["SubnetIds"]) <= private
    # THEN it is encrypted at rest with the pipeline's key and between nodes, HTTPS only (TLS 1.2+)
    key = _aws(moto, "kms").describe_key(KeyId="alias/trustpipe-dev")["KeyMetadata"]["Arn"]
    assert domain["EncryptionAtRestOptions"] == {"Enabled": True, "KmsKeyId": key}
    assert domain["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert domain["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert domain["DomainEndpointOptions"]["TLSSecurityPolicy"].startswith("Policy-Min-TLS-1-2-")
    # and fine-grained access control is on, with the master role and no internal users
    assert domain["AdvancedSecurityOptions"]["Enabled"] is True
    assert domain["AdvancedSecurityOptions"]["InternalUserDatabaseEnabled"] is False
    assert search["admin_role_arn"].endswith(":role/trustpipe-dev-search-admin")
    # and its security group admits the indexer's, the Airflow host's and the review function's
    # groups on 443, nothing else
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    (group_id,) = domain["VPCOptions"]["SecurityGroupIds"]
    assert groups["trustpipe-dev-search"]["GroupId"] == group_id
    (rule,) = groups["trustpipe-dev-search"]["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    assert not rule.get("IpRanges") and not rule.get("Ipv6Ranges") and not rule.get("PrefixListIds")
    sources = {pair["GroupId"] for pair in rule["UserIdGroupPairs"]}
    assert sources == {groups[f"trustpipe-dev-{g}"]["GroupId"] for g in ("indexer", "airflow", "review")}
    # and only the indexer's role may send it requests, on the domain's paths
    for service in WORKER_SERVICES:
        document = json.dumps(_role_policy(moto, f"trustpipe-dev-{service}"))
        assert ("es:ESHttpPut" in document) == (service == "indexer"), service
    (statement,) = [
        s
        for s in _role_policy(moto, "trustpipe-dev-indexer")["Statement"]
        if "es:ESHttpPut" in _listed(s["Action"])
    ]
    assert _listed(statement["Resource"]) == [f"{domain['ARN']}/*"]
    # and the domain's alarms page on-call, each with its runbook
    named = _aws(moto, "cloudwatch").describe_alarms(AlarmNamePrefix="trustpipe-dev-search-")["MetricAlarms"]
    alarms = [a for a in named if a["Namespace"] == "AWS/ES"]
    # (beside them, the monitoring module's alarm on the store's drift from PostgreSQL)
    assert len(alarms) == 7
    assert {a["AlarmName"] for a in named if a not in alarms} == {"trustpipe-dev-search-drift"}
    for alarm in alarms:
        runbook = alarm["AlarmDescription"].split("Runbook: ", 1)[1].rsplit("/", 1)[1]
        assert (ROOT / "docs" / "runbooks" / runbook).is_file(), alarm["AlarmName"]
        assert alarm["AlarmActions"] == [_outputs(deployment)["oncall_topic_arn"]]


# -- The review API (issue 36) --------------------------------------------------------------------


def test_the_review_api_takes_only_the_pools_tokens_on_every_route_throttled(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    _, deployment, _ = applied
    review = _outputs(deployment)["review"]
    cognito, gateway = _aws(moto, "cognito-idp"), _aws(moto, "apigatewayv2")
    # GIVEN the pool as applied: nobody signs up alone, each user's enterprise is fixed
    pool = cognito.describe_user_pool(UserPoolId=review["user_pool_id"])["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    custom = {a["Name"]: a for a in pool["SchemaAttributes"] if a["Name"].startswith("custom:")}
    assert custom["custom:enterprise"]["Mutable"] is False and custom["custom:role"]["Mutable"] is True
    assert (
        pool["MfaConfiguration"] == "OPTIONAL" and pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14
    )
    # and the page's client: no secret, password (browser to Cognito), SRP and refresh only,
    # writes neither the enterprise nor the role
    client = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=review["client_id"])
    client = client["UserPoolClient"]
    assert "ClientSecret" not in client
    assert sorted(client["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    assert client["WriteAttributes"] == ["email"]
    # THEN every data route of the API needs a token of that pool issued to that client (the
    # page's own files are fetched before sign-in)
    (api,) = [a for a in gateway.get_apis()["Items"] if a["Name"] == "trustpipe-dev-review"]
    assert review["api_url"] == api["ApiEndpoint"]
    routes = gateway.get_routes(ApiId=api["ApiId"])["Items"]
    by_key = {r["RouteKey"]: r for r in routes}
    assert sorted(by_key) == ["GET /", "GET /config.json", "GET /page.js", "GET /{proxy+}", "POST /{proxy+}"]
    data = [by_key["GET /{proxy+}"], by_key["POST /{proxy+}"]]
    assert {r["AuthorizationType"] for r in data} == {"JWT"}
    assert {by_key[k]["AuthorizationType"] for k in ("GET /", "GET /config.json", "GET /page.js")} == {"NONE"}
    (authorizer_id,) = {r["AuthorizerId"] for r in data}
    # (one by one: moto answers no list of an HTTP API's authorizers)
    authorizer = gateway.get_authorizer(ApiId=api["ApiId"], AuthorizerId=authorizer_id)
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["JwtConfiguration"]["Audience"] == [client["ClientId"]]
    assert authorizer["JwtConfiguration"]["Issuer"] == review["issuer"]
    assert review["issuer"].startswith("https://cognito-idp.") and review["issuer"].endswith(f"/{pool['Id']}")
    # and the stage throttles every route, the deciding ones tighter
    stage = gateway.get_stage(ApiId=api["ApiId"], StageName="$default")
    default = stage["DefaultRouteSettings"]
    decisions = stage["RouteSettings"]["POST /{proxy+}"]
    assert 0 < decisions["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
    assert 0 < decisions["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(
        ":log-group:/aws/apigateway/trustpipe-dev-review"
    )


def test_the_review_function_runs_in_the_private_subnets_with_its_own_narrow_role(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, deployment, _ = applied
    review = _outputs(deployment)["review"]
    function = _aws(moto, "lambda").get_function_configuration(FunctionName=review["function_name"])
    # GIVEN the function as applied: the handler the app builder names, in the VPC's private subnets
    assert (
        function["Handler"] == stage_lambdas.REVIEW.handler
        and function["Runtime"] == stage_lambdas.STAGE_RUNTIME
    )
    ec2 = _aws(moto, "ec2")
    private = {
        s["SubnetId"]
        for s in ec2.describe_subnets()["Subnets"]
        if any(t["Key"] == "Name" and "private" in t["Value"] for t in s.get("Tags", []))
    }
    assert private and set(function["VpcConfig"]["SubnetIds"]) == private
    environment = function["Environment"]["Variables"]
    assert environment["TRUSTPIPE_SETTINGS"].startswith(f"s3://{settings.archive_bucket}/")
    # and the page signs in with the root's pool and client (lambda_handler reads these)
    assert environment[lambda_handler.POOL_ENV] == review["user_pool_id"]
    assert environment[lambda_handler.CLIENT_ENV] == review["client_id"]
    # THEN its role releases on the enterprises' action queues, labels under the review prefix,
    # searches (no PUT or DELETE), and logs in to PostgreSQL as its own role, never with the secret
    document = _role_policy(moto, "trustpipe-dev-review")
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    queues = {own["action_queue_url"].rsplit("/", 1)[1] for own in settings.tenants.values()}
    assert {r.rsplit(":", 1)[1] for r in _listed(by_sid["ReleaseActions"]["Resource"])} == queues
    assert _listed(by_sid["ReviewLabels"]["Resource"]) == [
        f"arn:aws:s3:::{settings.archive_bucket}/review_labels/*"
    ]
    assert "es:ESHttpPut" not in json.dumps(document) and "es:ESHttpDelete" not in json.dumps(document)
    assert _listed(by_sid["Database"]["Resource"])[0].endswith("/trustpipe_review")
    assert "secretsmanager" not in json.dumps(document)
    # and its alarms page on-call, each with its runbook
    alarms = _aws(moto, "cloudwatch").describe_alarms(AlarmNamePrefix="trustpipe-dev-review-")["MetricAlarms"]
    assert sorted(a["AlarmName"].removeprefix("trustpipe-dev-review-") for a in alarms) == [
        "4xx",
        "5xx",
        "errors",
        "latency-p99",
        "throttles",
    ]
    for alarm in alarms:
        runbook = alarm["AlarmDescription"].split("Runbook: ", 1)[1].rsplit("/", 1)[1]
        assert (ROOT / "docs" / "runbooks" / runbook).is_file(), alarm["AlarmName"]
        assert alarm["AlarmActions"] == [_outputs(deployment)["oncall_topic_arn"]]


# -- Reachability (issue 34, part 1): every host in the VPC reaches every AWS API its code calls --


def _subnets_of_each_deployable(moto: str, deployment: Deployment) -> dict[str, list[str]]:
    """The subnets each kind of host runs in, as applied: the Auto Scaling groups' subnets, and
    the EMR clusters' from the pipeline configuration the hourly DAG reads."""
    groups = _aws(moto, "autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    out = {
        g["AutoScalingGroupName"].removeprefix("trustpipe-dev-"): g["VPCZoneIdentifier"].split(",")
        for g in groups
    }
    prefix = _outputs(deployment)["airflow"]["parameter_prefix"]
    pipeline = json.loads(_parameters(moto, deployment)[f"{prefix}/variables/trustpipe_pipeline"])
    out["emr"] = pipeline["emr"]["subnet_ids"]
    return out


def test_every_host_reaches_every_aws_api_its_code_calls(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    _, deployment, _ = applied
    # GIVEN where each deployable runs in the applied VPC
    subnets = _subnets_of_each_deployable(moto, deployment)
    assert {d.name for d in reach.DEPLOYABLES} <= set(subnets), subnets
    ec2 = _aws(moto, "ec2")
    unreachable = {}
    for deployable in reach.DEPLOYABLES:
        # WHEN the services its code calls are set beside what its subnets' routes reach
        called = reach.calls(deployable)
        assert "s3" in called, f"{deployable.name}: the scan found no client at all"
        gaps = reach.missing(called, [reach.reachable(ec2, s) for s in subnets[deployable.name]])
        if gaps:
            unreachable[deployable.name] = {s: sorted(where) for s, where in sorted(gaps.items())}
    # THEN none is out of reach (a gateway or interface endpoint, or a NAT chosen on purpose)
    assert unreachable == {}


def test_the_registry_url_is_the_private_apis_stage_which_the_workers_may_invoke(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, _, _ = applied
    gateway = _aws(moto, "apigateway")
    (api,) = [a for a in gateway.get_rest_apis()["items"] if a["name"] == "trustpipe-dev-schema-registry"]
    # THEN the services' registry URL is the private REST API's stage (private DNS resolves it
    # to the VPC's execute-api endpoint, the only way in its policy admits)
    assert api["endpointConfiguration"]["types"] == ["PRIVATE"]
    assert settings.registry_url == f"https://{api['id']}.execute-api.us-east-1.amazonaws.com/registry"
    (endpoint,) = api["endpointConfiguration"]["vpcEndpointIds"]
    assert endpoint in str(api["policy"])
    # and each worker's role may invoke that API's routes it uses
    for service in ("scorer", "importer", "alerter"):
        document = _aws(moto, "iam").get_role_policy(RoleName=f"trustpipe-dev-{service}", PolicyName=service)
        document = document["PolicyDocument"]
        document = document if isinstance(document, dict) else json.loads(document)
        (registry,) = [s for s in document["Statement"] if s.get("Sid") == "Registry"]
        resources = registry["Resource"] if isinstance(registry["Resource"], list) else [registry["Resource"]]
        # (the account is blank here: the moto override skips requesting the account id)
        assert all(re.match(rf"arn:aws:execute-api:us-east-1:\d*:{api['id']}/", r) for r in resources), (
            resources
        )


# -- issue 34, Airflow as a production host: its first hour, its keys and admin, its role ----------

HOST_CLI = "/opt/trustpipe/bin/trustpipe"
HOST_SETTINGS = "/etc/trustpipe/settings.json"


def _as_here(env: dict[str, str], deployment: Deployment) -> dict[str, str]:
    """The host's environment file with its paths made this checkout's: the CLI of this venv,
    the settings the apply wrote (what user data puts at /etc/trustpipe/settings.json)."""
    here = str(Path(sys.executable).parent / "trustpipe")
    settings = str(deployment.work_dir / "settings.json")
    return {k: v.replace(HOST_CLI, here).replace(HOST_SETTINGS, settings) for k, v in env.items()}


def _airflow_env(moto: str, deployment: Deployment) -> dict[str, str]:
    templates = _user_data(moto)
    (user_data,) = [text for name, text in templates.items() if "-airflow" in name]
    return _as_here(_env_file(user_data), deployment)


def test_the_hourly_dag_starts_at_the_hour_of_the_apply(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    from datetime import UTC, datetime, timedelta

    _, deployment, _ = applied
    # GIVEN the Airflow host's environment and the parameter the apply wrote the first hour to
    env = _airflow_env(moto, deployment)
    outputs = _outputs(deployment)["airflow"]
    parameter = _aws(moto, "ssm").get_parameter(Name=f"{outputs['parameter_prefix']}/hourly_start")
    # THEN the host's [trustpipe] hourly_start is that hour, the hour this apply ran in
    start = datetime.fromisoformat(env["AIRFLOW__TRUSTPIPE__HOURLY_START"])
    assert (
        env["AIRFLOW__TRUSTPIPE__HOURLY_START"] == parameter["Parameter"]["Value"] == outputs["hourly_start"]
    )
    assert start.tzinfo is not None and (start.minute, start.second) == (0, 0)
    assert timedelta(0) <= datetime.now(UTC) - start < timedelta(hours=2)


HOST_BOOT = """
import json, sys
from airflow.configuration import conf
from airflow.models.connection import Connection
from airflow.utils.session import create_session
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

step, admin_password = sys.argv[1], sys.argv[2]
out = {
    "fernet_key": conf.get("core", "fernet_key"),
    "jwt_secret": conf.get("api_auth", "jwt_secret"),
    "api_secret_key": conf.get("api", "secret_key"),
    "auth_manager": conf.get("core", "auth_manager"),
    "hourly_start": conf.get("trustpipe", "hourly_start"),
}
with create_session() as session:
    if step == "first":
        session.add(Connection(conn_id="kept", conn_type="postgres", password="encrypted-by-the-first"))
    else:
        out["kept_password"] = session.query(Connection).filter_by(conn_id="kept").one().password
with get_application_builder() as builder:
    out["admin_password_works"] = builder.sm.check_password("admin", admin_password)
    out["admin_roles"] = [r.name for r in builder.sm.find_user(username="admin").roles]
print(json.dumps(out))
"""


def test_a_replaced_airflow_host_reads_the_same_keys_and_admin_from_the_secret(
    applied: tuple[Settings, Deployment, list[str]], moto: str, tmp_path: Path
) -> None:
    _, deployment, _ = applied
    secret_arn = _outputs(deployment)["airflow"]["host_secret_arn"]
    keys = json.loads(_aws(moto, "secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
    # GIVEN the host's environment (its *_CMD options run this checkout's CLI against the moto
    # server's Secrets Manager), a metadata database that outlives the host (SQLite for RDS)
    env = _airflow_env(moto, deployment)
    assert env["TRUSTPIPE_AIRFLOW_SECRET"] == secret_arn
    assert not {
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
    } & set(env)
    env |= {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    seen = {}
    for host in ("first", "replacement"):
        # WHEN a host boots on its own new disk: the boot unit's steps, then a component reads
        # its configuration
        home = {**os.environ, **env, "AIRFLOW_HOME": str(tmp_path / host)}
        bin_dir = Path(sys.executable).parent
        for argv in (
            [str(bin_dir / "airflow"), "db", "migrate"],
            [
                str(bin_dir / "trustpipe"),
                "airflow-host",
                "admin",
                "--settings",
                str(deployment.work_dir / "settings.json"),
                "--secret",
                env["TRUSTPIPE_AIRFLOW_SECRET"],
            ],
            [sys.executable, "-c", HOST_BOOT, host, keys["admin_password"]],
        ):
            done = subprocess.run(argv, env=home, capture_output=True, text=True, check=False, timeout=600)
            assert done.returncode == 0, f"{argv[:3]}: {done.stderr[-3000:]}"
        seen[host] = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN each host's Airflow has the secret's keys, never ones of its own making
    for host, got in seen.items():
        assert {k: got[k] for k in ("fernet_key", "jwt_secret", "api_secret_key")} == {
            k: keys[k] for k in ("fernet_key", "jwt_secret", "api_secret_key")
        }, host
        assert got["auth_manager"] == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        assert got["hourly_start"] == env["AIRFLOW__TRUSTPIPE__HOURLY_START"]
        # and the UI's admin signs in with the secret's password
        assert got["admin_password_works"] is True and got["admin_roles"] == ["Admin"], host
    # and the replacement decrypts what the first host encrypted with the fernet key
    assert seen["replacement"]["kept_password"] == "encrypted-by-the-first"


S3_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:DeleteObjectVersion")


def _matches(patterns: Any, value: str, case: bool = True) -> bool:
    import fnmatch

    listed = [patterns] if isinstance(patterns, str) else patterns
    if not case:
        return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in listed)
    return any(fnmatch.fnmatchcase(value, p) for p in listed)


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's verdict for one request against identity statements: an explicit Deny wins, else
    any Allow (conditions counted as met: a conditional Allow may allow)."""

    def hits(s: dict[str, Any]) -> bool:
        acts = "Action" in s and _matches(s["Action"], action, case=False)
        not_acts = "NotAction" in s and not _matches(s["NotAction"], action, case=False)
        return (acts or not_acts) and _matches(s.get("Resource", []), resource)

    if any(s["Effect"] == "Deny" and hits(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and hits(s) for s in statements)


def _role_statements(iam: Any, role: str) -> list[dict[str, Any]]:
    """Every identity statement of ``role``: its inline policies and attached managed ones."""
    documents = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        documents.append(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        documents.append(version["PolicyVersion"]["Document"])
    statements = []
    for document in documents:
        document = document if isinstance(document, dict) else json.loads(document)
        listed = document["Statement"]
        statements += [listed] if isinstance(listed, dict) else listed
    return statements


def test_only_the_models_role_writes_models_and_no_role_of_the_stack_writes_code(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    settings, deployment, _ = applied
    iam = _aws(moto, "iam")
    outputs = _outputs(deployment)["airflow"]
    archive = f"arn:aws:s3:::{settings.archive_bucket}"
    # GIVEN every role the apply made, with every policy it holds
    roles = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
    assert "trustpipe-dev-airflow" in roles and len(roles) > 10
    writers: dict[str, set[str]] = {}
    for role in roles:
        statements = _role_statements(iam, role)
        for prefix in ("code", "models", "ground_truth"):
            if any(_allows(statements, a, f"{archive}/{prefix}/x") for a in S3_WRITES):
                writers.setdefault(prefix, set()).add(role)
    # THEN the Airflow role writes the archive (ground truth, say) but not code/ or models/
    assert "trustpipe-dev-airflow" in writers["ground_truth"]
    # and models/ is written by the nightly build's role alone, code/ by no role of the stack
    # (the deploy writes it, with the deployer's own credentials)
    assert writers.get("models") == {outputs["models_role_arn"].rsplit("/", 1)[1]}
    assert "code" not in writers
    # and the Airflow role may assume the models role, whose trust names it alone
    airflow = _role_statements(iam, "trustpipe-dev-airflow")
    assert _allows(airflow, "sts:AssumeRole", outputs["models_role_arn"])
    trust = iam.get_role(RoleName="trustpipe-dev-airflow-models")["Role"]["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": iam.get_role(RoleName="trustpipe-dev-airflow")["Role"]["Arn"]}


def test_the_nightly_build_is_told_its_models_role(
    applied: tuple[Settings, Deployment, list[str]], moto: str
) -> None:
    _, deployment, _ = applied
    outputs = _outputs(deployment)["airflow"]
    parameters = _parameters(moto, deployment)
    pipeline = json.loads(parameters[f"{outputs['parameter_prefix']}/variables/trustpipe_pipeline"])
    assert pipeline["model_role_arn"] == outputs["models_role_arn"]
    assert pipeline["mode"] == "emr"


def test_a_later_plan_changes_neither_the_first_hour_nor_the_airflow_host(
    applied: tuple[Settings, Deployment, list[str]], moto: str, checkout: Path
) -> None:
    _, deployment, _ = applied
    # GIVEN the applied root, planned again later with the same variables (plantimestamp() is
    # the time of this plan now, not of the apply; that a later hour is ignored as well is the
    # parameter's ignore_changes, tests/integration/infra/test_airflow_host_static.py)
    variables = {
        "worker_ami_id": MOTO_AMI,
        "alert_emails": json.dumps([ALERT_EMAIL]),
        "checkout_dir": str(checkout),
        "registry_lambda_zip": str(ROOT / "build" / "schema-registry-lambda.zip"),
        "frontdoor_lambda_zip": str(ROOT / "build" / "frontdoor-lambda.zip"),
        "enterprises": json.dumps(ENTERPRISES),
    }
    orchestration = "module.pipeline.module.orchestration[0]"
    targets = [
        f"-target={orchestration}.{r}" for r in ("aws_ssm_parameter.hourly_start", "aws_launch_template.this")
    ]
    variable_args = [f"-var={k}={v}" for k, v in variables.items()]
    tf_dir = deployment.work_dir / "terraform"
    env = {**os.environ, "TF_DATA_DIR": str(tf_dir / "data"), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    if (tf_dir / "terraformrc").exists():
        env["TF_CLI_CONFIG_FILE"] = str(tf_dir / "terraformrc")
    env |= {"AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    # WHEN Terraform plans the first hour's parameter and the launch template that carries it
    plan = tf_dir / "later.tfplan"

    def terraform(*args: str) -> str:
        done = subprocess.run(
            ["terraform", f"-chdir={deployment.root}", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        return done.stdout

    terraform("plan", "-no-color", "-refresh=false", f"-out={plan}", *targets, *variable_args)
    changes = {
        c["address"]: c["change"]
        for c in json.loads(terraform("show", "-json", str(plan)))["resource_changes"]
    }
    # THEN the hour is the one in state and the user data is what the host booted with (moto's
    # own quirks, its tag echoes and JSON whitespace, may still plan a change beside them)
    parameter = changes[f"{orchestration}.aws_ssm_parameter.hourly_start"]
    assert parameter["actions"] == ["no-op"]
    template = changes[f"{orchestration}.aws_launch_template.this"]
    assert template["actions"] in (["no-op"], ["update"])
    assert template["before"]["user_data"] == template["after"]["user_data"]
