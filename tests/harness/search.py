"""The search store in tests: a fake of its bulk endpoint for unit tests (no network: it answers
each document of a bulk request by a rule, as OpenSearch answers per item), and a real engine's
URL for the contract suite and the integration tests (the emulator, or a cluster)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.serializer import JSONSerializer

from trustpipe_stack.servers import SearchServer

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


REAL_CLUSTER = "TRUSTPIPE_OPENSEARCH_URL"
"""Set to a scratch cluster's URL (http(s)://user:password@host:port) to run the contract suite
against real OpenSearch instead of the emulator."""


@pytest.fixture(scope="module")
def search_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A search engine's URL: ``TRUSTPIPE_OPENSEARCH_URL`` when set, else an emulator of this
    module's own (stopped by pid afterwards)."""
    real = os.environ.get(REAL_CLUSTER)
    if real:
        yield real
        return
    server = SearchServer(tmp_path_factory.mktemp("search"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def engine(url: str) -> OpenSearch:
    return OpenSearch(hosts=[url], timeout=30)
