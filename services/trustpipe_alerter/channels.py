"""Where the alerter's actions and alerts go on AWS: the actions table (DynamoDB conditional
writes), each enterprise's FIFO action queue (SQS), each enterprise's alert topic (SNS)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from trustpipe.codec import FramedEncoder
from trustpipe_alerter.worker import Action

SNS_MAX_ACTIONS_PER_ALERT = 100
"""Actions listed in one alert: keeps a publish well under SNS's 256 KiB message limit."""
SQS_MAX_DEDUPLICATION_ID = 128
"""A FIFO queue's MessageDeduplicationId is at most 128 characters."""


@dataclass
class DynamoLedger:
    dynamodb: Any
    table: str

    def claim(self, action: Action) -> str:
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "message_id": {"S": action["message_id"]},
                    "action_id": {"S": action["action_id"]},
                    "enterprise_id": {"S": action["enterprise_id"]},
                    "action": {"S": action["action"]},
                    "state": {"S": "pending"},
                    "issued_at": {"S": action["issued_at"].isoformat()},
                },
                ConditionExpression="attribute_not_exists(message_id)",
            )
            return "new"
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"message_id": {"S": action["message_id"]}}, ConsistentRead=True
        )["Item"]
        return str(item["state"]["S"])

    def mark_sent(self, message_id: str) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"message_id": {"S": message_id}},
            UpdateExpression="SET #state = :sent",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":sent": {"S": "sent"}},
        )


def dedup_id(action_id: str) -> str:
    """The queue's deduplication id of an action (hashed: action ids can pass 128 characters)."""
    return hashlib.sha256(action_id.encode()).hexdigest()[:SQS_MAX_DEDUPLICATION_ID]


@dataclass
class ActionQueues:
    """Each action, Confluent-framed Avro (base64: SQS bodies are text), on its enterprise's queue."""

    sqs: Any
    urls: dict[str, str]
    encoder: FramedEncoder

    def send(self, action: Action) -> None:
        self.sqs.send_message(
            QueueUrl=self.urls[action["enterprise_id"]],
            MessageBody=base64.b64encode(self.encoder.encode(action)).decode(),
            MessageGroupId=action["message_id"][:128],
            MessageDeduplicationId=dedup_id(action["action_id"]),
            MessageAttributes={
                "content-type": {"DataType": "String", "StringValue": "avro/binary+confluent;base64"},
                "action": {"DataType": "String", "StringValue": action["action"]},
            },
        )


@dataclass
class AlertTopics:
    """One alert per enterprise per batch (chunked), for its users to review in the web app."""

    sns: Any
    arns: dict[str, str]

    def publish(self, enterprise_id: str, actions: Sequence[Action]) -> None:
        for start in range(0, len(actions), SNS_MAX_ACTIONS_PER_ALERT):
            chunk = actions[start : start + SNS_MAX_ACTIONS_PER_ALERT]
            kinds = Counter(a["action"] for a in chunk)
            self.sns.publish(
                TopicArn=self.arns[enterprise_id],
                Subject=f"trustpipe: {kinds['QUARANTINE']} quarantined, {kinds['LABEL']} labelled",
                Message=json.dumps(
                    {
                        "enterprise_id": enterprise_id,
                        "actions": [
                            {k: a[k] for k in ("message_id", "action", "score", "reasons", "action_id")}
                            for a in chunk
                        ],
                    }
                ),
            )
