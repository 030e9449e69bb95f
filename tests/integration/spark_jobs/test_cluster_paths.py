"""The scoring job's cluster paths on the moto server: landing files validated in place (Spark on
EMR reads s3:// itself), and parts published from the s3:// work prefix Spark wrote them to."""

from __future__ import annotations

import io
import json

import fastavro

from spark_jobs.score_messages import HourResult, publish_work
from spark_jobs.staging import stage_hour
from tests.harness.scored import scored
from trustpipe import contracts, layout, s3
from trustpipe.aws import AwsClients
from trustpipe.codec import container_bytes
from trustpipe.layout import MANIFEST, scored_hour_prefix
from trustpipe.settings import Settings
from trustpipe_sensors.app import run_batch

HOUR = layout.parse_hour("2026-11-26T07")


def test_staging_on_a_cluster_points_spark_at_the_judged_bytes_in_the_work_prefix(
    settings: Settings, aws: AwsClients
) -> None:
    # GIVEN an hour landed by one sensor and one unreadable object beside it
    drops = run_batch(aws, HOUR, seed=31, enterprise_ids=["initech"], scale=0.02)
    bad = layout.landing_key("initech", HOUR).replace(".avro", "-bad.avro")
    s3.put(aws.s3, settings.landing_bucket, bad, b"not avro")
    landed = {d.key: s3.get(aws.s3, settings.landing_bucket, d.key) for d in drops}
    work = f"s3://{settings.scored_bucket}/_work/{layout.format_hour(HOUR)}/input"
    # WHEN it is staged for a cluster (an s3:// work prefix)
    staged = stage_hour(aws.s3, settings.landing_bucket, HOUR, work)
    # THEN every good file is staged as judged under the work prefix, never read where it landed
    # (its sensor could replace it after the judgement), and the bad one is quarantined
    assert all(f.path.startswith(work + "/") for f in staged.files)
    copies = {f.key: s3.get(aws.s3, settings.scored_bucket, f.path.split("/", 3)[3]) for f in staged.files}
    assert copies == landed
    assert staged.records == sum(d.records for d in drops)
    assert [a.key for a in staged.set_aside] == [bad]
    for f in staged.files:
        aws.s3.delete_object(Bucket=settings.scored_bucket, Key=f.path.split("/", 3)[3])


def test_parts_in_the_work_prefix_are_published_and_the_prefix_cleared(
    settings: Settings, aws: AwsClients
) -> None:
    # GIVEN what Spark leaves in an s3:// output directory: two parts and its marker files
    out = f"s3://{settings.scored_bucket}/_work/{layout.format_hour(HOUR)}"
    schema = contracts.load(contracts.SCORED_MESSAGE)
    work = f"_work/{layout.format_hour(HOUR)}/messages/"
    s3.put(
        aws.s3, settings.scored_bucket, f"{work}part-00001-abc.avro", container_bytes(schema, scored(3, "w1"))
    )
    s3.put(
        aws.s3, settings.scored_bucket, f"{work}part-00000-abc.avro", container_bytes(schema, scored(5, "w0"))
    )
    s3.put(aws.s3, settings.scored_bucket, f"{work}_SUCCESS", b"")
    result = HourResult(
        layout.format_hour(HOUR), "m1", "2026-11-26T08:01:00+00:00", records_in=8, records_out=8
    )
    # WHEN the job publishes from there
    publish_work(aws.s3, out, settings.scored_bucket, HOUR, result)
    # THEN the parts are under their stable names, in order, with the manifest last
    prefix = scored_hour_prefix(HOUR)
    assert [(f["key"], f["records"]) for f in result.files] == [
        (f"{prefix}messages/part-00000.avro", 5),
        (f"{prefix}messages/part-00001.avro", 3),
    ]
    first = fastavro.reader(
        io.BytesIO(s3.get(aws.s3, settings.scored_bucket, f"{prefix}messages/part-00000.avro"))
    )
    assert [r["message_id"] for r in first][:1] == ["<w0-0@x>"]
    manifest = json.loads(s3.get(aws.s3, settings.scored_bucket, prefix + MANIFEST))
    assert manifest["records_out"] == 8
    # and nothing is left in the work prefix
    assert list(s3.list_objects(aws.s3, settings.scored_bucket, "_work/")) == []
