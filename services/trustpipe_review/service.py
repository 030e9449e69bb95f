"""What the review API does, apart from HTTP: the enterprise's mail read from the search store,
and decisions that act (audit row, search document, release action, review label), once per
idempotency key. The enterprise is always the reviewer's (their token's)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from opensearchpy import OpenSearch

from trustpipe import tenants
from trustpipe_review.audit import Decision
from trustpipe_review.auth import Reviewer
from trustpipe_review.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from trustpipe_review.labels import WriteLabel
from trustpipe_search import queries
from trustpipe_search.queries import Filters, Hit

log = logging.getLogger("trustpipe.review")

Action = dict[str, Any]
RELEASE = "release"
DECISIONS = tuple(sorted(queries.DECISIONS))
MAX_IDEMPOTENCY_KEY = 128
"""An Idempotency-Key is a client's UUID or the like: 1-128 printable ASCII characters."""
MAX_CURSOR_CHARS = 6000
"""A cursor this API gave: base64 of a time and a message id (at most ``MAX_MESSAGE_ID_CHARS``)."""
SHOWN = (
    "message_id",
    "from_address",
    "from_display_name",
    "from_domain",
    "reply_to",
    "sending_ip",
    "score",
    "verdict",
    "reasons",
    "model_version",
    "model_promotion",
    "source",
    "decision",
    "decided_by",
)
"""A document's fields a reviewer sees (with its times as ISO 8601); not the object it came from."""


class Audit(Protocol):
    def find(self, enterprise_id: str, idempotency_key: str) -> Decision | None: ...

    def append(self, decision: Decision) -> tuple[Decision, bool]: ...

    def acted(self, decision_id: int, answer: dict[str, Any]) -> None: ...


def _iso(millis: Any) -> str | None:
    if millis is None:
        return None
    return datetime.fromtimestamp(int(millis) / 1000, UTC).isoformat().replace("+00:00", "Z")


def view(source: dict[str, Any]) -> dict[str, Any]:
    """A document as a reviewer sees it."""
    shown = {name: source.get(name) for name in SHOWN}
    for name in ("received_at", "scored_at", "decided_at"):
        shown[name] = _iso(source.get(name))
    return shown


