"""SQS's and Kinesis's own metrics as the local stack's moto server publishes them, read back
through CloudWatch and evaluated with the monitoring module's alarm rules (in-process moto, a
clock the test moves: a stalled queue's age takes 15 minutes to page on the real stack)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trustpipe_emulation import alarms, aws_metrics

REGION = "eu-west-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from moto.kinesis.models import KinesisBackend

    monkeypatch.setattr(KinesisBackend, "get_records", KinesisBackend.get_records)  # restored after
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("sqs", "kinesis", "cloudwatch")}


def alarm(
    name: str, namespace: str, metric: str, dimension: tuple[str, str], threshold: float
) -> dict[str, Any]:
    """A monitoring-module alarm on an AWS metric, as DescribeAlarms returns it."""
    return {
        "AlarmName": name,
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }


def every_minute(publisher: aws_metrics.Publisher, clock: Clock, minutes: int, between: Any = None) -> None:
    for _ in range(minutes):
        clock.now += 60
        if between is not None:
            between()
        publisher.tick()


def test_a_stalled_importer_queue_pages_its_age_after_15_minutes_and_a_served_one_does_not(
    aws: dict[str, Any],
) -> None:
    clock = Clock()
    publisher = aws_metrics.Publisher(clock=clock)
    sqs = aws["sqs"]
    stalled = sqs.create_queue(QueueName="t-importer")["QueueUrl"]
    served = sqs.create_queue(QueueName="t-served")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=stalled, MessageBody=f"object {n}")
    sent = datetime.now(UTC)

    def serve() -> None:  # a working importer: each minute's message is taken and deleted
        sqs.send_message(QueueUrl=served, MessageBody="fresh")
        (msg,) = sqs.receive_message(QueueUrl=served)["Messages"]
        sqs.delete_message(QueueUrl=served, ReceiptHandle=msg["ReceiptHandle"])

    every_minute(publisher, clock, 20, serve)

    fetch = alarms.cloudwatch_fetch(aws["cloudwatch"])
    now = datetime.fromtimestamp(clock.now, UTC)
    age = alarm(
        "t-importer-queue-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", ("QueueName", "t-importer"), 900
    )
    evaluation = alarms.evaluate(age, fetch, now)
    assert evaluation.state == "ALARM"
    assert min(evaluation.crossed) >= (now - sent).total_seconds() - 5 * 60 - 60
    # still 3 waiting: the messages were never received
    visible = alarm("v", "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", "t-importer"), 2)
    assert alarms.evaluate(visible, fetch, now).state == "ALARM"
    # and 13 minutes in, it had not paged yet
    assert alarms.evaluate(age, fetch, now - timedelta(minutes=7)).state == "OK"
    served_age = {**age, "Dimensions": [{"Name": "QueueName", "Value": "t-served"}]}
    assert alarms.evaluate(served_age, fetch, now).state == "OK"


def test_a_dead_lettered_message_pages_the_dlq_alarm(aws: dict[str, Any]) -> None:
    clock = Clock()
    publisher = aws_metrics.Publisher(clock=clock)
    sqs = aws["sqs"]
    dlq = sqs.create_queue(QueueName="t-importer-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="t-importer",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": "3"}}'},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="an object no importer can import")
    dlq_alarm = alarm(
        "t-importer-dlq", "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", "t-importer-dlq"), 0
    )
    every_minute(publisher, clock, 3)
    now = datetime.fromtimestamp(clock.now, UTC)
    assert alarms.evaluate(dlq_alarm, alarms.cloudwatch_fetch(aws["cloudwatch"]), now).state == "OK"

    # an importer that fails every attempt: received, never deleted, until SQS gives up on it
    for _ in range(4):
        sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)
    every_minute(publisher, clock, 4)

    now = datetime.fromtimestamp(clock.now, UTC)
    evaluation = alarms.evaluate(dlq_alarm, alarms.cloudwatch_fetch(aws["cloudwatch"]), now)
    assert evaluation.state == "ALARM" and evaluation.crossed == (1.0, 1.0, 1.0)


def put(kinesis: Any, stream: str, n: int) -> None:
    for i in range(n):
        kinesis.put_record(StreamName=stream, Data=b"m", PartitionKey=str(i))


def reader(kinesis: Any, stream: str) -> Any:
    shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")

    def read(limit: int) -> int:
        nonlocal iterator
        out = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=limit)
        iterator = {"ShardIterator": out["NextShardIterator"]}
        return len(out["Records"])

    return read


def test_a_consumer_reading_minutes_behind_pages_iterator_age_and_one_keeping_up_does_not(
    aws: dict[str, Any],
) -> None:
    clock = Clock()
    publisher = aws_metrics.Publisher(clock=clock)
    publisher.ages.install()
    kinesis = aws["kinesis"]
    for stream in ("t-raw", "t-scored"):
        kinesis.create_stream(StreamName=stream, ShardCount=1)
    put(kinesis, "t-raw", 10)
    put(kinesis, "t-scored", 1)
    slow, keeping_up = reader(kinesis, "t-raw"), reader(kinesis, "t-scored")

    def read() -> None:
        slow(2)  # two of the records a minute: each minute it is a minute further behind
        keeping_up(100)  # all there is: after the first minute it is at the tip (age 0)

    every_minute(publisher, clock, 5, read)

    fetch = alarms.cloudwatch_fetch(aws["cloudwatch"])
    now = datetime.fromtimestamp(clock.now, UTC)
    iterator_age = alarm(
        "t-iterator-age-t-raw", "AWS/Kinesis", aws_metrics.ITERATOR_AGE, ("StreamName", "t-raw"), 60_000
    )
    evaluation = alarms.evaluate(iterator_age, fetch, now)
    assert evaluation.state == "ALARM"
    # minutes 2, 3 and 4 of the window (the fifth is still open); the first read was just under 60 s
    assert [round(v / 60_000) for v in evaluation.crossed] == [2, 3, 4]
    kept = {**iterator_age, "Dimensions": [{"Name": "StreamName", "Value": "t-scored"}]}
    assert [v for _, v in alarms.evaluate(kept, fetch, now).datapoints][2:] == [0, 0, 0]
    assert alarms.evaluate(kept, fetch, now).state == "OK"


def test_a_consumer_that_stopped_calling_leaves_no_datapoint_as_on_aws(aws: dict[str, Any]) -> None:
    clock = Clock()
    publisher = aws_metrics.Publisher(clock=clock)
    publisher.ages.install()
    aws["kinesis"].create_stream(StreamName="t-raw", ShardCount=1)
    put(aws["kinesis"], "t-raw", 3)
    every_minute(publisher, clock, 5)
    fetch = alarms.cloudwatch_fetch(aws["cloudwatch"])
    now = datetime.fromtimestamp(clock.now, UTC)
    iterator_age = alarm("t", "AWS/Kinesis", aws_metrics.ITERATOR_AGE, ("StreamName", "t-raw"), 60_000)
    evaluation = alarms.evaluate(iterator_age, fetch, now)
    assert [v for _, v in evaluation.datapoints] == [None] * 5 and evaluation.state == "OK"


def test_awss_own_datapoints_are_forgotten_after_six_hours_and_the_codes_own_are_kept(
    aws: dict[str, Any],
) -> None:
    clock = Clock()
    publisher = aws_metrics.Publisher(clock=clock)
    aws["sqs"].create_queue(QueueName="t-importer")
    long_past = datetime(2026, 1, 1, 10, tzinfo=UTC)  # an hour scored long after it happened
    aws["cloudwatch"].put_metric_data(
        Namespace="trustpipe/pipeline",
        MetricData=[{"MetricName": "HourlyOutputDelaySeconds", "Value": 60.0, "Timestamp": long_past}],
    )
    publisher.tick()
    first = datetime.fromtimestamp(clock.now, UTC)
    every_minute(publisher, clock, 6 * 60 + 2)

    def points(namespace: str, name: str, start: datetime, dims: list[dict[str, str]]) -> int:
        got = aws["cloudwatch"].get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=dims,
            StartTime=start - timedelta(minutes=1),
            EndTime=start + timedelta(minutes=1),
            Period=60,
            Statistics=["SampleCount"],
        )["Datapoints"]
        return int(sum(p["SampleCount"] for p in got))

    queue = [{"Name": "QueueName", "Value": "t-importer"}]
    assert points("AWS/SQS", "ApproximateAgeOfOldestMessage", first, queue) == 0
    now = datetime.fromtimestamp(clock.now, UTC)
    assert points("AWS/SQS", "ApproximateAgeOfOldestMessage", now, queue) >= 1
    assert points("trustpipe/pipeline", "HourlyOutputDelaySeconds", long_past, []) == 1
