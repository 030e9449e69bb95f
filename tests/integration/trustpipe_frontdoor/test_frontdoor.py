"""The stream's front door on the local stack's real parts (moto server, the local front door
started by PID, the registry, the scorer's worker): an enterprise's sensor session can only put
records stamped with its own enterprise; a record claiming another enterprise is set aside by the
scorer with that reason; tampered, foreign and unsigned requests are refused."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness.models import artifact
from trustpipe import contracts, ingest, tenants
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.model import artifact as artifacts
from trustpipe.settings import Settings
from trustpipe_scenarios.stream_demo import records
from trustpipe_scorer.app import build_worker
from trustpipe_sensors.frontdoor import http_post, producer_for, signed_headers
from trustpipe_sensors.generator import MessageFactory
from trustpipe_sensors.world import World
from trustpipe_stack.stack import LocalStack
from trustpipe_stream.processor import StreamRecord

pytestmark = pytest.mark.integration
A, B = "acme", "globex"
MODEL = dataclasses.replace(artifact(spf_fail=1.5), version="frontdoor-m1")


def with_sensor_roles(stack: LocalStack, aws: AwsClients, settings: Settings) -> Settings:
    """The stack's settings, A and B each with a sensor role in the tenant map (created on the
    moto server when the stack's map lacks them, and the front door then serving them afresh; the
    stack's own map has them, and its front door, which the other tests of the worker use, is
    left as it is)."""
    missing = [e for e in (A, B) if not settings.tenants.get(e, {}).get("sensor_role_arn")]
    if not missing:
        return settings
    tenant_map = {k: dict(v) for k, v in settings.tenants.items()}
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for ent in missing:
        role = iam.create_role(
            RoleName=f"frontdoor-test-sensor-{ent}",
            Path="/sensors/",
            AssumeRolePolicyDocument=json.dumps(trust),
        )["Role"]
        tenant_map[ent] = {**tenant_map.get(ent, {}), "sensor_role_arn": role["Arn"]}
    return stack.serve_frontdoor(
        dataclasses.replace(settings, tenants=tenant_map), say=lambda _m: None, renew=True
    )


@pytest.fixture(scope="module")
def served(local_stack: LocalStack, aws: AwsClients, settings: Settings) -> tuple[Settings, AwsClients]:
    ours = with_sensor_roles(local_stack, aws, settings)
    clients = AwsClients(ours)
    artifacts.save(clients.s3, ours.archive_bucket, MODEL, make_current=True)
    return ours, clients


def messages(clients: AwsClients, claims: list[str]) -> list[tuple[bytes, str]]:
    """One framed v4 message per entry of ``claims``, each claiming that enterprise; unique ids."""
    world, run = World.build(3), uuid.uuid4().hex[:8]
    schema = contracts.email_metadata(4)
    encoder = FramedEncoder(clients.registry().register(contracts.EMAIL_METADATA_SUBJECT, schema), schema)
    out = []
    for i, claim in enumerate(claims):
        record = MessageFactory(world, world.enterprises[A], random.Random(i)).make(datetime.now(UTC)).record
        record = {**record, "enterprise_id": claim, "message_id": f"<fd-{run}-{i}@test>"}
        out.append((encoder.encode(record), record["message_id"]))
    return out


def on_raw(clients: AwsClients, ids: set[str]) -> list[dict[str, Any]]:
    """The raw stream's records of these messages, under any enterprise's key."""
    return [
        r
        for r in records(clients.client("kinesis"), clients.settings.raw_stream_name)
        if r["PartitionKey"].partition("/")[2] in ids
    ]


def test_a_sensors_batch_is_stamped_with_its_enterprise_and_a_claim_of_another_is_set_aside(
    served: tuple[Settings, AwsClients],
) -> None:
    settings, clients = served
    # GIVEN A's sensor session posts a batch through the front door: good records of A, and one
    # in the middle claiming to be B's
    batch = messages(clients, [A, A, B, A])
    producer_for(settings, lambda: clients.client("sts")).put(A, batch)
    # THEN the raw stream holds all four, every one keyed by A (the caller), none by B
    ids = {mid for _, mid in batch}
    raw = on_raw(clients, ids)
    assert len(raw) == 4
    assert sorted(r["PartitionKey"] for r in raw) == sorted(tenants.partition_key(A, mid) for mid in ids)
    # WHEN the scorer's worker processes them
    worker = build_worker(clients)
    rejected = worker.process(
        [
            StreamRecord(r["Data"], r["PartitionKey"], r["SequenceNumber"], 0, 0, "shardId-x")
            for r in sorted(raw, key=lambda r: r["SequenceNumber"])
        ]
    )
    # THEN the record claiming B is set aside with that reason, never scored; A's three are
    claimed_b = batch[2][1]
    assert [r.record.partition_key for r in rejected] == [tenants.partition_key(A, claimed_b)]
    assert rejected[0].reason.startswith(f"EnterpriseMismatchError: record claims enterprise '{B}'")
    scored = FramedDecoder(clients.registry(), contracts.load(contracts.SCORED_MESSAGE))
    out = [
        (r["PartitionKey"], scored.decode(r["Data"]))
        for r in records(clients.client("kinesis"), settings.scored_stream_name)
        if r["PartitionKey"].removeprefix(f"{A}/") in ids
    ]
    assert sorted(m["message_id"] for _, m in out) == sorted(ids - {claimed_b})
    assert {m["enterprise_id"] for _, m in out} == {A}
    assert all(key == tenants.partition_key(A, m["message_id"]) for key, m in out)


def post(settings: Settings, headers: dict[str, str], body: bytes) -> int:
    return http_post(settings.frontdoor_url.rstrip("/") + ingest.RECORDS_PATH, headers, body)[0]  # type: ignore[union-attr]


def test_a_tampered_foreign_or_unsigned_request_is_refused(served: tuple[Settings, AwsClients]) -> None:
    settings, clients = served
    sessions = ingest.load_sensor_credentials(Path(settings.sensor_credentials_file or ""))
    url = (settings.frontdoor_url or "").rstrip("/") + ingest.RECORDS_PATH
    body = ingest.request_body(messages(clients, [B]))
    # B's own signed request is taken (the control)
    assert post(settings, signed_headers(sessions[B], settings.region, url, body), body) == 200
    # B's signed request (its session token) replayed with a tampered body: refused
    tampered = ingest.request_body(messages(clients, [A]))
    assert post(settings, signed_headers(sessions[B], settings.region, url, body), tampered) == 403
    # A's key signing with B's session token: refused
    mixed = dataclasses.replace(sessions[A], session_token=sessions[B].session_token)
    assert post(settings, signed_headers(mixed, settings.region, url, body), body) == 403
    # a guessed secret, and no signature at all: refused
    guessed = dataclasses.replace(sessions[A], secret_access_key="guessed")
    assert post(settings, signed_headers(guessed, settings.region, url, body), body) == 403
    assert post(settings, {"Content-Type": "application/json"}, body) == 403
    # and the sessions are readable by their owner alone
    assert stat.S_IMODE(os.stat(settings.sensor_credentials_file or "").st_mode) == 0o600
