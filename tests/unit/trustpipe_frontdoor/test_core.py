"""The front door's core on fakes: the caller's principal mapped to its enterprise (and nobody
else's), every malformed, truncated, oversized or empty batch refused with one reason before
anything is put, records stamped with the caller's enterprise, throttled records retried."""

from __future__ import annotations

import base64
import json

import pytest

from tests.harness.fakes import FakeKinesis
from trustpipe import ingest
from trustpipe_frontdoor import core
from trustpipe_frontdoor.handler import body_of, principal_of, to_response

ACCOUNT = "123456789012"
ROLES = {
    "acme": f"arn:aws:iam::{ACCOUNT}:role/trustpipe-prod-sensor-acme",
    "globex": f"arn:aws:iam::{ACCOUNT}:role/sensors/eu/trustpipe-prod-sensor-globex",
}
ACME = f"arn:aws:sts::{ACCOUNT}:assumed-role/trustpipe-prod-sensor-acme/sensor-7"
GLOBEX = f"arn:aws:sts::{ACCOUNT}:assumed-role/trustpipe-prod-sensor-globex/botocore-session-1"


def body(*records: tuple[bytes, str]) -> bytes:
    return ingest.request_body(records)


def run(principal: str, raw: bytes, kinesis: FakeKinesis | None = None) -> tuple[core.Answer, FakeKinesis]:
    kinesis = kinesis or FakeKinesis()
    stream = core.RawStream(kinesis, "raw", sleep=lambda _s: None, jitter=lambda: 1.0)
    return core.handle(principal, raw, ROLES, stream.put), kinesis


@pytest.mark.parametrize(
    ("principal", "enterprise"),
    [
        (ACME, "acme"),
        (GLOBEX, "globex"),  # its role has a path, which its sessions' ARNs do not show
        (ROLES["acme"], "acme"),  # the role's own ARN (a caller API Gateway names so)
    ],
)
def test_a_sensor_role_session_is_its_enterprise(principal: str, enterprise: str) -> None:
    assert core.enterprise_of_principal(principal, ROLES) == enterprise


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/trustpipe-prod-sensor-initech/s",  # a role not in the map
        "arn:aws:sts::999999999999:assumed-role/trustpipe-prod-sensor-acme/s",  # same name, other account
        f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/trustpipe-prod-sensor-acme/s",  # other partition
        f"arn:aws:iam::{ACCOUNT}:user/trustpipe-prod-sensor-acme",  # a user named like the role
        f"arn:aws:sts::{ACCOUNT}:assumed-role/trustpipe-prod-sensor-acme",  # no session
        f"arn:aws:sts::{ACCOUNT}:assumed-role/x/trustpipe-prod-sensor-acme",  # the name as the session
        f"arn:aws:sts::{ACCOUNT}:federated-user/trustpipe-prod-sensor-acme",
        "",
        "acme",
    ],
)
def test_any_other_principal_is_refused_403_and_nothing_is_put(principal: str) -> None:
    answer, kinesis = run(principal, body((b"\x00rec", "m1")))
    assert answer.status == 403 and "no enterprise's sensor" in answer.body["message"]
    assert kinesis.calls == []


def test_records_are_stamped_with_the_callers_enterprise_whatever_they_claim() -> None:
    # GIVEN globex's sensor posting three records (one message id repeated: Kinesis takes both)
    answer, kinesis = run(GLOBEX, body((b"\x00a", "<1@x>"), (b"\x00b", "acme/<2@x>"), (b"\x00c", "<1@x>")))
    # THEN each is put keyed by (globex, the message id), in order, each with its sequence number
    assert answer.status == 200
    assert [r["PartitionKey"] for r in kinesis.stored] == [
        "globex/<1@x>",
        "globex/acme/<2@x>",
        "globex/<1@x>",
    ]
    assert [r["Data"] for r in kinesis.stored] == [b"\x00a", b"\x00b", b"\x00c"]
    assert answer.body["enterprise_id"] == "globex" and answer.body["failed_record_count"] == 0
    assert [r["sequence_number"] for r in answer.body["records"]] == ["1", "2", "3"]
    assert [r["message_id"] for r in answer.body["records"]] == ["<1@x>", "acme/<2@x>", "<1@x>"]


def test_a_long_message_id_is_cut_to_kinesiss_256_character_key() -> None:
    answer, kinesis = run(ACME, body((b"\x00a", "m" * 998)))
    assert answer.status == 200 and kinesis.stored[0]["PartitionKey"] == ("acme/" + "m" * 998)[:256]


def record_json(**fields: object) -> bytes:
    return json.dumps({"records": [fields]}).encode()


GOOD = base64.b64encode(b"\x00\x00\x00\x00\x01abc").decode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (body((b"\x00a", "m1"))[:-7], "body is not JSON"),  # truncated in transit
        (b"\xff\xfe\x00", "body is not JSON"),  # not even UTF-8
        (b"", "body is not JSON"),
        (b"[]", 'body must be a JSON object with a "records" list'),
        (b'{"records": {"data": "AA=="}}', 'body must be a JSON object with a "records" list'),
        (b'{"messages": []}', 'body must be a JSON object with a "records" list'),
        (b'{"records": []}', "records is empty"),
        (b'{"records": ["AA=="]}', "record 0 is not an object"),
        (record_json(data=GOOD), 'record 0 needs "data" and "message_id" strings'),
        (record_json(message_id="m1"), 'record 0 needs "data" and "message_id" strings'),
        (record_json(data=GOOD, message_id=7), 'record 0 needs "data" and "message_id" strings'),
        (record_json(data=None, message_id="m1"), 'record 0 needs "data" and "message_id" strings'),
        (record_json(data=GOOD, message_id=""), "record 0: message_id must be 1-998 characters"),
        (record_json(data=GOOD, message_id="m" * 999), "record 0: message_id must be 1-998 characters"),
        (record_json(data="not base64!", message_id="m1"), "record 0: data is not base64"),
        (record_json(data="AAA", message_id="m1"), "record 0: data is not base64"),  # bad padding
        (record_json(data="", message_id="m1"), "record 0: data is empty"),
    ],
)
def test_a_malformed_body_is_refused_400_with_one_reason_and_nothing_is_put(raw: bytes, reason: str) -> None:
    answer, kinesis = run(ACME, raw)
    assert answer.status == 400
    assert answer.body["message"].startswith(reason)
    assert kinesis.calls == []


