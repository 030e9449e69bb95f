"""The scoring job's steps on tiny DataFrames: the ScoredMessage shape and the hour's stats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import types as T

from spark_jobs.score_messages import hour_stats, to_scored_messages
from trustpipe.landing import SetAside

SCORED_AT = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 26, 13, 1, tzinfo=UTC)

SCORED_ROWS = T.StructType(
    [
        T.StructField("message_id", T.StringType()),
        T.StructField("enterprise_id", T.StringType()),
        T.StructField("received_at", T.TimestampType()),
        T.StructField("from_address", T.StringType()),
        T.StructField("from_display_name", T.StringType()),
        T.StructField("reply_to", T.StringType()),
        T.StructField("sending_ip", T.StringType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("verdict", T.StringType()),
        T.StructField("reasons", T.ArrayType(T.StringType())),
        T.StructField("_file", T.StringType()),
    ]
)


def scored(spark: Any) -> Any:
    rows = [
        (
            "m1",
            "acme",
            RECEIVED,
            "ann@Mail.Example.co.uk",
            "Ann",
            None,
            "192.0.2.1",
            0.97,
            "QUARANTINE",
            ["lookalike_domain"],
            "00000-acme.avro",
        ),
        (
            "m2",
            "acme",
            RECEIVED,
            "bob@acme.com",
            "Bob",
            "bob@acme.com",
            "192.0.2.2",
            0.10,
            "PASS_THROUGH",
            [],
            "00000-acme.avro",
        ),
        (
            "m3",
            "globex",
            RECEIVED,
            "eve@evil.test",
            "Eve",
            None,
            "198.51.100.7",
            0.61,
            "LABEL",
            ["reply_to_mismatch"],
            "00001-globex.avro",
        ),
    ]
    return spark.createDataFrame(rows, SCORED_ROWS)


def test_to_scored_messages_is_the_scored_message_shape(spark: Any) -> None:
    # GIVEN scored rows from two files of two sensor versions
    versions = {"00000-acme.avro": 1, "00001-globex.avro": 2}
    # WHEN they take the ScoredMessage shape
    out = to_scored_messages(scored(spark), "v7", "2026-11-26T13", SCORED_AT, versions, 12)
    # THEN each row carries the hour, the model and its promotion, the source and its file's
    # sensor version
    expected = spark.createDataFrame(
        [
            (
                "m1",
                "acme",
                RECEIVED,
                SCORED_AT,
                "ann@Mail.Example.co.uk",
                "Ann",
                "mail.example.co.uk",
                None,
                "192.0.2.1",
                0.97,
                "QUARANTINE",
                ["lookalike_domain"],
                "v7",
                12,
                "BATCH",
                "2026-11-26T13",
                1,
            ),
            (
                "m2",
                "acme",
                RECEIVED,
                SCORED_AT,
                "bob@acme.com",
                "Bob",
                "acme.com",
                "bob@acme.com",
                "192.0.2.2",
                0.10,
                "PASS_THROUGH",
                [],
                "v7",
                12,
                "BATCH",
                "2026-11-26T13",
                1,
            ),
            (
                "m3",
                "globex",
                RECEIVED,
                SCORED_AT,
                "eve@evil.test",
                "Eve",
                "evil.test",
                None,
                "198.51.100.7",
                0.61,
                "LABEL",
                ["reply_to_mismatch"],
                "v7",
                12,
                "BATCH",
                "2026-11-26T13",
                2,
            ),
        ],
        out.schema,
    )
    assert out.columns == [
        "message_id",
        "enterprise_id",
        "received_at",
        "scored_at",
        "from_address",
        "from_display_name",
        "from_domain",
        "reply_to",
        "sending_ip",
        "score",
        "verdict",
        "reasons",
        "model_version",
        "model_promotion",
        "source",
        "source_ref",
        "sensor_schema_version",
    ]
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_hour_stats_count_verdicts_per_enterprise_with_what_was_set_aside(spark: Any) -> None:
    # GIVEN the hour's scored messages and one unreadable acme file set aside
    out = to_scored_messages(scored(spark), "v7", "2026-11-26T13", SCORED_AT, {"00000-acme.avro": 1})
    aside = [SetAside("messages/enterprise=acme/x.avro", "acme", "TruncatedRecordError: eof", 12)]
    # WHEN the stats are computed
    stats = hour_stats(out, "v7", "2026-11-26T13", aside, SCORED_AT)
    # THEN one row per enterprise, the verdicts adding up to its messages
    assert [
        (s["enterprise_id"], s["messages"], s["quarantined"], s["labelled"], s["passed"], s["set_aside"])
        for s in stats
    ] == [("acme", 2, 1, 0, 1, 12), ("globex", 1, 0, 1, 0, 0)]
    assert stats[0]["mean_score"] == (0.97 + 0.10) / 2
    assert {(s["hour"], s["model_version"], s["computed_at"]) for s in stats} == {
        ("2026-11-26T13", "v7", SCORED_AT)
    }
