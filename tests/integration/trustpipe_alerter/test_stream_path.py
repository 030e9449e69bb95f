"""The near-real-time path on the local stack: sensors -> raw stream -> 2 scorers -> scored stream
-> stream importer -> PostgreSQL -> imported stream -> alerter -> action queues and alert topics.
A scorer and the alerter are SIGKILLed mid-stream (with their KCL daemons, as a host dies) and
restarted as systemd would; every produced message is stored exactly once, and each QUARANTINE or
LABEL verdict gets exactly one action, PASS_THROUGH none."""

from __future__ import annotations

import base64
import dataclasses
import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psutil
import psycopg
import pytest

from tests.cli import CLI, run_cli
from tests.integration.trustpipe_scorer.test_scorer_service import produce, wait_for
from tests.unit.trustpipe.test_features import artifact
from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder
from trustpipe.model import artifact as artifacts
from trustpipe.model.artifact import Thresholds
from trustpipe.settings import Settings
from trustpipe_importer.app import upgrade
from trustpipe_local.stack import LocalStack

# A model whose verdicts mix: auth failures and look-alikes push a message over the thresholds.
MODEL = dataclasses.replace(
    artifact(
        spf_fail=1.5,
        dmarc_fail=1.5,
        lookalike_domain=4.0,
        display_name_spoof=4.0,
        reply_to_mismatch=2.0,
        risky_urls=2.0,
        executable_attachment=3.0,
    ),
    version="stream-path-m1",
    intercept=-2.0,
    default_thresholds=Thresholds(0.5, 0.2),
    thresholds={},
)


class Services:
    """The workers as systemd would run them: start, SIGKILL (the whole unit), restart."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, *args: str) -> None:
        self.procs[name] = subprocess.Popen(
            [*CLI, *args, "--state-dir", self.state_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.procs[name].args_ = args  # type: ignore[attr-defined]

    def kill(self, name: str) -> None:
        proc = psutil.Process(self.procs[name].pid)
        for p in [*proc.children(recursive=True), proc]:
            p.kill()
        self.procs[name].wait()

    def restart(self, name: str) -> None:
        self.start(name, *self.procs[name].args_)  # type: ignore[attr-defined]

    def stop_all(self) -> dict[str, int]:
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        return {name: p.wait(timeout=120) for name, p in self.procs.items()}


@pytest.fixture(scope="module")
def services(local_stack: LocalStack, aws: AwsClients, settings: Settings) -> Iterator[Services]:
    upgrade(settings)
    artifacts.save(aws.s3, settings.archive_bucket, MODEL, make_current=True)
    s = Services(str(local_stack.state_dir))
    s.start("scorer-1", "scorer", "run", "--slot", "1")
    s.start("scorer-2", "scorer", "run", "--slot", "2")
    s.start("importer", "importer", "run", "--source", "stream")
    s.start("alerter", "alerter", "run")
    try:
        yield s
    finally:
        for name in list(s.procs):
            if s.procs[name].poll() is None:
                s.kill(name)


def stored(settings: Settings, ids: list[str]) -> dict[str, str]:
    with psycopg.connect(settings.database_url or "") as conn:
        rows = conn.execute(
            "SELECT message_id, verdict FROM scored_messages WHERE message_id = ANY(%s)", (ids,)
        ).fetchall()
    return dict(rows)


def drain_actions(aws: AwsClients, settings: Settings) -> list[dict[str, Any]]:
    """Every action on the enterprises' queues (received once: a long visibility timeout)."""
    sqs = aws.client("sqs")
    decoder = FramedDecoder(aws.registry(), contracts.load(contracts.ACTION))
    out = []
    for url in settings.action_queue_urls.values():
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600
        ).get("Messages"):
            out += [decoder.decode(base64.b64decode(m["Body"])) for m in messages]
    return out


def test_exactly_once_through_scorer_importer_and_alerter_with_crashes(
    services: Services, aws: AwsClients, settings: Settings
) -> None:
    alert_queues = subscribe_to_alerts(aws, settings)
    # GIVEN the sensors stream; WHEN a scorer and the alerter die mid-stream and come back
    ids = produce(aws, settings, 150)
    wait_for("some verdicts stored", lambda: len(stored(settings, ids)) > 20)
    services.kill("scorer-1")
    services.kill("alerter")
    ids += produce(aws, settings, 150)
    services.restart("scorer-1")
    services.restart("alerter")
    ids += produce(aws, settings, 100)
    # THEN every message is stored, once (message id is the key)
    verdicts = wait_for(
        "all 400 stored", lambda: (v := stored(settings, ids)) and len(v) == len(ids) and v, 300
    )
    mix = Counter(verdicts.values())
    assert set(mix) == {"QUARANTINE", "LABEL", "PASS_THROUGH"}, mix
    # and each QUARANTINE/LABEL verdict got exactly one action, of its kind; PASS_THROUGH none
    actionable = {m: v for m, v in verdicts.items() if v != "PASS_THROUGH"}
    actions: list[dict[str, Any]] = []

    def all_actions() -> bool:
        actions.extend(drain_actions(aws, settings))
        return {a["message_id"] for a in actions} >= set(actionable)

    wait_for("every action", all_actions, 240)
    time.sleep(10)  # anything still in flight would show up as a duplicate
    actions.extend(drain_actions(aws, settings))
    mine = [a for a in actions if a["message_id"] in verdicts]
    assert Counter(a["message_id"] for a in mine).most_common(1)[0][1] == 1
    assert {a["message_id"]: a["action"] for a in mine} == actionable
    # and the enterprises' users were alerted of them
    alerted = {x for q in alert_queues for x in alerted_ids(aws, q)}
    assert set(actionable) <= alerted
    # and `trustpipe local status` shows each worker running, with what its batches processed
    status = run_cli("local", "status", "--state-dir", services.state_dir)
    workers = json.loads(status.stdout)["workers"]
    assert {w for w, h in workers.items() if h["running"]} >= {
        "scorer-1",
        "scorer-2",
        "importer-1",
        "alerter-1",
    }
    assert sum(workers[w]["processed"] for w in ("scorer-1", "scorer-2")) >= len(ids)
    assert workers["importer-1"]["processed"] >= len(ids) and workers["alerter-1"]["processed"] > 0
    # and SIGTERM stops every worker cleanly
    assert set(services.stop_all().values()) == {0}


def subscribe_to_alerts(aws: AwsClients, settings: Settings) -> list[str]:
    """A test queue on each enterprise's alert topic, standing in for its users' inboxes."""
    sqs, sns = aws.client("sqs"), aws.client("sns")
    urls = []
    for enterprise_id, topic in settings.alert_topic_arns.items():
        url = sqs.create_queue(QueueName=f"test-alerts-{enterprise_id}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        urls.append(url)
    return urls


def alerted_ids(aws: AwsClients, url: str) -> set[str]:
    sqs = aws.client("sqs")
    ids = set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get(
        "Messages"
    ):
        for m in messages:
            ids |= {a["message_id"] for a in json.loads(m["Body"])["actions"]}
    return ids