def test_a_bad_record_among_good_ones_refuses_the_whole_request_naming_it() -> None:
    # one bad record: nothing is put, so the sender can fix and resend the batch as a whole
    raw = json.dumps(
        {"records": [{"data": GOOD, "message_id": "a"}, {"data": "%%%", "message_id": "b"}]}
    ).encode()
    answer, kinesis = run(ACME, raw)
    assert answer.status == 400 and answer.body["message"].startswith("record 1: data is not base64")
    assert kinesis.calls == []


def test_501_records_are_refused_and_500_are_taken() -> None:
    answer, kinesis = run(ACME, body(*[(b"\x00", f"m{i}") for i in range(501)]))
    assert answer.status == 400 and answer.body["message"] == "501 records; a request takes at most 500"
    assert kinesis.calls == []
    answer, kinesis = run(ACME, body(*[(b"\x00", f"m{i}") for i in range(500)]))
    assert answer.status == 200 and len(kinesis.stored) == 500 and len(kinesis.calls) == 1


def test_an_oversize_record_is_refused_and_one_at_the_limit_is_taken() -> None:
    limit = core.MAX_RECORD_DATA_BYTES
    answer, kinesis = run(ACME, body((b"\x00", "a"), (b"x" * (limit + 1), "b")))
    assert answer.status == 400
    assert answer.body["message"] == f"record 1: data is {limit + 1} bytes; a record is at most {limit}"
    assert kinesis.calls == []
    answer, kinesis = run(ACME, body((b"x" * limit, "b")))
    assert answer.status == 200 and len(kinesis.stored[0]["Data"]) == limit


def test_a_request_past_api_gateways_10_mb_is_refused_413_unread() -> None:
    answer, kinesis = run(ACME, b"{" + b" " * ingest.API_GATEWAY_MAX_PAYLOAD_BYTES + b"}")
    assert answer.status == 413 and "10 MB" in answer.body["message"]
    assert kinesis.calls == []


def test_a_request_of_more_than_5_mib_is_put_in_several_calls_in_order() -> None:
    # 7 records of 1000 KiB (9.1 MiB in base64, inside API Gateway's 10 MB): PutRecords takes
    # 5 MiB a call, so 5 + 2
    answer, kinesis = run(ACME, body(*[(bytes([i]) * 1000 * 1024, f"m{i}") for i in range(7)]))
    assert answer.status == 200
    assert [len(c) for c in kinesis.calls] == [5, 2]
    assert [r["Data"][0] for r in kinesis.stored] == list(range(7))


def test_throttled_records_are_retried_alone_until_put() -> None:
    # GIVEN a stream that throttles two of three records on the first two calls
    kinesis = FakeKinesis(refuse={"acme/b", "acme/c"}, times=2)
    delays: list[float] = []
    stream = core.RawStream(kinesis, "raw", sleep=delays.append, jitter=lambda: 1.0)
    answer = core.handle(ACME, body((b"\x00a", "a"), (b"\x00b", "b"), (b"\x00c", "c")), ROLES, stream.put)
    # THEN only the refused ones were sent again, with the core's backoff between tries
    assert [[r["PartitionKey"] for r in c] for c in kinesis.calls] == [
        ["acme/a", "acme/b", "acme/c"],
        ["acme/b", "acme/c"],
        ["acme/b", "acme/c"],
    ]
    assert delays == [core.BACKOFF.delay(0, lambda: 1.0), core.BACKOFF.delay(1, lambda: 1.0)]
    assert answer.status == 200 and answer.body["failed_record_count"] == 0
    assert [r["sequence_number"] for r in answer.body["records"]] == ["1", "2", "3"]


def test_records_still_throttled_after_every_try_are_reported_per_record() -> None:
    kinesis = FakeKinesis(refuse={"acme/b"}, times=core.PUT_ATTEMPTS)
    answer, _ = run(ACME, body((b"\x00a", "a"), (b"\x00b", "b")), kinesis)
    assert len(kinesis.calls) == core.PUT_ATTEMPTS
    assert answer.status == 200 and answer.body["failed_record_count"] == 1
    assert answer.body["records"][0]["sequence_number"] == "1"
    assert answer.body["records"][1] == {
        "message_id": "b",
        "error_code": "ProvisionedThroughputExceededException",
        "error": "slow down",
    }


def test_the_lambda_reads_the_caller_api_gateway_authenticated_and_a_base64_body() -> None:
    raw = body((b"\x00a", "m1"))
    event = {
        "version": "2.0",
        "routeKey": "POST /records",
        "requestContext": {"authorizer": {"iam": {"userArn": ACME, "accountId": ACCOUNT}}},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    assert principal_of(event) == ACME and body_of(event) == raw
    assert principal_of({"requestContext": {}}) == ""  # a route without IAM: nobody, hence 403
    response = to_response(core.Answer(403, {"message": "no"}))
    assert response["statusCode"] == 403 and json.loads(response["body"]) == {"message": "no"}
