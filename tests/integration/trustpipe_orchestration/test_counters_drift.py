"""The nightly drift check on a real redis-server and a real PostgreSQL: a sample of a day's
online tiles against the store's exact count of the stream's messages for each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.harness.databases import own_database
from tests.harness.redis_server import client_of, own_redis
from tests.harness.scored import scored
from trustpipe import counters
from trustpipe.db import migrate
from trustpipe.model.suffixes import SuffixList
from trustpipe_importer.load import SCORED_MESSAGE, TARGETS, upsert
from trustpipe_orchestration import counters_drift
from trustpipe_stack.servers import Postgres

SUFFIXES = SuffixList.bundled()
DAY = datetime.now(UTC).date()  # the tiles expire at absolute times
NOON = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    pg = Postgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


def row(n: int, sender: str, ip: str, source: str = "STREAM", when: datetime = NOON) -> dict[str, Any]:
    base = scored(1, f"d{n}")[0]
    domain = sender.rpartition("@")[2]
    return {**base, "from_address": sender, "from_domain": domain, "sending_ip": ip, "source": source,
            "received_at": when + timedelta(seconds=n)}  # fmt: skip


def test_the_sampled_tiles_are_compared_with_the_stores_exact_counts(
    server: Postgres, tmp_path: Path
) -> None:
    # GIVEN the stream's messages of the day stored (and some that must not count: another
    # sender whose domain contains the entity, a LIKE wildcard in a domain, a batch verdict and
    # the day before; a domain stored in capitals), and the same messages in the day's online tiles
    stream = [
        row(1, "a@mail.partner.com", "198.51.100.1"),
        row(2, "b@PARTNER.com", "198.51.100.2"),
        row(3, "c@notpartner.com", "198.51.100.3"),
        row(4, "d@part_er.com", "203.0.113.9"),
    ]
    others = [
        row(5, "e@partner.com", "198.51.100.4", source="BATCH"),
        row(6, "f@partner.com", "198.51.100.5", when=NOON - timedelta(days=1)),
    ]
    with own_database(server.url, "drift") as (url, _admin), own_redis(tmp_path / "redis") as redis_server:
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:
            upsert(conn, stream + others, TARGETS[SCORED_MESSAGE])
        client = client_of(redis_server)
        pipe = client.pipeline()
        counters.add_seen(pipe, [(r["enterprise_id"], r, SUFFIXES) for r in stream])
        pipe.execute()
        # WHEN the check compares every tile of the day
        with psycopg.connect(url) as conn:
            clean = counters_drift.check(client, conn, DAY, SUFFIXES, size=50)
            # and again once the stream counted two messages the store never got
            pipe = client.pipeline()
            lost = [row(n, "g@partner.com", "192.0.2.1") for n in (7, 8)]
            counters.add_seen(pipe, [(r["enterprise_id"], r, SUFFIXES) for r in lost])
            pipe.execute()
            drifted = counters_drift.check(client, conn, DAY, SUFFIXES, size=50)
    # THEN each tile's online count equals the store's exact count: no drift
    assert (counters.ORG, "partner.com", 2, 2) in clean.compared
    assert (counters.NET, "198.51.100", 3, 3) in clean.compared
    assert (counters.ORG, "part_er.com", 1, 1) in clean.compared
    assert clean.worst == 0.0 and len(clean.compared) == 5
    # and the lost verdicts show as drift, on their sender's tile and their /24's
    assert (counters.ORG, "partner.com", 4, 2) in drifted.compared
    assert drifted.worst == 2.0 and drifted.summary()["compared"] == 6
