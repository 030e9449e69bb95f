"""The counters' tiles on fakeredis: keys no entity can forge, a redelivered batch that counts
nothing twice, a read that merges the window with the days after it, and the build's smoothing."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import fakeredis
import pytest

from trustpipe import counters
from trustpipe.counters import NET, ORG, Counts
from trustpipe.model.suffixes import SuffixList

TODAY = datetime.now(UTC).date()
"""Tiles expire at absolute times: the tests' days are the real ones."""
SUFFIXES = SuffixList.bundled()
# A key is the prefix, one hash tag and the rest: no brace, bar or colon inside the tag's entity.
KEY = re.compile(r"^tp:\{(org|net)\|[^{}|:]*\}:[dws](:\d{8})?$")


def message(n: int, sender: str = "news@mail.partner.com", ip: str = "198.51.100.7") -> dict[str, Any]:
    return {
        "message_id": f"<m{n}@x>",
        "from_address": sender,
        "sending_ip": ip,
        "received_at": datetime(TODAY.year, TODAY.month, TODAY.day, 9, n % 60, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    "entity",
    ["partner.com", "a}:b{c|d", "evil.com}:d:20261201", "", "\n\r\x00 ", "é.例え.jp", "\ud800x", "x" * 5000],
)
def test_any_entity_makes_a_key_of_one_hash_tag_it_cannot_close(entity: str) -> None:
    # GIVEN a sender domain as hostile as a decoded record can carry
    # WHEN it is keyed
    keys = [
        counters.day_key(ORG, entity, TODAY),
        counters.window_key(NET, entity, TODAY),
        counters.seen_key(ORG, entity, TODAY),
    ]
    # THEN each key has exactly one hash tag, the entity's, and stays short
    for key in keys:
        assert KEY.match(key), key
        assert len(key) < counters.MAX_ENCODED_CHARS + 40
    # and two entities never share a key
    assert counters.day_key(ORG, entity, TODAY) != counters.day_key(ORG, entity + "x", TODAY)


def test_an_unknown_aggregate_is_refused() -> None:
    with pytest.raises(ValueError, match="no aggregate"):
        counters.day_key("sender", "x", TODAY)


def test_the_same_batch_twice_leaves_the_seen_tiles_unchanged() -> None:
    # GIVEN a batch of ten messages from two senders, added once
    r = fakeredis.FakeRedis()
    batch = [("acme", message(i, sender=f"a@s{i % 2}.com"), SUFFIXES) for i in range(10)]
    _add(r, batch)
    first = {k: r.pfcount(k) for k in r.keys("*:s:*")}
    # WHEN the stream delivers it again, and a part of it a third time
    _add(r, batch)
    _add(r, batch[:3])
    # THEN every tile counts each message once
    assert {k: r.pfcount(k) for k in r.keys("*:s:*")} == first
    assert first[counters.seen_key(ORG, "s0.com", TODAY).encode()] == 5
    assert first[counters.seen_key(NET, "198.51.100", TODAY).encode()] == 10
    # and one message id at two enterprises is two messages
    _add(r, [("globex", message(0, sender="a@s0.com"), SUFFIXES)])
    assert r.pfcount(counters.seen_key(ORG, "s0.com", TODAY)) == 6
    # and every tile expires past the window
    assert all(r.ttl(k) > 0 for k in r.keys("*"))


def _add(r: Any, batch: list[tuple[str, dict[str, Any], SuffixList]]) -> None:
    pipe = r.pipeline(transaction=False)
    counters.add_seen(pipe, batch)
    pipe.execute()


def _read(r: Any, wanted: list[tuple[str, str]], today: date = TODAY) -> dict[tuple[str, str], Counts] | None:
    return counters.read(r, wanted, today)


def test_a_read_merges_the_window_with_the_days_after_it_and_nothing_before() -> None:
    # GIVEN a build through yesterday, and day tiles of yesterday (in the window) and today
    r = fakeredis.FakeRedis()
    yesterday = TODAY - timedelta(days=1)
    pipe = r.pipeline()
    counters.write_days(pipe, [(ORG, "partner.com", yesterday, 40, 4), (ORG, "partner.com", TODAY, 10, 6)])
    counters.write_windows(pipe, yesterday, [(ORG, "partner.com", 100, 5)])
    pipe.execute()
    # WHEN today's counts are read, with an entity that has none
    counts = _read(r, [(ORG, "partner.com"), (NET, "203.0.113"), (ORG, "partner.com")])
    # THEN the window's sum and today's tile add up, yesterday's is not counted twice
    assert counts == {(ORG, "partner.com"): Counts(110, 11), (NET, "203.0.113"): Counts(0, 0)}
    # and the day after the next build (through today), only that build's window counts
    pipe = r.pipeline()
    counters.write_windows(pipe, TODAY, [(ORG, "partner.com", 150, 15)])
    pipe.execute()
    assert _read(r, [(ORG, "partner.com")]) == {(ORG, "partner.com"): Counts(150, 15)}


def test_a_build_being_written_leaves_readers_on_the_previous_one_and_a_stale_build_says_nothing() -> None:
    # GIVEN a build through two days ago, and the next one's windows half written (not marked)
    r = fakeredis.FakeRedis()
    counters.write_build(r, [], TODAY - timedelta(days=2), [(ORG, "partner.com", 100, 5)])
    pipe = r.pipeline()
    counters.write_windows(pipe, TODAY - timedelta(days=1), [(ORG, "partner.com", 7, 7)], mark=False)
    pipe.execute()
    # WHEN read THEN the complete build counts
    assert _read(r, [(ORG, "partner.com")]) == {(ORG, "partner.com"): Counts(100, 5)}
    # and once the new build is marked, it does
    r.set(counters.BUILT_KEY, f"{TODAY - timedelta(days=1):%Y%m%d}")
    assert _read(r, [(ORG, "partner.com")]) == {(ORG, "partner.com"): Counts(7, 7)}
    # and a build older than BUILT_DAYS says nothing: the scorer keeps the model's snapshot
    assert _read(r, [(ORG, "partner.com")], TODAY + timedelta(days=counters.BUILT_DAYS)) is None


def test_tiles_no_build_wrote_say_nothing() -> None:
    # GIVEN a Redis with only the stream's tiles (no nightly build yet)
    r = fakeredis.FakeRedis()
    _add(r, [("acme", message(1), SUFFIXES)])
    # WHEN read THEN the read says nothing: the scorer keeps the artifact's snapshot
    assert _read(r, [(ORG, "partner.com")]) is None


def test_a_count_that_is_no_number_reads_as_none() -> None:
    r = fakeredis.FakeRedis()
    pipe = r.pipeline()
    counters.write_windows(pipe, TODAY, [(ORG, "partner.com", 100, 5)])
    pipe.execute()
    r.hset(counters.window_key(ORG, "partner.com", TODAY), mapping={"n": "lots", "bad": "-3"})
    assert _read(r, [(ORG, "partner.com")]) == {(ORG, "partner.com"): Counts(0, 0)}


def test_the_rates_are_the_builds_smoothed_rates_from_min_seen_on() -> None:
    # GIVEN counts either side of MIN_SEEN
    counts = {
        (ORG, "few.com"): Counts(counters.MIN_SEEN - 1, 2),
        (ORG, "bad.com"): Counts(20, 18),
        (NET, "198.51.100"): Counts(counters.MIN_SEEN, 0),
    }
    # WHEN they become reputation tables
    rep = counters.reputation(counts, prior=0.1)
    # THEN an entity seen too little is unseen, the others smoothed towards the prior
    assert "few.com" not in rep.domains
    assert rep.domains["bad.com"] == pytest.approx((18 + 0.1 * 5) / (20 + 5))
    assert rep.ip_prefixes["198.51.100"] == pytest.approx(0.5 / 8)
    assert rep.prior == 0.1


def test_a_message_counts_on_the_utc_day_it_was_received() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert counters.day_of({"received_at": late}) == date(2026, 12, 1)
    # 20:00 in New York on the 1st is 01:00 UTC on the 2nd
    evening = datetime(2026, 12, 1, 20, tzinfo=timezone(timedelta(hours=-5)))
    assert counters.day_of({"received_at": evening}) == date(2026, 12, 2)


def test_a_sample_is_drawn_from_every_tile_of_the_day_only() -> None:
    # GIVEN a hundred tiles of the day and one of the day before
    client = fakeredis.FakeRedis()
    for n in range(100):
        client.pfadd(counters.seen_key(counters.ORG, f"s{n}.com", TODAY), "m")
    client.pfadd(counters.seen_key(counters.ORG, "old.com", TODAY - timedelta(days=1)), "m")
    client.set("tp:unrelated", "x")
    # WHEN ten are sampled, twice with different seeds
    first = counters.sample_seen(client, TODAY, 10, random.Random(1))
    second = counters.sample_seen(client, TODAY, 10, random.Random(2))
    # THEN ten distinct tiles of the day, not always the same ten
    assert len(set(first)) == 10 and all(e.startswith("s") for _, e in first)
    assert first != second


def test_an_iam_token_is_a_presigned_connect_for_the_cache_remade_before_it_expires() -> None:
    import botocore.session

    # GIVEN AWS credentials and the counters' user on an ElastiCache replication group
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", "secret")
    ticks = [0.0]
    token = counters.IamToken("tp-counters", "tp-dev-counters", "eu-west-1", session, lambda: ticks[0])
    # WHEN a connection asks for credentials
    user, first = token.get_credentials()
    # THEN the user logs in with a SigV4-presigned `connect` for that group, valid 15 minutes
    assert user == "tp-counters"
    assert first.startswith(
        "tp-dev-counters/?Action=connect&User=tp-counters&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    )
    assert "X-Amz-Expires=900" in first and "%2Feu-west-1%2Felasticache%2Faws4_request" in first
    # and the same token serves until a third of its life is left, then a new one is made
    signed = []
    token._sign = lambda: signed.append(1) or "new"  # type: ignore[method-assign]
    ticks[0] = 500
    assert token.get_credentials()[1] == first and not signed
    ticks[0] = 601
    assert token.get_credentials()[1] == "new" and signed == [1]


def test_iam_authentication_needs_a_user_and_a_region() -> None:
    with pytest.raises(ValueError, match="needs the user"):
        counters.client("rediss://cache:6379/0", iam_cache="tp-dev-counters", region="eu-west-1")
    assert counters.client("rediss://u@cache:6379/0", iam_cache="tp-dev-counters", region="eu-west-1")
