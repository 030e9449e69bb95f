"""The scorer's counters reuse what they read for a while: senders repeat from batch to batch,
so most batches read only the senders they have not seen lately (fakeredis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis

from tests.harness.models import artifact
from trustpipe import counters
from trustpipe_scorer.fresh import FreshCounters

MODEL = artifact()
NOW = datetime.now(UTC)  # the tiles expire at absolute times


def message(n: int, sender: str) -> dict[str, Any]:
    return {
        "message_id": f"<m{n}@x>",
        "from_address": sender,
        "sending_ip": "198.51.100.7",
        "received_at": NOW,
    }


def build(client: Any, n: int, bad: int) -> None:
    counters.write_build(client, [], NOW.date() - timedelta(days=1), [(counters.ORG, "partner.com", n, bad)])


def test_counts_are_reused_for_the_cache_interval_then_read_again() -> None:
    # GIVEN a build that says partner.com is clean, read once by a scorer
    client, ticks = fakeredis.FakeRedis(), [0.0]
    build(client, 100, 0)
    fresh = FreshCounters(client, clock=lambda: ticks[0], cache_seconds=30)
    first = fresh.reputation(MODEL, [("acme", message(1, "a@partner.com"))], NOW.date())
    # WHEN the next build calls it malicious
    build(client, 100, 100)
    ticks[0] = 29
    cached = fresh.reputation(MODEL, [("acme", message(2, "b@partner.com"))], NOW.date())
    ticks[0] = 31
    read = fresh.reputation(MODEL, [("acme", message(3, "c@partner.com"))], NOW.date())
    # THEN the scorer keeps the counts it read for the interval, then reads the new ones
    assert first is not None and cached is not None and read is not None
    assert first.domains["partner.com"] == cached.domains["partner.com"] < 0.05
    assert read.domains["partner.com"] > 0.9
    # and every batch was counted in the seen tiles, cached or not
    assert client.pfcount(counters.seen_key(counters.ORG, "partner.com", NOW.date())) == 3


def test_no_build_is_remembered_for_the_interval_too() -> None:
    client, ticks = fakeredis.FakeRedis(), [0.0]
    fresh = FreshCounters(client, clock=lambda: ticks[0], cache_seconds=30)
    assert fresh.reputation(MODEL, [("acme", message(1, "a@partner.com"))], NOW.date()) is None
    build(client, 100, 0)
    ticks[0] = 10
    assert fresh.reputation(MODEL, [("acme", message(2, "a@partner.com"))], NOW.date()) is None
    ticks[0] = 31
    assert fresh.reputation(MODEL, [("acme", message(3, "a@partner.com"))], NOW.date()) is not None
    assert fresh.degraded == 0
