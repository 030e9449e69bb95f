"""The batch job adds the hour's ground truth to the counters once the hour is scored (local
Spark, a real redis-server): each label on its message's day tiles, once however often the hour
runs (as closely as a day's HyperLogLogs count: the next build's tiles are exact); a label of no
message of the hour, or under another enterprise, counts nothing."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from spark_jobs import counters_read
from spark_jobs.score_messages import read_v4
from tests.harness.redis_server import client_of, own_redis
from trustpipe import contracts, counters, layout
from trustpipe.codec import ContainerReader, container_bytes
from trustpipe_sensors.handmade_model import artifact
from trustpipe_sensors.sensor import generate_quarter
from trustpipe_sensors.world import World

pytestmark = pytest.mark.integration
MODEL = artifact()


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[dict[str, Any]]]:
    """A quarter of every enterprise's traffic received today (tiles expire at absolute times), as
    one v4 file, and its records."""
    world = World.build(5)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    records = [
        {
            **m.record,
            "received_at": m.record["received_at"].replace(year=now.year, month=now.month, day=now.day),
        }
        for ent in world.enterprises.values()
        for m in generate_quarter(world, ent, layout.quarter_starts(now)[0], seed=5)
    ]
    path = tmp_path_factory.mktemp("labels") / "hour.avro"
    path.write_bytes(container_bytes(contracts.reader_schema(), records))
    read = list(ContainerReader(io.BytesIO(path.read_bytes()), contracts.reader_schema()))
    return [str(path)], read


def tiles(client: Any, records: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    keys = {
        counters.day_key(a, e, counters.day_of(r))
        for r in records
        for a, e in counters.entities(r, MODEL.suffixes).items()
    }
    out = {}
    for key in sorted(keys):
        n, bad = client.hmget(key, "n", "bad")
        out[key] = (int(n or 0), int(bad or 0))
    return out


def close(counted: int, exact: int) -> bool:
    """Within three of HyperLogLog's standard errors (0.81%), or one."""
    return abs(counted - exact) <= max(1, round(0.025 * exact))


def test_the_hours_labels_land_on_their_days_tiles_once(
    spark: Any, hour: tuple[list[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    paths, records = hour
    scored = read_v4(spark, paths)
    # GIVEN labels for two thirds of the hour's messages (a third of those malicious), one for a
    # message the hour does not hold, and one filed as another enterprise's for a real message id
    labelled = records[: 2 * len(records) // 3]
    labels = {(r["enterprise_id"], r["message_id"]): i % 3 == 0 for i, r in enumerate(labelled)}
    labels[("acme", "<not-in-this-hour@x>")] = True
    other = next(e for e in {r["enterprise_id"] for r in records} if e != records[-1]["enterprise_id"])
    labels[(other, records[-1]["message_id"])] = True
    with own_redis(tmp_path / "redis") as server:
        client = client_of(server)
        # WHEN the hour adds them, and a rerun of the hour adds them again
        added = counters_read.add_hour_labels(scored, labels, MODEL, client)
        first = tiles(client, records)
        assert counters_read.add_hour_labels(scored, labels, MODEL, client) == added
        # THEN each entity's day tile counts its labelled messages and the malicious ones, exactly
        want: Counter[tuple[str, int]] = Counter()
        for i, r in enumerate(labelled):
            for a, e in counters.entities(r, MODEL.suffixes).items():
                key = counters.day_key(a, e, counters.day_of(r))
                want[(key, 0)] += 1
                want[(key, 1)] += i % 3 == 0
        assert added == len(labelled)
        assert {k for k, _ in want} <= first.keys()
        for key, (n, bad) in first.items():  # (a day's tiles count with HyperLogLogs: 0.81% error)
            assert close(n, want[(key, 0)]) and close(bad, want[(key, 1)]), key
        # and the rerun changed nothing
        assert tiles(client, records) == first
    # WHEN Redis is gone, THEN the hour adds nothing and goes on
    assert counters_read.add_hour_labels(scored, labels, MODEL, client) == 0
