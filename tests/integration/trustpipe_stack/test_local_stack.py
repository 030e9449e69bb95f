"""infra/envs/local applied with Terraform to a moto server, and the stack's lifecycle."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from tests.harness.cli import run_cli
from tests.harness.paths import ROOT
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_stack.procs import pid_alive, read_pid
from trustpipe_stack.stack import LocalStack


def test_buckets_are_encrypted_versioned_private_and_aged_out(aws: AwsClients, settings: Settings) -> None:
    for bucket in (settings.landing_bucket, settings.scored_bucket, settings.archive_bucket):
        rules = aws.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].startswith("arn:aws:kms:")
        block = aws.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        assert aws.s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        lifecycle = aws.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert {r["ID"] for r in lifecycle} == {"abort-incomplete-uploads", "noncurrent-versions", "age-out"}


def test_every_paging_alarm_links_a_runbook_that_exists(aws: AwsClients, settings: Settings) -> None:
    alarms = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    paging = [a for a in alarms if settings.oncall_topic_arn in a["AlarmActions"]]
    names = {a["AlarmName"].removeprefix("trustpipe-local-") for a in paging}
    assert {
        "hourly-deadline",
        "importer-dlq",
        "importer-queue-age",
        "iterator-age-trustpipe-local-raw",
    } <= names
    assert {"scorer-error-rate", "importer-error-rate", "alerter-error-rate", "schema-registry-5xx"} <= names
    for alarm in paging:
        runbook = alarm["AlarmDescription"].split("Runbook: ", 1)[1].rsplit("/", 1)[1]
        assert (ROOT / "docs" / "runbooks" / runbook).exists(), alarm["AlarmName"]


def test_workers_launch_with_imdsv2_a_drain_hook_and_their_own_profile(aws: AwsClients) -> None:
    autoscaling, ec2 = aws.client("autoscaling"), aws.client("ec2")
    groups = {
        g["AutoScalingGroupName"]: g
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        if g["AutoScalingGroupName"].startswith("trustpipe-local-")
    }
    assert set(groups) == {"trustpipe-local-scorer", "trustpipe-local-importer", "trustpipe-local-alerter"}
    # one scorer process per core per shard: 2 raw shards on 2-core instances = 1 instance
    assert groups["trustpipe-local-scorer"]["DesiredCapacity"] == 1
    assert len(groups["trustpipe-local-scorer"]["VPCZoneIdentifier"].split(",")) == 2
    profiles = set()
    for name, group in groups.items():
        template = group["LaunchTemplate"]
        data = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required", name
        profiles.add(data["IamInstanceProfile"]["Arn"])
        hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
        assert [(h["LifecycleTransition"], h["HeartbeatTimeout"]) for h in hooks] == [
            ("autoscaling:EC2_INSTANCE_TERMINATING", 600)
        ]
    assert len(profiles) == 3


def test_importer_scales_in_only_when_the_queue_is_idle(aws: AwsClients) -> None:
    alarms = {
        a["AlarmName"]: a
        for a in aws.client("cloudwatch").describe_alarms(AlarmNamePrefix="trustpipe-local-importer-")[
            "MetricAlarms"
        ]
    }
    idle = alarms["trustpipe-local-importer-idle"]
    (expression,) = [q["Expression"] for q in idle["Metrics"] if q.get("ReturnData")]
    assert expression == "visible + in_flight"
    assert idle["ComparisonOperator"] == "LessThanOrEqualToThreshold" and idle["Threshold"] == 0
    backlog = alarms["trustpipe-local-importer-backlog"]
    assert backlog["MetricName"] == "ApproximateNumberOfMessagesVisible" and backlog["Threshold"] == 0


def test_network_reaches_aws_through_endpoints(aws: AwsClients) -> None:
    endpoints = aws.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    services = {e["ServiceName"].rsplit(".", 1)[1]: e["VpcEndpointType"] for e in endpoints}
    assert services["s3"] == "Gateway" and services["dynamodb"] == "Gateway"
    assert {"sqs", "sns", "logs", "monitoring"} <= {k for k, v in services.items() if v == "Interface"}


def test_raw_stream_is_archived_into_the_data_lake(aws: AwsClients, settings: Settings) -> None:
    stream = aws.client("firehose").describe_delivery_stream(DeliveryStreamName="trustpipe-local-raw-archive")
    description = stream["DeliveryStreamDescription"]
    assert description["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"].endswith(
        f"stream/{settings.raw_stream_name}"
    )
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{settings.archive_bucket}"


def test_scored_object_event_reaches_importer_queue_through_sns(aws: AwsClients, settings: Settings) -> None:
    # GIVEN the Terraform-made notification scored bucket -> SNS -> SQS
    key = "scored/date=2026-11-26/hour=13/part 0=a.avro"
    # WHEN an Avro object lands under scored/
    aws.s3.put_object(Bucket=settings.scored_bucket, Key=key, Body=b"Obj\x01")
    aws.s3.put_object(Bucket=settings.scored_bucket, Key="scored/_manifest.json", Body=b"{}")
    # THEN the importer queue gets an SNS envelope around the S3 event, key URL-encoded
    # (other tests' scored files may be queued too: look for ours, and never the manifest)
    sqs, keys, records = aws.client("sqs"), [], []
    for _ in range(20):
        got = sqs.receive_message(
            QueueUrl=settings.importer_queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10
        )
        for m in got.get("Messages", []):
            event = json.loads(json.loads(m["Body"])["Message"])
            for r in event.get("Records", []):
                records.append(r)
                keys.append(urllib.parse.unquote_plus(r["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=settings.importer_queue_url, ReceiptHandle=m["ReceiptHandle"])
        if key in keys:
            break
    assert key in keys and "scored/_manifest.json" not in keys
    records = [r for r in records if urllib.parse.unquote_plus(r["s3"]["object"]["key"]) == key]
    assert records[0]["s3"]["bucket"]["name"] == settings.scored_bucket


def test_importer_queue_redrives_to_dlq(aws: AwsClients, settings: Settings) -> None:
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=settings.importer_queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=settings.importer_dlq_url, AttributeNames=["QueueArn"])
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert int(attrs["MaximumMessageSize"]) == 262144


def test_streams_and_tables_exist(aws: AwsClients, settings: Settings) -> None:
    kinesis, dynamodb = aws.client("kinesis"), aws.client("dynamodb")
    shards = {settings.raw_stream_name: 2, settings.scored_stream_name: 2, settings.imported_stream_name: 1}
    for stream, count in shards.items():
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == count
    backups = dynamodb.describe_continuous_backups(TableName=settings.registry_table_name)
    status = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert status["PointInTimeRecoveryStatus"] == "ENABLED"


def test_postgres_is_a_real_server(settings: Settings) -> None:
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        assert version is not None and int(version[0]) >= 150000
        conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING")


@pytest.mark.parametrize(
    "command", [("local", "up"), ("deploy", "--env", "local")], ids=["local-up", "make-deploy-ENV=local"]
)
def test_up_again_is_harmless(local_stack: LocalStack, settings: Settings, command: tuple[str, ...]) -> None:
    # GIVEN a stack that is up
    moto_pid, pg_pid = local_stack.moto.pid_file.read_text(), local_stack.postgres.pid
    registry_pid = local_stack.registry.pid_file.read_text()
    search_pid = local_stack.search.pid_file.read_text()
    applies = (local_stack.state_dir / "terraform" / "terraform.log").read_text().count("$ terraform apply")
    # WHEN `up` runs again, through the CLI (`make deploy ENV=local` runs the second form)
    result = run_cli(*command, "--state-dir", str(local_stack.state_dir))
    # THEN nothing restarts and Terraform does not run again
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout
    assert local_stack.moto.pid_file.read_text() == moto_pid
    assert local_stack.postgres.pid == pg_pid
    assert local_stack.registry.pid_file.read_text() == registry_pid
    assert local_stack.search.pid_file.read_text() == search_pid  # its documents kept
    assert local_stack.settings().search_url == local_stack.search.url
    assert local_stack.settings().registry_url == local_stack.registry.url
    assert (local_stack.state_dir / "terraform" / "terraform.log").read_text().count(
        "$ terraform apply"
    ) == applies
    assert local_stack.settings() == settings


def test_down_stops_what_up_started(tmp_path: Path) -> None:
    # GIVEN a stack's servers (Terraform aside)
    stack = LocalStack(ROOT, tmp_path)
    stack.moto.start()
    stack.postgres.start()
    stack.search.start()
    pids = [read_pid(stack.moto.pid_file), stack.postgres.pid, read_pid(stack.search.pid_file)]
    assert all(pid is not None and pid_alive(pid) for pid in pids)
    # WHEN it is brought down
    stack.down(say=lambda _msg: None)
    # THEN every process it started has exited
    assert not any(pid_alive(pid) for pid in pids if pid is not None)
    assert stack.status()["moto"]["running"] is False
    assert stack.status()["search"]["running"] is False


def test_reset_database_empties_only_the_pipeline_database(tmp_path: Path) -> None:
    from trustpipe_stack.servers import Postgres

    # GIVEN a server with a row in the pipeline's database
    pg = Postgres(tmp_path / "pg")
    pg.start()
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE scored_messages (message_id text)")
            conn.execute("INSERT INTO scored_messages VALUES ('<m@x>')")
        # WHEN it is reset
        pg.reset_database()
        # THEN the database exists again, empty
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT to_regclass('scored_messages')").fetchone() == (None,)
    finally:
        pg.stop()


def test_a_fifo_send_is_deduplicated_for_five_minutes_even_after_the_first_copy_is_deleted(
    aws: AwsClients, settings: Settings
) -> None:
    # SQS's rule (moto's own keeps it only while the first copy is in the queue): the alerter's
    # re-send after a retried batch must not reach the mail system twice
    # GIVEN a FIFO queue of the test's own, made as the action queues are (the worker's stack is
    # shared: an enterprise's action queue may hold an earlier module's actions)
    sqs = aws.client("sqs")
    action_queue = next(iter(settings.action_queue_urls.values()))
    fifo = sqs.get_queue_attributes(QueueUrl=action_queue, AttributeNames=["FifoQueue"])["Attributes"]
    url = sqs.create_queue(QueueName=f"probe-{uuid4().hex[:12]}.fifo", Attributes=fifo)["QueueUrl"]
    entry = {
        "Id": "1",
        "MessageBody": "probe",
        "MessageGroupId": "probe",
        "MessageDeduplicationId": uuid4().hex,
    }
    received = []
    for _ in range(2):
        sqs.send_message_batch(QueueUrl=url, Entries=[entry])
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.delete_queue(QueueUrl=url)
    assert received == ["probe"]


def test_tenants_list_shows_the_local_map_with_what_the_apply_created(
    local_stack: LocalStack, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN the local stack applied with its default tenant map (the simulator's three)
    done = run_cli("tenants", "list", "--json", "--settings", str(local_stack.settings_path))
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    # THEN the command lists exactly them, as the settings hold them
    assert set(listed) == {"acme", "globex", "initech"} and listed == settings.tenants
    # and each one's queue, topic and roles exist on the stack, the queue reading as its consumer's
    iam, sqs, sns = aws.client("iam"), aws.client("sqs"), aws.client("sns")
    for enterprise, own in listed.items():
        policy = sqs.get_queue_attributes(QueueUrl=own["action_queue_url"], AttributeNames=["Policy"])
        assert own["consumer_role_arn"] in policy["Attributes"]["Policy"]
        assert sns.get_topic_attributes(TopicArn=own["alert_topic_arn"])["Attributes"]["TopicArn"]
        for role in ("sensor", "consumer"):
            arn = iam.get_role(RoleName=f"trustpipe-local-{enterprise}-{role}")["Role"]["Arn"]
            assert arn == own[f"{role}_role_arn"]
