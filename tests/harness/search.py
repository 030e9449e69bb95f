"""A fake of the search store's bulk endpoint for unit tests (no network): it answers each
document of a bulk request by a rule, as OpenSearch answers per item."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opensearchpy.serializer import JSONSerializer

Rule = Callable[[str, int], tuple[int, dict[str, Any] | None]]
"""(document id, how many times it was sent before) -> (status, error)."""


def created(_id: str, _seen: int) -> tuple[int, dict[str, Any] | None]:
    return 201, None


class FakeSearch:
    """``client.bulk`` with per-item answers from ``rule``; every request's documents kept."""

    def __init__(self, rule: Rule = created) -> None:
        self.rule = rule
        self.sent: list[list[dict[str, Any]]] = []
        self.seen: dict[str, int] = {}
        self.transport = type("Transport", (), {"serializer": JSONSerializer()})()

    def bulk(self, body: str, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        actions = [(line, lines[i + 1]) for i, line in enumerate(lines) if "index" in line and i % 2 == 0]
        self.sent.append([{"meta": a["index"], "doc": d} for a, d in actions])
        items = []
        for meta, _doc in actions:
            _id = meta["index"]["_id"]
            status, error = self.rule(_id, self.seen.get(_id, 0))
            self.seen[_id] = self.seen.get(_id, 0) + 1
            item: dict[str, Any] = {"_id": _id, "_index": meta["index"]["_index"], "status": status}
            if error is not None:
                item["error"] = error
            items.append({"index": item})
        return {"errors": any(i["index"]["status"] >= 300 for i in items), "items": items, "took": 1}
