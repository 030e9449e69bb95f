"""The decisions' audit table (``review_decisions``, migration 0009): appended, one row per
(enterprise, idempotency key); a row is marked acted once all its acts are done."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

Connect = Callable[[], "psycopg.Connection[Any]"]

COLUMNS = (
    "id, enterprise_id, message_id, idempotency_key, decision, previous_verdict, reviewer, "
    "decided_at, acted_at, answer"
)

INSERT = (
    "INSERT INTO review_decisions (enterprise_id, message_id, idempotency_key, decision, "  # noqa: S608
    "previous_verdict, reviewer, decided_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    f"ON CONFLICT (enterprise_id, idempotency_key) DO NOTHING RETURNING {COLUMNS}"
)


@dataclass(frozen=True)
class Decision:
    enterprise_id: str
    message_id: str
    idempotency_key: str
    decision: str
    previous_verdict: str
    reviewer: str
    decided_at: datetime
    id: int | None = None
    acted_at: datetime | None = None
    answer: dict[str, Any] | None = None


class AuditLog:
    """The table on psycopg connections (one per call: decisions are few)."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def find(self, enterprise_id: str, idempotency_key: str) -> Decision | None:
        """The decision taken under this key at this enterprise, if any."""
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                f"SELECT {COLUMNS} FROM review_decisions "  # noqa: S608 - the module's own columns
                "WHERE enterprise_id = %s AND idempotency_key = %s",
                (enterprise_id, idempotency_key),
            ).fetchone()
        return Decision(**row) if row else None

    def append(self, decision: Decision) -> tuple[Decision, bool]:
        """The row of ``decision``'s key: its own, appended now (True), or the one a concurrent
        request with the same key appended first (False)."""
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                INSERT,
                (
                    decision.enterprise_id,
                    decision.message_id,
                    decision.idempotency_key,
                    decision.decision,
                    decision.previous_verdict,
                    decision.reviewer,
                    decision.decided_at,
                ),
            ).fetchone()
        if row is not None:
            return Decision(**row), True
        first = self.find(decision.enterprise_id, decision.idempotency_key)
        assert first is not None  # the conflict was with it; rows are never deleted
        return first, False

    def acted(self, decision_id: int, answer: dict[str, Any]) -> None:
        """Mark the decision's acts done, with the answer every replay of its key gets."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE review_decisions SET acted_at = now(), answer = %s "
                "WHERE id = %s AND acted_at IS NULL",
                (json.dumps(answer), decision_id),
            )
