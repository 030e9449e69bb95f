"""The sensors' front-door client against the front door's own SigV4 check and core, wired in
memory over a fake Kinesis: each enterprise's batch signed with its own session and stamped with
its enterprise; throttled records and 5xx answers resent; a refusal raised at once."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.harness.fakes import FakeKinesis
from trustpipe import ingest
from trustpipe_frontdoor import core
from trustpipe_frontdoor.sigv4 import authenticate
from trustpipe_sensors.frontdoor import (
    FrontDoorProducer,
    FrontDoorRefusedError,
    FrontDoorUnavailableError,
    requests_of,
)

REGION = "us-east-1"
URL = "http://127.0.0.1:9/"
SESSIONS = {
    ent: ingest.SensorCredentials(
        ent,
        f"ASIA{ent.upper()}",
        f"{ent}-secret",
        f"{ent}-token",
        f"arn:aws:sts::123456789012:assumed-role/sensor-{ent}/s",
    )
    for ent in ("acme", "globex")
}
ROLES = {ent: f"arn:aws:iam::123456789012:role/sensor-{ent}" for ent in SESSIONS}


class FrontDoor:
    """The local server's handling, minus HTTP: signature check, then the core."""

    def __init__(self, kinesis: FakeKinesis, fail_first: int = 0) -> None:
        self.kinesis, self.fail_first, self.posts = kinesis, fail_first, 0
        self.stream = core.RawStream(kinesis, "raw", sleep=lambda _s: None)

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.posts += 1
        if self.posts <= self.fail_first:
            return 503, b'{"message": "Service Unavailable"}'
        parts = urlsplit(url)
        by_key = {s.access_key_id: s for s in SESSIONS.values()}
        try:
            principal = authenticate(
                "POST", parts.path, {**headers, "Host": parts.netloc}, body, REGION, by_key
            )
        except core.RequestRefused as refused:
            return refused.status, json.dumps({"message": refused.reason}).encode()
        answer = core.handle(principal, body, ROLES, self.stream.put)
        return answer.status, json.dumps(answer.body).encode()


def producer(door: FrontDoor, sessions: dict[str, ingest.SensorCredentials] = SESSIONS) -> FrontDoorProducer:
    return FrontDoorProducer(URL, REGION, sessions.__getitem__, post=door, sleep=lambda _s: None)


def test_each_enterprises_batch_is_signed_with_its_session_and_stamped_with_its_enterprise() -> None:
    kinesis = FakeKinesis()
    sensors = producer(FrontDoor(kinesis))
    sensors.put("acme", [(b"\x00a", "<1@x>"), (b"\x00b", "<2@x>")])
    sensors.put("globex", [(b"\x00c", "<1@x>")])
    assert [r["PartitionKey"] for r in kinesis.stored] == ["acme/<1@x>", "acme/<2@x>", "globex/<1@x>"]
    assert sensors.calls == 2 and sensors.retried == 0


def test_throttled_records_are_resent_alone() -> None:
    # the stream throttles acme/<2@x> on the first front-door call (whose own retries exhaust
    # too), then takes it
    kinesis = FakeKinesis(refuse={"acme/<2@x>"}, times=core.PUT_ATTEMPTS)
    sensors = producer(FrontDoor(kinesis))
    sensors.put("acme", [(b"\x00a", "<1@x>"), (b"\x00b", "<2@x>")])
    assert sorted(r["PartitionKey"] for r in kinesis.stored) == ["acme/<1@x>", "acme/<2@x>"]
    assert sensors.calls == 2 and sensors.retried == 1


def test_a_failing_front_door_is_retried_then_reported() -> None:
    kinesis = FakeKinesis()
    sensors = producer(FrontDoor(kinesis, fail_first=2))
    sensors.put("acme", [(b"\x00a", "m")])
    assert len(kinesis.stored) == 1 and sensors.calls == 3
    down = producer(FrontDoor(FakeKinesis(), fail_first=100))
    with pytest.raises(FrontDoorUnavailableError, match="503"):
        down.put("acme", [(b"\x00a", "m")])


def test_a_session_the_front_door_does_not_know_is_refused_at_once() -> None:
    stolen = {"acme": ingest.SensorCredentials("acme", "ASIAACME", "guess", "acme-token", "")}
    sensors = producer(FrontDoor(FakeKinesis()), stolen)
    with pytest.raises(FrontDoorRefusedError, match="403"):
        sensors.put("acme", [(b"\x00a", "m")])
    assert sensors.calls == 1


def test_requests_hold_at_most_500_records_and_5_mib_of_data() -> None:
    small = [(b"x", str(i)) for i in range(1200)]
    assert [len(r) for r in requests_of(small)] == [500, 500, 200]
    big = [(b"x" * (2 * 1024 * 1024), str(i)) for i in range(5)]
    assert [len(r) for r in requests_of(big)] == [2, 2, 1]
