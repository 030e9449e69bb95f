"""Fakes of AWS clients for unit tests (no network)."""

from __future__ import annotations

from typing import Any


class FakeKinesis:
    """Refuses the records whose partition key is in ``refuse`` for the first ``times`` calls."""

    def __init__(self, refuse: set[str] = frozenset(), times: int = 1) -> None:  # type: ignore[assignment]
        self.refuse, self.times = refuse, times
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: list[dict[str, Any]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        failing = len(self.calls) <= self.times
        out = []
        for r in Records:
            if failing and r["PartitionKey"] in self.refuse:
                out.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
                )
            else:
                self.stored.append(r)
                out.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-0"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in out), "Records": out}
