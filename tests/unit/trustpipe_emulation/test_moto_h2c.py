"""The local stack's moto server keeps DynamoDB's guarantee that a conditional write is atomic
(in-process moto; the race made certain by holding both writers between their read and write)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from trustpipe_emulation.moto_h2c import dynamodb_writes_atomic


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto.dynamodb.models.table import Table

    # Each writer, once it has read the item its condition is judged on, waits for the other to
    # have read it too (up to half a second): without a lock both read "absent" and both write.
    both_read = threading.Barrier(2, timeout=0.5)
    read = Table.get_item

    def read_then_wait(self: Any, *args: Any, **kwargs: Any) -> Any:
        current = read(self, *args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait()
        return current

    monkeypatch.setattr(Table, "get_item", read_then_wait)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="claims",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        yield client


def test_two_conditional_puts_of_one_key_at_once_let_exactly_one_through(table: Any) -> None:
    # GIVEN the local stack's moto server's DynamoDB (its writes one at a time)
    dynamodb_writes_atomic()
    won: list[str] = []

    def claim(who: str) -> None:
        try:
            table.put_item(
                TableName="claims",
                Item={"pk": {"S": "acme/<m@x>"}, "by": {"S": who}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            won.append(who)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ConditionalCheckFailedException"

    # WHEN two writers claim one key at the same moment
    writers = [threading.Thread(target=claim, args=(who,)) for who in ("a", "b")]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    # THEN exactly one claim holds, and the item is the winner's
    assert len(won) == 1, won
    item = table.get_item(TableName="claims", Key={"pk": {"S": "acme/<m@x>"}})["Item"]
    assert item["by"]["S"] == won[0]


def test_a_rest_apis_policy_is_answered_escaped_as_api_gateway_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from moto.apigateway.models import RestAPI

    from trustpipe_emulation.moto_h2c import rest_api_policy_as_api_gateway

    monkeypatch.setattr(RestAPI, "to_dict", RestAPI.to_dict)  # restored after the test
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Resource": "execute-api:/*"}]}
    with mock_aws():
        gateway = boto3.client("apigateway", region_name="eu-west-1")
        api = gateway.create_rest_api(name="r", policy=json.dumps(policy))["id"]
        # GIVEN moto answers the policy as stored
        assert json.loads(gateway.get_rest_api(restApiId=api)["policy"]) == policy
        # WHEN the local stack's server answers as API Gateway does
        rest_api_policy_as_api_gateway()
        rest_api_policy_as_api_gateway()  # once only, however often it is asked
        answered = gateway.get_rest_api(restApiId=api)["policy"]
    # THEN the policy is escaped once more, and the provider's unescaping gives it back
    assert answered.startswith('{\\"') and json.loads(json.loads(f'"{answered}"')) == policy
