"""Lambda's Kinesis events for tests: the recorded event (the documented shape, as Lambda invokes
a function on a Kinesis event source mapping) and events of the same shape for given payloads."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "kinesis_event.json"
FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898


def recorded() -> dict[str, Any]:
    event: dict[str, Any] = json.loads(RECORDED.read_text())
    return event


def event(*payloads: bytes, shard: str = "shardId-000000000006", first: int = 0) -> dict[str, Any]:
    """One record per payload, in the recorded record's shape, sequence numbers ascending."""
    template = recorded()["Records"][0]
    records = []
    for n, payload in enumerate(payloads, start=first):
        r = copy.deepcopy(template)
        sequence = str(FIRST_SEQUENCE + n)
        r["kinesis"].update(
            data=base64.b64encode(payload).decode(),
            sequenceNumber=sequence,
            partitionKey=f"acme/m-{n}",
            approximateArrivalTimestamp=1545084650.987 + n,
        )
        r["eventID"] = f"{shard}:{sequence}"
        records.append(r)
    return {"Records": records}


def sequence(n: int) -> str:
    """The sequence number of ``event``'s ``n``-th record."""
    return str(FIRST_SEQUENCE + n)
