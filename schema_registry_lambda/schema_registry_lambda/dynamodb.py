"""The registry's Store on one DynamoDB table (pk, sk), safe under concurrent Lambdas.

Items:
- ``SCHEMA#<fingerprint>`` / ``ID``        -> id            (one id per schema)
- ``ID#<id>``              / ``SCHEMA``    -> schema text   (one schema per id)
- ``COUNTER``              / ``ID``        -> last id handed out (atomic ADD)
- ``SUBJECT#<subject>``    / ``V#<0000000001>`` -> schema id, deleted
- ``SUBJECTS``             / ``<subject>`` -> (listing)
- ``CONFIG``               / ``GLOBAL`` or ``SUBJECT#<subject>`` -> compatibility level
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from schema_registry_lambda.errors import StoreError, VersionTaken
from schema_registry_lambda.store import Store, SubjectVersion

_VERSION_WIDTH = 10  # zero-padded so versions sort as numbers (max 2^31-1 has 10 digits)


def _config_key(subject: str | None) -> str:
    return "GLOBAL" if subject is None else f"SUBJECT#{subject}"


class DynamoStore(Store):
    """A Store on the table Terraform's schema_registry module makes; the client is passed in."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def find_id(self, fingerprint: str) -> int | None:
        item = self._get(f"SCHEMA#{fingerprint}", "ID")
        return int(item["id"]["N"]) if item else None

    def id_for(self, fingerprint: str, schema: str) -> int:
        known = self.find_id(fingerprint)
        if known is not None:
            return known
        new_id = self._next_id()
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "Item": {
                                "pk": {"S": f"SCHEMA#{fingerprint}"},
                                "sk": {"S": "ID"},
                                "id": {"N": str(new_id)},
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "Item": {
                                "pk": {"S": f"ID#{new_id}"},
                                "sk": {"S": "SCHEMA"},
                                "schema": {"S": schema},
                            },
                        }
                    },
                ]
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "TransactionCanceledException":
                raise StoreError(str(err)) from err
            # Another writer registered the same schema first: its id wins, ours is left unused.
            winner = self.find_id(fingerprint)
            if winner is None:
                raise StoreError(f"schema {fingerprint[:12]} neither stored nor found") from err
            return winner
        return new_id

    def _next_id(self) -> int:
        result = self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": "COUNTER"}, "sk": {"S": "ID"}},
            UpdateExpression="ADD next_id :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(result["Attributes"]["next_id"]["N"])

    def schema(self, schema_id: int) -> str | None:
        item = self._get(f"ID#{schema_id}", "SCHEMA")
        return item["schema"]["S"] if item else None

    def versions(self, subject: str) -> list[SubjectVersion]:
        items = self._query(f"SUBJECT#{subject}")
        return [
            SubjectVersion(subject, int(i["sk"]["S"][2:]), int(i["schema_id"]["N"]), i["deleted"]["BOOL"])
            for i in items
        ]

    def add_version(self, entry: SubjectVersion) -> None:
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "ConditionExpression": "attribute_not_exists(sk)",
                            "Item": self._version_item(entry),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": {"S": "SUBJECTS"}, "sk": {"S": entry.subject}},
                        }
                    },
                ]
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "TransactionCanceledException":
                raise VersionTaken(entry.subject, entry.version) from err
            raise StoreError(str(err)) from err

    def mark_deleted(self, subject: str, version: int) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=self._version_key(subject, version),
            UpdateExpression="SET deleted = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    def remove_version(self, subject: str, version: int) -> None:
        self._db.delete_item(TableName=self._table, Key=self._version_key(subject, version))
        if not self._query(f"SUBJECT#{subject}"):
            self._db.delete_item(TableName=self._table, Key={"pk": {"S": "SUBJECTS"}, "sk": {"S": subject}})

    def subjects(self) -> list[str]:
        return sorted(i["sk"]["S"] for i in self._query("SUBJECTS"))

    def compatibility(self, subject: str | None) -> str | None:
        item = self._get("CONFIG", _config_key(subject))
        return item["level"]["S"] if item else None

    def set_compatibility(self, subject: str | None, level: str | None) -> None:
        key = {"pk": {"S": "CONFIG"}, "sk": {"S": _config_key(subject)}}
        if level is None:
            self._db.delete_item(TableName=self._table, Key=key)
        else:
            self._db.put_item(TableName=self._table, Item={**key, "level": {"S": level}})

    def _version_key(self, subject: str, version: int) -> dict[str, Any]:
        return {"pk": {"S": f"SUBJECT#{subject}"}, "sk": {"S": f"V#{version:0{_VERSION_WIDTH}d}"}}

    def _version_item(self, entry: SubjectVersion) -> dict[str, Any]:
        return {
            **self._version_key(entry.subject, entry.version),
            "schema_id": {"N": str(entry.schema_id)},
            "deleted": {"BOOL": entry.deleted},
        }

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return item

    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        ):
            items += page["Items"]
        return items