def encode_cursor(after: list[Any] | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(after, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        after = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return queries.check_cursor(after)
    except (ValueError, UnicodeError, binascii.Error) as err:
        raise BadRequestError(
            "cursor is not one this API gave: pass the 'next' of the previous page"
        ) from err


def check_idempotency_key(key: str | None) -> str:
    if key is None or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not (key.isascii() and key.isprintable()):
        raise BadRequestError(
            f"the Idempotency-Key header is required: 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    return key


def release_action(source: dict[str, Any], issued_at: datetime) -> Action:
    """The RELEASE action (schemas/action.avsc) of a reviewed message: one per message and model
    verdict (its id), however many reviewers release it."""
    key = tenants.message_key(source["enterprise_id"], source["message_id"])
    promotion = int(source.get("model_promotion") or 0)
    return {
        "action_id": f"{key}/RELEASE/{source['model_version']}/{promotion}",
        "message_id": source["message_id"],
        "enterprise_id": source["enterprise_id"],
        "action": "RELEASE",
        "label_text": None,
        "score": float(source["score"]),
        "reasons": list(source.get("reasons") or []),
        "model_version": source["model_version"],
        "model_promotion": promotion,
        "issued_at": issued_at,
    }


@dataclass
class ReviewService:
    search: OpenSearch
    audit: Audit
    send_actions: Callable[[Sequence[Action]], None]
    """The alerter's channel: each action on its enterprise's FIFO queue, deduplicated by id."""
    write_label: WriteLabel
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def messages(self, reviewer: Reviewer, filters: Filters, size: int, cursor: str | None) -> dict[str, Any]:
        try:
            page = queries.messages(self.search, reviewer.enterprise_id, filters, size, decode_cursor(cursor))
        except ValueError as err:
            raise BadRequestError(str(err)) from err
        return {"messages": [view(h) for h in page.hits], "next": encode_cursor(page.after)}

    def message(self, reviewer: Reviewer, message_id: str) -> dict[str, Any]:
        return view(self._hit(reviewer, message_id).source)

    def _hit(self, reviewer: Reviewer, message_id: str) -> Hit:
        hit = queries.message(self.search, reviewer.enterprise_id, message_id)
        if hit is None:
            raise NotFoundError("no such message at your enterprise")
        return hit

    def hourly(self, reviewer: Reviewer, start: datetime, end: datetime) -> dict[str, Any]:
        counts = self._ranged(queries.hourly_verdicts, reviewer, start, end)
        hours = [
            {"hour": h.isoformat().replace("+00:00", "Z"), "verdicts": v} for h, v in sorted(counts.items())
        ]
        return {"hours": hours}

    def histogram(self, reviewer: Reviewer, start: datetime, end: datetime) -> dict[str, Any]:
        bins = self._ranged(queries.score_histogram, reviewer, start, end)
        return {"bin_width": queries.HISTOGRAM_WIDTH, "bins": bins}

    def sender_domains(self, reviewer: Reviewer, start: datetime, end: datetime, size: int) -> dict[str, Any]:
        try:
            top = queries.top_sender_domains(self.search, reviewer.enterprise_id, start, end, size)
        except ValueError as err:
            raise BadRequestError(str(err)) from err
        return {"domains": [{"domain": d, "messages": n} for d, n in top]}

    def _ranged(self, query: Callable[..., Any], reviewer: Reviewer, start: datetime, end: datetime) -> Any:
        try:
            return query(self.search, reviewer.enterprise_id, start, end)
        except ValueError as err:
            raise BadRequestError(str(err)) from err

    def decide(
        self, reviewer: Reviewer, message_id: str, decision: str, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """The decision's answer, and whether it is a replay (the key's first answer again)."""
        if not reviewer.may_decide:
            raise ForbiddenError(f"the role {reviewer.role!r} may not decide: only a reviewer may")
        key = check_idempotency_key(idempotency_key)
        if decision not in queries.DECISIONS:
            raise BadRequestError(f"decision must be one of {', '.join(DECISIONS)}")
        prior = self.audit.find(reviewer.enterprise_id, key)
        if prior is not None:
            return self._replay(prior, message_id, decision), True
        hit = self._hit(reviewer, message_id)
        row, new = self.audit.append(
            Decision(
                enterprise_id=reviewer.enterprise_id,
                message_id=message_id,
                idempotency_key=key,
                decision=decision,
                previous_verdict=str(hit.source["verdict"]),
                reviewer=reviewer.username,
                decided_at=self.clock(),
            )
        )
        if not new:
            return self._replay(row, message_id, decision), True
        return self._act(row, hit), False

    def _replay(self, row: Decision, message_id: str, decision: str) -> dict[str, Any]:
        if row.message_id != message_id or row.decision != decision:
            raise ConflictError("this Idempotency-Key was used for another message or decision")
        if row.answer is not None:
            return row.answer
        # its acts were interrupted: do them again (each is idempotent), then answer
        return self._act(row, self._hit_of(row))

    def _hit_of(self, row: Decision) -> Hit:
        hit = queries.message(self.search, row.enterprise_id, row.message_id)
        if hit is None:
            raise NotFoundError("no such message at your enterprise")
        return hit

    def _act(self, row: Decision, hit: Hit) -> dict[str, Any]:
        assert row.id is not None
        queries.record_decision(
            self.search, row.enterprise_id, hit, row.decision, row.decided_at, row.reviewer
        )
        released = row.decision == RELEASE
        if released:
            self.send_actions([release_action(hit.source, row.decided_at)])
        self.write_label(row.enterprise_id, row.message_id, row.decision, row.decided_at, row.reviewer)
        answer = {
            "decision_id": row.id,
            "message_id": row.message_id,
            "decision": row.decision,
            "previous_verdict": row.previous_verdict,
            "decided_by": row.reviewer,
            "decided_at": row.decided_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "release_sent": released,
        }
        self.audit.acted(row.id, answer)
        log.info("decision %s on a message of %s by %s", row.decision, row.enterprise_id, row.reviewer)
        return answer
