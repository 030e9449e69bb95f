"""The actions table on DynamoDB (in-process moto), keyed as Terraform keys it: one claim per
message, the pair of enterprise and message id, whatever the message id holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trustpipe_alerter.channels import ACTION_KEY, DYNAMODB_MAX_PARTITION_KEY_BYTES, DynamoLedger, ledger_key
from trustpipe_alerter.worker import Action

TABLE = "trustpipe-test-actions"


@pytest.fixture
def ledger() -> Iterator[tuple[DynamoLedger, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(  # as infra/modules/alerting keys it
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": ACTION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": ACTION_KEY, "AttributeType": "S"}],
        )
        yield DynamoLedger(dynamodb, TABLE), dynamodb


def action(
    enterprise: str, message_id: str, model: str = "m1", kind: str = "QUARANTINE", promotion: int = 1
) -> Action:
    return {
        "action_id": f"{enterprise}/{message_id}/{model}/{promotion}",
        "message_id": message_id,
        "enterprise_id": enterprise,
        "action": kind,
        "model_promotion": promotion,
        "issued_at": datetime(2026, 12, 1, 12, tzinfo=UTC),
    }


def test_one_message_id_at_two_enterprises_is_two_claims(ledger: tuple[DynamoLedger, Any]) -> None:
    table, dynamodb = ledger
    # GIVEN one Message-ID's actions at acme and globex; WHEN both are claimed, then again
    first = table.claim([action("acme", "<m1@x>"), action("globex", "<m1@x>")])
    again = table.claim([action("acme", "<m1@x>"), action("globex", "<m1@x>", "m2")])
    # THEN both were new claims, and a second claim of either finds it pending
    assert first == ["new", "new"] and again == ["pending", "pending"]
    # and, once acme's is marked sent, only acme's reads sent
    table.mark_sent(["acme/<m1@x>"])
    assert table.claim([action("acme", "<m1@x>"), action("globex", "<m1@x>")]) == ["sent", "pending"]
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert sorted((i[ACTION_KEY]["S"], i["enterprise_id"]["S"], i["state"]["S"]) for i in items) == [
        ("acme/<m1@x>", "acme", "sent"),
        ("globex/<m1@x>", "globex", "pending"),
    ]


@pytest.mark.parametrize(
    "message_id",
    ["<a b\x00c@x>", "<Ünïcødé-\U0001f4e7@例え.jp>", "<" + "x" * 300 + "@x>", "<" + "é" * 1100 + "@x>"],
    ids=["spaces-nul", "non-ascii", "300-chars", "past-dynamodb-key-limit"],
)
def test_a_hostile_message_id_is_claimed_and_marked_once(
    ledger: tuple[DynamoLedger, Any], message_id: str
) -> None:
    table, dynamodb = ledger
    # GIVEN a message id a sender chose; WHEN it is claimed, marked sent and claimed again
    assert table.claim([action("acme", message_id)]) == ["new"]
    table.mark_sent([f"acme/{message_id}"])
    # THEN the second claim finds it sent, in one item that keeps the message id whole
    assert table.claim([action("acme", message_id)]) == ["sent"]
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert item["message_id"]["S"] == message_id
    assert len(item[ACTION_KEY]["S"].encode()) <= DYNAMODB_MAX_PARTITION_KEY_BYTES


def test_a_key_past_dynamodbs_limit_is_its_enterprise_and_a_digest() -> None:
    long_key = "acme/<" + "é" * 1100 + "@x>"
    assert ledger_key("acme/<m1@x>") == "acme/<m1@x>"
    assert ledger_key(long_key).startswith("acme/sha256:") and len(ledger_key(long_key)) == 76
    assert ledger_key(long_key) != ledger_key(long_key.replace("acme", "globex", 1))


def test_a_later_promotions_other_action_takes_the_claim_over_and_nothing_else_does(
    ledger: tuple[DynamoLedger, Any],
) -> None:
    table, dynamodb = ledger
    # GIVEN a message quarantined under promotion 2 (the regressed model), sent
    assert table.claim([action("acme", "<m@x>", "v2", "QUARANTINE", 2)]) == ["new"]
    table.mark_sent(["acme/<m@x>"])
    # WHEN verdicts come again: the same action later, another action earlier, the same promotion
    assert table.claim([action("acme", "<m@x>", "v1", "QUARANTINE", 3)]) == ["sent"]
    assert table.claim([action("acme", "<m@x>", "v0", "LABEL", 1)]) == ["sent"]
    assert table.claim([action("acme", "<m@x>", "v2", "LABEL", 2)]) == ["sent"]
    # THEN none took it over; a rollback's model (promotion 3) that labels it does
    assert table.claim([action("acme", "<m@x>", "v1", "LABEL", 3)]) == ["new"]
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    claimed = (item["action"]["S"], item["model_promotion"]["N"], item["state"]["S"])
    assert claimed == ("LABEL", "3", "pending")
    assert item["action_id"]["S"] == "acme/<m@x>/v1/3"
    # AND a claim made before promotions were kept counts as promotion 0
    dynamodb.put_item(
        TableName=TABLE,
        Item={ACTION_KEY: {"S": "acme/<old@x>"}, "action": {"S": "QUARANTINE"}, "state": {"S": "sent"}},
    )
    assert table.claim([action("acme", "<old@x>", "v1", "QUARANTINE", 3)]) == ["sent"]
    assert table.claim([action("acme", "<old@x>", "v1", "LABEL", 3)]) == ["new"]
