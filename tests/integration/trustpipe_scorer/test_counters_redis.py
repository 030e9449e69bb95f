"""The counters on a real redis-server: a redelivered batch leaves them unchanged, a server
stopped mid-stream leaves the scorer on the model's snapshot (counted) until it is back, and the
tiles the build writes are what the scorer reads."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.harness.models import artifact
from tests.harness.redis_server import client_of, own_redis, port_of
from trustpipe import counters
from trustpipe.model.scorer import TrustModel
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_sensors.generator import MessageFactory
from trustpipe_sensors.world import World
from trustpipe_stack.servers import RedisServer

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
"""Tiles expire at absolute times: the tests' days are the real ones."""
MODEL = artifact(domain_reputation=6.0, ip_reputation=2.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with own_redis(tmp_path_factory.mktemp("redis")) as s:
        yield s


def batch(n: int, seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
    world = World.build(3)
    out = []
    for i in range(n):
        ent = list(world.enterprises.values())[i % 3]
        m = MessageFactory(world, ent, random.Random(seed * 1000 + i)).make(NOW)
        out.append((ent.enterprise_id, m.record))
    return out


def seen(client: Any) -> dict[bytes, int]:
    return {k: client.pfcount(k) for k in client.scan_iter(match="tp:*:s:*")}


def test_the_same_batch_twice_leaves_the_counters_unchanged(server: RedisServer) -> None:
    # GIVEN a batch the scorer counted
    client = client_of(server)
    client.flushdb()
    fresh = FreshCounters(client)
    messages = batch(200)
    fresh.reputation(MODEL, messages, NOW.date())
    first = seen(client)
    # WHEN the stream redelivers it (whole, and its first half once more)
    fresh.reputation(MODEL, messages, NOW.date())
    fresh.reputation(MODEL, messages[:100], NOW.date())
    # THEN no tile moved, and the tiles count the batch's messages, each once per aggregate
    assert seen(client) == first
    for aggregate in counters.AGGREGATES:
        tag = f"tp:{{{aggregate}|".encode()
        assert sum(v for k, v in first.items() if k.startswith(tag)) == len(messages)
    assert fresh.degraded == 0


def test_a_redis_stopped_mid_stream_leaves_the_scorer_on_the_snapshot_until_it_is_back(
    server: RedisServer, tmp_path: Path
) -> None:
    # GIVEN built tiles that call every sender of the stream malicious
    client = client_of(server)
    client.flushdb()
    messages = batch(60, seed=1)
    orgs = {counters.entities(m, MODEL.suffixes)[counters.ORG] for _, m in messages}
    pipe = client.pipeline()
    counters.write_windows(pipe, NOW.date() - timedelta(days=1), [(counters.ORG, o, 40, 40) for o in orgs])
    pipe.execute()
    ticks = [0.0]
    fresh = FreshCounters(client, retry_after=10, clock=lambda: ticks[0])
    model = TrustModel(MODEL)
    first, second, third = messages[:20], messages[20:40], messages[40:]
    # WHEN the stream runs, the server is stopped mid-stream, and started again on its port
    up = fresh.reputation(MODEL, first, NOW.date())
    port = port_of(server)
    server.stop()
    down = fresh.reputation(MODEL, second, NOW.date())
    server.start(port)
    ticks[0] = 5
    still_waiting = fresh.reputation(MODEL, third[:5], NOW.date())
    ticks[0] = 11
    back = fresh.reputation(MODEL, third[5:], NOW.date())
    # THEN while it was up the counters scored, while down (and the interval after) the snapshot
    # did, each message so scored counted as degraded
    assert up is not None
    assert down is None and still_waiting is None
    assert fresh.degraded == len(second) + 5
    for _, m in first:
        assert model.score(m, up).score > model.score(m).score
    # and once back, Redis is asked again: it counts the batch, but the restarted server (in
    # memory only) knows no build's tiles, so the scorer keeps the snapshot rather than call
    # every sender unseen, without counting that as degraded
    assert back is None and fresh.degraded == len(second) + 5
    assert sum(seen(client).values()) == 2 * len(third[5:])
    # until the next build writes them again (and the scorer, which remembers that none were for
    # its cache's 30 s, reads again)
    ticks[0] = 11 + fresh.cache_seconds + 1
    pipe = client.pipeline()
    counters.write_windows(pipe, NOW.date() - timedelta(days=1), [(counters.ORG, o, 40, 40) for o in orgs])
    pipe.execute()
    again = fresh.reputation(MODEL, third, NOW.date())
    assert again is not None
    assert all(model.score(m, again).score > model.score(m).score for _, m in third)


def test_a_build_whose_windows_have_expired_leaves_no_mark(server: RedisServer) -> None:
    # GIVEN a build of history long past (a backfill, or simulated days), written today
    client = client_of(server)
    client.flushdb()
    long_ago = NOW.date() - timedelta(days=30)
    counters.write_build(client, [], long_ago, [(counters.ORG, "partner.com", 100, 90)])
    # WHEN the batch job reads as of that day THEN the tiles say nothing (the model's snapshot
    # scores), rather than call every sender unseen
    assert client.get(counters.BUILT_KEY) is None
    assert counters.read(client, [(counters.ORG, "partner.com")], long_ago) is None


def test_labels_landing_today_reach_the_scorer_once_each(server: RedisServer) -> None:
    # GIVEN a build through yesterday that has never seen a sender of today's stream
    client = client_of(server)
    client.flushdb()
    counters.write_build(client, [], NOW.date() - timedelta(days=1), [(counters.ORG, "partner.com", 100, 5)])
    messages = [(e, {**m, "from_address": "x@new-campaign.top"}) for e, m in batch(12, seed=2)]
    fresh = FreshCounters(client, cache_seconds=0)
    before = fresh.reputation(MODEL, messages, NOW.date())
    # WHEN their labels land (eight malicious), twice over, and one is relabelled malicious
    labels = [(e, m, MODEL.suffixes, i < 8) for i, (e, m) in enumerate(messages)]
    for _ in range(2):
        pipe = client.pipeline(transaction=False)
        counters.add_labels(pipe, labels)
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    counters.add_labels(pipe, [(*labels[-1][:3], True)])
    pipe.execute()
    after = fresh.reputation(MODEL, messages, NOW.date())
    # THEN today's day tile counts each label once, and the scorer reads the sender's rate
    org = (counters.ORG, "new-campaign.top")
    assert counters.read(client, [org], NOW.date()) == {org: counters.Counts(12, 9)}
    assert before is not None and "new-campaign.top" not in before.domains
    assert after is not None
    assert after.domains["new-campaign.top"] == counters.rate(counters.Counts(12, 9), MODEL.reputation.prior)
    scorer = TrustModel(MODEL)
    assert all(scorer.score(m, after).score > scorer.score(m, before).score for _, m in messages)
    # and every labelled tile expires past the window
    assert all(client.ttl(k) > 0 for k in client.scan_iter(match="tp:*:[lbd]:*"))
    # and the next build's exact tiles replace the day's labels (read through its window)
    counters.write_build(client, [], NOW.date(), [(*org, 30, 1)])
    assert counters.read(client, [org], NOW.date()) == {org: counters.Counts(30, 1)}


def test_labels_of_thousands_of_messages_from_one_sender_land_in_parts(server: RedisServer) -> None:
    # GIVEN labels of more messages of one sender and day than a script call takes
    client = client_of(server)
    client.flushdb()
    counters.write_build(client, [], NOW.date() - timedelta(days=1), [])
    base = batch(1, seed=3)[0][1]
    many = [("acme", {**base, "message_id": f"<{i}@x>"}, MODEL.suffixes, i % 2 == 0) for i in range(2500)]
    # WHEN they land in one pipeline
    pipe = client.pipeline(transaction=False)
    counters.add_labels(pipe, many)
    pipe.execute()
    # THEN the day counts them all (HyperLogLog: within its error)
    org = (counters.ORG, counters.entities(base, MODEL.suffixes)[counters.ORG])
    got = counters.read(client, [org], NOW.date())
    assert got is not None
    assert abs(got[org].n - 2500) <= 25 and abs(got[org].bad - 1250) <= 13
