"""The scorer's counters reuse what they read for a while: senders repeat from batch to batch,
so most batches read only the senders they have not seen lately (fakeredis)."""

from __future__ import annotations

from collections import Counter
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


class Counted:
    """A client whose pipelines count the commands queued on them, by name."""

    def __init__(self, client: Any) -> None:
        self.client, self.commands = client, Counter[str]()

    def get(self, key: str) -> Any:
        self.commands["get"] += 1
        return self.client.get(key)

    def pipeline(self, transaction: bool = False) -> Any:
        pipe, commands = self.client.pipeline(transaction=transaction), self.commands

        class Queued:
            def __getattr__(self, name: str) -> Any:
                attr = getattr(pipe, name)
                if name == "execute":
                    return attr

                def queue(*args: Any, **kwargs: Any) -> Any:
                    commands[name] += 1
                    return attr(*args, **kwargs)

                return queue

        return Queued()


def test_a_read_takes_the_builds_tiles_only_and_a_new_build_is_read_at_once() -> None:
    # GIVEN a build through yesterday, and a scorer that has read nothing yet
    client, ticks = Counted(fakeredis.FakeRedis()), [0.0]
    build(client.client, 100, 0)
    fresh = FreshCounters(client, clock=lambda: ticks[0], cache_seconds=30)
    # WHEN it reads a sender (and its /24) the first time, and again after the cache interval
    assert fresh.reputation(MODEL, [("acme", message(1, "a@partner.com"))], NOW.date()) is not None
    first = client.commands["hmget"]
    ticks[0] = 31
    assert fresh.reputation(MODEL, [("acme", message(2, "a@partner.com"))], NOW.date()) is not None
    # THEN each read took the build's window and the day after it only (its mark read first)
    assert first == client.commands["hmget"] - first == 2 * 2
    # WHEN a new build, through today, calls the sender malicious
    counters.write_build(client.client, [], NOW.date(), [(counters.ORG, "partner.com", 100, 100)])
    ticks[0] = 62
    read = fresh.reputation(MODEL, [("acme", message(3, "a@partner.com"))], NOW.date())
    # THEN the very next read finds it (its reads for the old build read again, for the new one)
    assert read is not None and read.domains["partner.com"] > 0.9
    assert fresh.reputation(MODEL, [("acme", message(4, "a@partner.com"))], NOW.date()) == read


def test_a_seen_tiles_expiry_is_set_once_per_interval_and_again_after_redis_failed() -> None:
    server = fakeredis.FakeServer()
    client, ticks = Counted(fakeredis.FakeRedis(server=server)), [0.0]
    build(client.client, 100, 0)
    fresh = FreshCounters(client, clock=lambda: ticks[0], cache_seconds=30)
    for n in range(3):  # three batches within the interval: the org's and the /24's tile, once
        fresh.reputation(MODEL, [("acme", message(n, "a@partner.com"))], NOW.date())
        ticks[0] += 1
    assert client.commands["expireat"] == 2 and client.commands["pfadd"] == 3 * 2
    ticks[0] = 31
    fresh.reputation(MODEL, [("acme", message(9, "a@partner.com"))], NOW.date())
    assert client.commands["expireat"] == 4
    # WHEN Redis fails a batch, THEN the next batch after it sets the expiries again
    server.connected = False
    assert fresh.reputation(MODEL, [("acme", message(10, "a@partner.com"))], NOW.date()) is None
    server.connected = True
    ticks[0] += counters.RETRY_AFTER_SECONDS + 1
    fresh.reputation(MODEL, [("acme", message(11, "a@partner.com"))], NOW.date())
    assert client.commands["expireat"] == 4 + 2  # (the failed batch, within the interval, set none)
    # and every seen tile has its expiry
    assert all(client.client.ttl(k) > 0 for k in client.client.keys("*:s:*"))
