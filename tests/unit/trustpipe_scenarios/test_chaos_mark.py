"""The chaos run's builds and recounts of its own hours (years ahead) leave the counters' build
mark as the stack's scorers read it before (fakeredis)."""

from __future__ import annotations

from datetime import date

import fakeredis

from trustpipe import counters
from trustpipe_scenarios.chaos.exact import mark_kept


def test_a_build_of_the_chaos_hours_leaves_the_mark_as_it_was() -> None:
    client = fakeredis.FakeRedis()
    counters.write_build(client, [], date.today(), [])
    before, ttl = client.get(counters.BUILT_KEY), client.pttl(counters.BUILT_KEY)
    with mark_kept(client):
        counters.write_build(client, [], date(2034, 7, 25), [])
        assert client.get(counters.BUILT_KEY) == b"20340725"
    assert client.get(counters.BUILT_KEY) == before
    assert 0 < client.pttl(counters.BUILT_KEY) <= ttl


def test_no_mark_before_is_no_mark_after() -> None:
    client = fakeredis.FakeRedis()
    with mark_kept(client):
        counters.write_build(client, [], date(2034, 7, 25), [])
    assert client.get(counters.BUILT_KEY) is None
    with mark_kept(None):  # a stack without counters: nothing to keep
        pass
