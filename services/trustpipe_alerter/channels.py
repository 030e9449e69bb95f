"""Where the alerter's actions and alerts go on AWS: the actions table (DynamoDB conditional
writes), each enterprise's FIFO action queue (SQS), each enterprise's alert topic (SNS)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from trustpipe import tenants
from trustpipe.codec import FramedEncoder
from trustpipe.errors import PermanentError, TransientError
from trustpipe_alerter.worker import Action, action_key


class ActionNotSentError(TransientError):
    """The action queue failed some entries of a batch on its side (worth sending again)."""


class ActionRefusedError(PermanentError):
    """The action queue refused an entry as the sender's fault: that action will never be taken
    (the processor sets its record aside once the batch is split down to it)."""


SNS_MAX_ACTIONS_PER_ALERT = 100
"""Actions listed in one alert: keeps a publish well under SNS's 256 KiB message limit."""
SQS_MAX_DEDUPLICATION_ID = 128
"""A FIFO queue's MessageDeduplicationId is at most 128 characters (alphanumerics and punctuation)."""
SQS_MAX_GROUP_ID = 128
"""... and its MessageGroupId too (SendMessage API): a message id may hold anything, so both are
digests, 64 hex characters."""
ACTION_KEY = "action_key"
"""The actions table's hash key attribute: the message key, ``<enterprise>/<message id>``."""
DYNAMODB_MAX_PARTITION_KEY_BYTES = 2048
"""A DynamoDB partition key value is at most 2048 bytes (UTF-8)."""


DYNAMODB_CONCURRENCY = 8
"""Conditional writes in flight at once (each is one request: BatchWriteItem takes no conditions)."""
SQS_MAX_BATCH = 10
"""SendMessageBatch takes at most 10 messages."""


@dataclass
class DynamoLedger:
    """The actions table: one item per message, keyed by its message key (``ACTION_KEY``)."""

    dynamodb: Any
    table: str

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(DYNAMODB_CONCURRENCY, thread_name_prefix="ledger")

    def claim(self, actions: Sequence[Action]) -> list[str]:
        return list(self._pool.map(self._claim, actions))

    def mark_sent(self, keys: Sequence[str]) -> None:
        list(self._pool.map(self._mark_sent, keys))

    def _claim(self, action: Action) -> str:
        """A conditional put: the message's first claim, or one that ``supersedes`` the claimed
        action (the same rule, as DynamoDB evaluates it; an item from before promotions were
        kept counts as promotion 0)."""
        key = ledger_key(action_key(action))
        promotion = int(action.get("model_promotion", 0))
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    ACTION_KEY: {"S": key},
                    "message_id": {"S": action["message_id"]},
                    "action_id": {"S": action["action_id"]},
                    "enterprise_id": {"S": action["enterprise_id"]},
                    "action": {"S": action["action"]},
                    "model_promotion": {"N": str(promotion)},
                    "state": {"S": "pending"},
                    "issued_at": {"S": action["issued_at"].isoformat()},
                },
                ConditionExpression=(
                    f"attribute_not_exists({ACTION_KEY}) OR (#action <> :action AND (model_promotion < "
                    ":promotion OR (attribute_not_exists(model_promotion) AND :zero < :promotion)))"
                ),
                ExpressionAttributeNames={"#action": "action"},
                ExpressionAttributeValues={
                    ":action": {"S": action["action"]},
                    ":promotion": {"N": str(promotion)},
                    ":zero": {"N": "0"},
                },
            )
            return "new"
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        item = self.dynamodb.get_item(
            TableName=self.table, Key={ACTION_KEY: {"S": key}}, ConsistentRead=True
        )["Item"]
        return str(item["state"]["S"])

    def _mark_sent(self, key: str) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={ACTION_KEY: {"S": ledger_key(key)}},
            UpdateExpression="SET #state = :sent",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":sent": {"S": "sent"}},
        )


def ledger_key(key: str) -> str:
    """The actions table's key of message key ``key``: itself, or, past DynamoDB's limit (a
    Message-ID has no length limit of its own), its enterprise and a digest of the whole key, so
    a long id is still acted on once rather than failing its batch for ever."""
    if len(key.encode("utf-8", "surrogatepass")) <= DYNAMODB_MAX_PARTITION_KEY_BYTES:
        return key
    return f"{tenants.enterprise_of_key(key)}{tenants.KEY_SEPARATOR}sha256:{_digest(key)}"


def dedup_id(action_id: str) -> str:
    """The queue's deduplication id of an action (hashed: action ids can pass 128 characters and
    hold what SQS refuses)."""
    return _digest(action_id)[:SQS_MAX_DEDUPLICATION_ID]


def group_id(action: Action) -> str:
    """The queue's message group of an action: its message, hashed (a message id may be longer
    than SQS allows and hold spaces, control or non-ASCII characters, which it refuses)."""
    return _digest(action_key(action))[:SQS_MAX_GROUP_ID]


def _digest(text: str) -> str:
    # a str may hold lone surrogates (not UTF-8): hash them rather than fail
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class ActionQueues:
    """Each action, Confluent-framed Avro (base64: SQS bodies are text), on its enterprise's queue."""

    sqs: Any
    urls: dict[str, str]
    encoder: FramedEncoder

    def send(self, actions: Sequence[Action]) -> None:
        """Every action on its enterprise's queue, ten to a call; a failed entry fails the batch:
        the queue's fault is retried, the sender's is split down to its record (either way the
        queue drops the ones already sent as duplicates)."""
        by_queue: dict[str, list[Action]] = {}
        for action in actions:
            by_queue.setdefault(self.urls[action["enterprise_id"]], []).append(action)
        for url, queued in by_queue.items():
            for start in range(0, len(queued), SQS_MAX_BATCH):
                chunk = queued[start : start + SQS_MAX_BATCH]
                response = self.sqs.send_message_batch(
                    QueueUrl=url, Entries=[self._entry(str(n), a) for n, a in enumerate(chunk)]
                )
                if response.get("Failed"):
                    failed = ", ".join(f"{f['Code']}: {f.get('Message', '')}" for f in response["Failed"])
                    senders = any(f.get("SenderFault") for f in response["Failed"])
                    error = ActionRefusedError if senders else ActionNotSentError
                    raise error(f"{len(response['Failed'])} actions refused by {url}: {failed}")

    def _entry(self, entry_id: str, action: Action) -> dict[str, Any]:
        return {
            "Id": entry_id,
            "MessageBody": base64.b64encode(self.encoder.encode(action)).decode(),
            "MessageGroupId": group_id(action),
            "MessageDeduplicationId": dedup_id(action["action_id"]),
            "MessageAttributes": {
                "content-type": {"DataType": "String", "StringValue": "avro/binary+confluent;base64"},
                "action": {"DataType": "String", "StringValue": action["action"]},
            },
        }


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
