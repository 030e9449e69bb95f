"""The record rules' parity: the scoring job's Spark columns (generated from the rule table) and
the scorer's Python check set aside the same records with the same reasons, exactly at each
bound and one past it, and for any records hypothesis finds (a small property on one file)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyspark.sql import functions as F

from spark_jobs.score_messages import REASON, read_v4, with_record_rules
from tests.harness.hostile import REFERENCE, bounded, edge_cases, v4_records
from trustpipe import contracts, records
from trustpipe.codec import ContainerReader, container_bytes


def spark_reasons(spark: Any, path: Path, rows: list[dict[str, Any]]) -> list[str | None]:
    """Each row's reason from the job's own steps: the v4 read, then the rules (channel kept)."""
    path.write_bytes(container_bytes(contracts.reader_schema(), rows))
    df = read_v4(spark, [str(path)]).withColumn(REASON, F.lit(None).cast("string"))
    return [r[REASON] for r in with_record_rules(df, REFERENCE).select(REASON).collect()]


def python_reasons(path: Path) -> list[str | None]:
    """Each row's reason from the scorer's check, on the rows as Python decodes them."""
    out = []
    for record in ContainerReader(io.BytesIO(path.read_bytes()), contracts.reader_schema()):
        rule = records.broken(record, REFERENCE)
        out.append(rule.reason if rule else None)
    return out


def test_both_engines_decide_every_edge_case_alike(spark: Any, tmp_path: Path) -> None:
    # GIVEN every rule's records exactly at its bounds and one past, in one landing file
    cases = edge_cases()
    path = tmp_path / "edges.avro"
    # WHEN the job's columns and the scorer's check judge them
    got = spark_reasons(spark, path, [record for _, record, _ in cases])
    # THEN both set aside the same records with the same reasons, the rule each case expects
    expected = [
        next(r.reason for r in records.RULES if r.name == rule) if rule else None for *_, rule in cases
    ]
    assert python_reasons(path) == expected
    assert dict(zip([c for c, *_ in cases], got, strict=True)) == dict(
        zip([c for c, *_ in cases], expected, strict=True)
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rules-property")


@bounded(3)
@given(rows=st.lists(v4_records(), min_size=1, max_size=12))
def test_any_records_are_judged_alike_by_both_engines(
    spark: Any, folder: Path, rows: list[dict[str, Any]]
) -> None:
    path = folder / "rows.avro"
    got = spark_reasons(spark, path, rows)
    assert got == python_reasons(path)
