"""After the chaos run, the counters made exact again: the history's tiles written anew as the
nightly build writes them (``spark_jobs.runner.recount``, no training), then every sender domain
and /24 of the run's batch history read back and held to a count made apart from Spark, in
Python, from the same sensor files and ground truth. The run restarted the counters' Redis empty
among its disruptions; nothing the stream or the hourly job added since may stay wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from trustpipe import counters, landing, records, s3
from trustpipe.aws import AwsClients

SHOWN = 10
"""Entities whose counts differ named in the figures, at most."""


def after_build(aws: AwsClients, hours: list[datetime], spark: Any) -> dict[str, Any]:
    """The tiles of ``hours`` (consecutive) recounted, and how many entities read back other than
    their exact counts (``differ``: 0 when the counters are exact)."""
    client = counters.from_settings(aws.settings)
    if client is None:
        raise ValueError("the settings name no counters (redis_url)")
    with mark_kept(client):
        return _recounted(aws, client, hours, until=hours[-1] + timedelta(hours=1), spark=spark)


@contextmanager
def mark_kept(client: Any) -> Iterator[None]:
    """The counters' build mark as it was before the block: the chaos hours are the seed's own,
    years ahead, and a build or recount of them must not leave the stack's scorers without the
    build they read (``client`` None: no counters, nothing to keep)."""
    if client is None:
        yield
        return
    mark, ttl = client.get(counters.BUILT_KEY), client.pttl(counters.BUILT_KEY)
    try:
        yield
    finally:
        client.delete(counters.BUILT_KEY)
        if mark is not None and ttl > 0:
            client.set(counters.BUILT_KEY, mark, px=ttl)


def _recounted(
    aws: AwsClients, client: Any, hours: list[datetime], until: datetime, spark: Any
) -> dict[str, Any]:
    from spark_jobs import counters_read, runner

    tiles = runner.recount(aws, until, len(hours), spark)
    suffixes = runner.tile_suffixes(aws)
    exact: Counter[tuple[str, str, str]] = Counter()
    for hour in hours:
        labels = counters_read.hour_labels(aws.s3, aws.settings.archive_bucket, hour)
        for record in _records(aws, hour):
            malicious = labels.get((record["enterprise_id"], record["message_id"]))
            if malicious is None or records.broken(record, until) is not None:
                continue
            for aggregate, entity in counters.entities(record, suffixes).items():
                exact[(aggregate, entity, "n")] += 1
                exact[(aggregate, entity, "bad")] += malicious
    wanted = sorted({(a, e) for a, e, _ in exact})
    read = counters.read(client, wanted, tiles.through) or {}
    differ = [
        f"{a} {e}: read {read.get((a, e))}, exact ({exact[(a, e, 'n')]}, {exact[(a, e, 'bad')]})"
        for a, e in wanted
        if read.get((a, e)) != counters.Counts(exact[(a, e, "n")], exact[(a, e, "bad")])
    ]
    return {
        "entities": len(wanted),
        "through": tiles.through.isoformat(),
        "differ": len(differ),
        "differing": differ[:SHOWN],
    }


def _records(aws: AwsClients, hour: datetime) -> Any:
    """The v4 records of the hour's readable sensor files (those the build reads)."""
    bucket = aws.settings.landing_bucket
    for obj in landing.hour_keys(aws.s3, bucket, hour):
        body = s3.get(aws.s3, bucket, obj["Key"])
        if isinstance(landing.judge(obj["Key"], body), landing.LandedFile):
            yield from landing.read_records(body)[1]
