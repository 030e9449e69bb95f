"""Scored-message rows as the scoring job writes them, for the importers' and the cluster's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

BASE = datetime(2026, 11, 20, 9, tzinfo=UTC)


def scored(
    n: int,
    prefix: str,
    model: str = "20261120T000000-a",
    scored_at: datetime = BASE,
    verdict: str = "PASS_THROUGH",
) -> list[dict[str, Any]]:
    return [
        {
            "message_id": f"<{prefix}-{i}@x>",
            "enterprise_id": ("acme", "globex", "initech")[i % 3],
            "received_at": BASE - timedelta(seconds=i),
            "scored_at": scored_at,
            "from_address": f"a{i}@partner.com",
            "from_display_name": "A",
            "from_domain": "partner.com",
            "reply_to": None,
            "sending_ip": "198.51.100.1",
            "score": (i % 100) / 100,
            "verdict": verdict,
            "reasons": ["spf_fail"] if i % 2 else [],
            "model_version": model,
            "model_promotion": 0,
            "source": "BATCH",
            "source_ref": "2026-11-20T08",
            "sensor_schema_version": 1 + i % 3,
        }
        for i in range(n)
    ]
