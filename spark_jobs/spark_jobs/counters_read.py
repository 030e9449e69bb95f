"""The batch job's side of the counters (``trustpipe.counters``): the reputation of every sender
domain and /24 of an hour, read from the tiles as of the hour's day on the driver, so that the
hour is scored with the same tables the stream scorer reads for the same messages and tiles."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs import trust_columns
from trustpipe import counters
from trustpipe.model.artifact import ModelArtifact

log = logging.getLogger("trustpipe.batch")


def entities(df: DataFrame, artifact: ModelArtifact) -> set[tuple[str, str]]:
    """Every (aggregate, entity) the rows of ``df`` (v4) count towards, keyed as the features
    key them (``trustpipe.counters.entities``' twin)."""
    keyed = trust_columns.with_org_domains(
        df, {"_org": trust_columns.domain_of(F.col("from_address"))}, artifact.suffixes
    ).withColumn("_prefix", trust_columns.ip_prefix())
    rows = keyed.select("_org", "_prefix").distinct().collect()
    return {(counters.ORG, r["_org"]) for r in rows} | {(counters.NET, r["_prefix"]) for r in rows}


def with_counters(df: DataFrame, artifact: ModelArtifact, client: Any, day: date) -> ModelArtifact:
    """``artifact`` with the reputation tables of ``df``'s senders read from the counters as of
    ``day``; the artifact itself (its snapshot) when no build wrote the tiles or Redis does not
    answer (logged: the hour is scored, never stopped)."""
    try:
        counts = counters.read(client, entities(df, artifact), day)
    except counters.unavailable() as err:
        log.warning("counters unavailable, scoring the hour with the model's snapshot: %s", err)
        return artifact
    if counts is None:
        return artifact
    return replace(artifact, reputation=counters.reputation(counts, artifact.reputation.prior))
