"""Staging an hour for the scoring job: hostile landing objects are set aside whole, each with its
``.reason.json``, while the good files of the same hour are staged for Spark; Spark reads only
what was judged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from spark_jobs.staging import stage_hour
from trustpipe import contracts, layout, s3
from trustpipe.aws import AwsClients
from trustpipe.codec import LANDING_LIMITS, container_bytes
from trustpipe.settings import Settings
from trustpipe_sensors import hostile
from trustpipe_sensors.app import run_batch

HOUR = layout.parse_hour("2026-11-26T05")
MiB = 1024 * 1024


def many_records(n: int) -> bytes:
    """An ordinary file, uncompressed: about 60 bytes a record."""
    records = (hostile.record(f"m-{i}") for i in range(n))
    return container_bytes(contracts.email_metadata(3), records, codec="null")


HOSTILE = {
    "bzip2-200MB-string": (lambda: hostile.long_string(200 * MiB, "bzip2"), "CodecNotAllowedError"),
    "deflate-block-over-cap": (lambda: hostile.long_string(8 * MiB), "OversizeBlockError"),
    "array-of-null": (hostile.null_array, "UnboundedSchemaError"),
    "huge-count": (hostile.huge_count, "ItemCountError"),
    "over-the-size-cap": (lambda: many_records(5000), "OversizeObjectError"),
}


def test_hostile_objects_are_set_aside_with_their_reasons_and_the_good_file_is_staged(
    settings: Settings, aws: AwsClients, tmp_path: Path
) -> None:
    # GIVEN an hour with a good drop and every hostile object beside it, under the same prefix
    bucket = settings.landing_bucket
    drops = run_batch(aws, HOUR, seed=7, enterprise_ids=["acme"], scale=0.02)
    prefix = layout.landing_hour_prefix("acme", HOUR)
    keys = {f"{prefix}quarter=9/{name}.avro": reason for name, (_, reason) in HOSTILE.items()}
    bodies = {f"{prefix}quarter=9/{name}.avro": build() for name, (build, _) in HOSTILE.items()}
    for key, body in bodies.items():
        s3.put(aws.s3, bucket, key, body)
    limits = replace(LANDING_LIMITS, max_object_bytes=256 * 1024)  # the good drop is well under
    # WHEN the hour is staged
    staged = stage_hour(aws.s3, bucket, HOUR, tmp_path / "input", limits=limits)
    # THEN each hostile object is set aside with its reason, moved with its bytes intact
    assert {a.key: a.reason.split(":")[0] for a in staged.set_aside} == keys
    for key in keys:
        assert s3.get(aws.s3, bucket, layout.set_aside_key(key)) == bodies[key]
        reason = json.loads(s3.get(aws.s3, bucket, layout.set_aside_key(key) + layout.REASON_SUFFIX))
        assert reason["reason"].startswith(keys[key] + ":")
        assert not list(s3.list_objects(aws.s3, bucket, key))
    # AND the good drops are staged whole for Spark, every record counted
    assert sorted(f.key for f in staged.files) == sorted(d.key for d in drops)
    assert staged.records == sum(d.records for d in drops) > 0
    assert all(Path(f.path).is_file() for f in staged.files)
