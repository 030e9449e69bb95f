"""The review API in tests: an in-memory search store of a few documents, an in-memory audit
table, and the resolver driven with HTTP API events (no network)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from trustpipe_review.api import PageConfig, create_app, resolve
from trustpipe_review.audit import Decision
from trustpipe_review.local_server import _LocalContext, to_event
from trustpipe_review.service import ReviewService
from trustpipe_search import documents

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)


def doc(enterprise: str, message_id: str, verdict: str = "QUARANTINE", minute: int = 0) -> dict[str, Any]:
    millis = int(AT.timestamp() * 1000) + minute * 60_000
    return {
        "enterprise_id": enterprise,
        "message_id": message_id,
        "received_at": millis,
        "scored_at": millis + 1000,
        "from_address": "ceo@examp1e.com",
        "from_display_name": "The CEO",
        "from_domain": "examp1e.com",
        "reply_to": None,
        "sending_ip": "203.0.113.9",
        "score": 0.12,
        "verdict": verdict,
        "reasons": ["lookalike_domain"],
        "model_version": "m-7",
        "model_promotion": 3,
        "source": "stream",
        "source_ref": "kinesis://x",
        "sensor_schema_version": 4,
    }


class FakeSearch:
    """Answers the review queries' shapes from documents kept by id: ``ids`` and the
    enterprise's term honoured; every request body kept."""

    def __init__(self, *docs: dict[str, Any]) -> None:
        self.docs = {documents.doc_id(d["enterprise_id"], d["message_id"]): dict(d) for d in docs}
        self.bodies: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        filters = body["query"]["bool"]["filter"]
        enterprise = filters[0]["term"]["enterprise_id"]
        ids = next((f["ids"]["values"] for f in filters if "ids" in f), None)
        hits = [
            {
                "_index": documents.index_name(AT),
                "_id": i,
                "_source": d,
                "sort": [d["received_at"], d["message_id"]],
            }
            for i, d in sorted(self.docs.items(), key=lambda kv: -kv[1]["received_at"])
            if d["enterprise_id"] == enterprise and (ids is None or i in ids)
        ]
        return {
            "hits": {"total": {"value": len(hits)}, "hits": hits[: body.get("size", 10)]},
            "aggregations": {},
        }

    def update(self, index: str, id: str, body: dict[str, Any], params: Any = None) -> dict[str, Any]:
        self.updates.append({"index": index, "id": id, **body})
        self.docs[id].update(body["doc"])
        return {"result": "updated"}


@dataclass
class FakeAudit:
    rows: list[Decision] = field(default_factory=list)

    def find(self, enterprise_id: str, idempotency_key: str) -> Decision | None:
        return next(
            (
                r
                for r in self.rows
                if (r.enterprise_id, r.idempotency_key) == (enterprise_id, idempotency_key)
            ),
            None,
        )

    def append(self, decision: Decision) -> tuple[Decision, bool]:
        prior = self.find(decision.enterprise_id, decision.idempotency_key)
        if prior is not None:
            return prior, False
        row = replace(decision, id=len(self.rows) + 1)
        self.rows.append(row)
        return row, True

    def acted(self, decision_id: int, answer: dict[str, Any]) -> None:
        self.rows = [replace(r, answer=answer, acted_at=AT) if r.id == decision_id else r for r in self.rows]


def claims(enterprise: str = "acme", role: str = "reviewer") -> dict[str, Any]:
    return {
        "custom:enterprise": enterprise,
        "custom:role": role,
        "cognito:username": f"ann@{enterprise}.test",
    }


@dataclass
class Answer:
    status: int
    body: Any


class Api:
    """The app on fakes; each request carries the claims ``who`` names where the authorizer
    puts them, none when None."""

    def __init__(
        self,
        *docs: dict[str, Any],
        served: frozenset[str] = frozenset({"acme", "globex"}),
        page: PageConfig | None = None,
    ) -> None:
        self.search = FakeSearch(*docs)
        self.audit = FakeAudit()
        self.sent: list[dict[str, Any]] = []
        self.labels: list[tuple[Any, ...]] = []
        self.service = ReviewService(
            search=self.search,  # type: ignore[arg-type]
            audit=self.audit,
            send_actions=self.sent.extend,
            write_label=lambda *args: self.labels.append(args),
            clock=lambda: AT,
        )
        self.who: dict[str, Any] | None = claims()
        self.app = create_app(self.service, served, page)

    def call(
        self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        raw = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
        event = to_event(
            method, target, {"Content-Type": "application/json", **(headers or {})}, raw.encode(), "::1"
        )
        if self.who is not None:  # as API Gateway's JWT authorizer passes them on
            event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(self.who)}}
        result = resolve(self.app, event, _LocalContext())
        return Answer(int(result["statusCode"]), json.loads(result["body"]) if result.get("body") else None)
