"""The hourly scoring job on the local stack (moto server, local Spark), with a current model."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import psycopg
import pytest

from spark_jobs import runner, score_messages
from tests.harness.cli import run_cli
from tests.harness.models import mixed
from tests.harness.output import assert_calm
from trustpipe import contracts, landing, layout, metrics, s3, tenants
from trustpipe import records as record_rules
from trustpipe.announcements import ObjectCreated
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedEncoder, container_bytes
from trustpipe.layout import MANIFEST, scored_hour_prefix, set_aside_key
from trustpipe.model import artifact as model_store
from trustpipe.model.artifact import ModelArtifact
from trustpipe.model.scorer import TrustModel
from trustpipe.settings import Settings
from trustpipe_alerter.app import build_worker
from trustpipe_importer.app import upgrade
from trustpipe_importer.load import import_object
from trustpipe_orchestration import checks, late
from trustpipe_scenarios.settle import drain_action_queues
from trustpipe_sensors import hostile
from trustpipe_sensors.app import run_batch
from trustpipe_sensors.sensor import to_version
from trustpipe_stack.stack import LocalStack
from trustpipe_stream.processor import StreamRecord

HOUR = layout.parse_hour("2026-11-25T04")
MODEL_VERSION = "20261125T050000-0hand000"
SCORED_AT = datetime(2026, 11, 25, 5, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def promoted(aws: AwsClients) -> ModelArtifact:
    """A current model (hand-weighted: the build's own tests are test_model_build.py) and the
    hour ``HOUR`` landed by every enterprise's sensors."""
    run_batch(aws, HOUR, seed=7, enterprise_ids=None, scale=0.3)
    model = mixed(MODEL_VERSION)
    model_store.save(aws.s3, aws.settings.archive_bucket, model, make_current=True)
    return model


def read_all(aws: AwsClients, bucket: str, keys: list[str]) -> list[dict[str, Any]]:
    return [r for k in keys for r in fastavro.reader(io.BytesIO(s3.get(aws.s3, bucket, k)))]


def test_score_hour_counts_manifest_and_idempotent_rerun(
    promoted: ModelArtifact, spark: Any, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN an hour of landing files of all three sensor versions (landed by the fixture)
    # WHEN it is scored
    first = runner.score(aws, HOUR, spark, scored_at=SCORED_AT)
    # THEN every record in is a record out, and the manifest says so
    assert first.records_in == first.records_out > 1000
    assert sum(first.verdicts.values()) == first.records_out
    prefix = scored_hour_prefix(HOUR)
    manifest = json.loads(s3.get(aws.s3, settings.scored_bucket, prefix + MANIFEST))
    assert manifest["records_out"] == first.records_out and manifest["model_version"] == promoted.version
    message_keys = [f["key"] for f in manifest["files"] if f["kind"] == "scored_messages"]
    scored = read_all(aws, settings.scored_bucket, message_keys)
    assert (
        len(scored)
        == first.records_out
        == sum(f["records"] for f in manifest["files"] if f["kind"] == "scored_messages")
    )
    assert {r["sensor_schema_version"] for r in scored} == {1, 2, 3}
    assert all(r["source"] == "BATCH" and r["source_ref"] == "2026-11-25T04" for r in scored)
    stats = read_all(aws, settings.scored_bucket, [f"{prefix}stats/stats.avro"])
    assert sum(s["messages"] for s in stats) == first.records_out
    # and each enterprise's score histogram counts its messages, the high bins its quarantines
    for s in stats:
        assert len(s["score_histogram"]) == 20 and sum(s["score_histogram"]) == s["messages"]
        assert sum(s["score_histogram"][18:]) <= s["quarantined"] + s["labelled"]
    # AND a rerun replaces the hour's output with the same records
    again = runner.score(aws, HOUR, spark, scored_at=SCORED_AT)
    keys_after = sorted(o["Key"] for o in s3.list_objects(aws.s3, settings.scored_bucket, prefix))
    assert keys_after == sorted([*{f["key"] for f in manifest["files"]}, prefix + MANIFEST])
    rescored = read_all(aws, settings.scored_bucket, message_keys)
    assert sorted(map(_key, rescored)) == sorted(map(_key, scored))
    assert again.verdicts == first.verdicts


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        r["message_id"],
        r["score"],
        r["verdict"],
        tuple(r["reasons"]),
        r["model_version"],
        r["scored_at"],
    )


def test_bad_landing_objects_are_quarantined_and_the_hour_completes(
    promoted: ModelArtifact, spark: Any, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN an hour with good files, three bad ones and four hostile ones (trustpipe_sensors.hostile)
    hour = HOUR + timedelta(hours=1)
    drops = run_batch(aws, hour, seed=8, enterprise_ids=["acme", "initech"], scale=0.1)
    full = s3.get(aws.s3, settings.landing_bucket, drops[0].key)
    base = layout.landing_hour_prefix("initech", hour)
    bad = {
        f"{base}quarter=9/not-avro.avro": b"PK\x03\x04 zip bytes",
        f"{base}quarter=9/truncated.avro": full[: len(full) // 2],
        f"{base}quarter=9/unknown-schema.avro": container_bytes(contracts.load(contracts.SCORED_MESSAGE), []),
        f"{base}quarter=9/bzip2-200MB-string.avro": hostile.long_string(200 * 1024 * 1024, "bzip2"),
        f"{base}quarter=9/deflate-block-over-cap.avro": hostile.long_string(8 * 1024 * 1024),
        f"{base}quarter=9/array-of-null.avro": hostile.null_array(),
        f"{base}quarter=9/huge-count.avro": hostile.huge_count(),
    }
    for key, body in bad.items():
        s3.put(aws.s3, settings.landing_bucket, key, body)
    # WHEN the hour is scored
    result = runner.score(aws, hour, spark, scored_at=SCORED_AT)
    # THEN the good records are all scored, and each bad object is set aside with its reason
    assert result.records_out == result.records_in == sum(d.records for d in drops)
    reasons = {s["key"]: s["reason"].split(":")[0] for s in result.set_aside}
    assert reasons == {
        f"{base}quarter=9/not-avro.avro": "BadMagicByteError",
        f"{base}quarter=9/truncated.avro": "TruncatedRecordError",
        f"{base}quarter=9/unknown-schema.avro": "SchemaMismatchError",
        f"{base}quarter=9/bzip2-200MB-string.avro": "CodecNotAllowedError",
        f"{base}quarter=9/deflate-block-over-cap.avro": "OversizeBlockError",
        f"{base}quarter=9/array-of-null.avro": "UnboundedSchemaError",
        f"{base}quarter=9/huge-count.avro": "ItemCountError",
    }
    for key in bad:
        assert aws.s3.list_objects_v2(Bucket=settings.landing_bucket, Prefix=key).get("KeyCount") == 0
        reason = json.loads(s3.get(aws.s3, settings.landing_bucket, set_aside_key(key) + ".reason.json"))
        assert reason["key"] == key and reason["reason"]
    manifest = json.loads(s3.get(aws.s3, settings.scored_bucket, scored_hour_prefix(hour) + MANIFEST))
    assert len(manifest["set_aside"]) == len(bad)
    truncated = next(s for s in manifest["set_aside"] if "truncated" in s["key"])
    assert truncated["records_readable"] >= 0  # what could be decoded before the cut, if anything
    stats = {s["enterprise_id"]: s["set_aside"] for s in result.stats}
    assert stats["initech"] == truncated["records_readable"] and stats["acme"] == 0
    # AND a rerun reports the same set-aside objects
    assert {s["key"] for s in runner.score(aws, hour, spark).set_aside} == set(bad)


def test_a_record_claiming_another_enterprise_is_set_aside_and_the_rest_scored(
    promoted: ModelArtifact, spark: Any, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN acme's hour, where one record of one of its files claims to be globex's, and a file
    # under the prefix of an enterprise the deployment does not serve
    hour = HOUR + timedelta(hours=2)
    drops = run_batch(aws, hour, seed=9, enterprise_ids=["acme"], scale=0.1)
    reader = fastavro.reader(io.BytesIO(s3.get(aws.s3, settings.landing_bucket, drops[0].key)))
    records = list(reader)
    records[2] = {**records[2], "enterprise_id": "globex"}
    records[4] = {**records[4], "url_count": -1}  # legal Avro that breaks a record rule
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(reader.writer_schema), records)
    s3.put(aws.s3, settings.landing_bucket, drops[0].key, out.getvalue())
    stranger = layout.landing_key("umbrella", hour)
    s3.put(aws.s3, settings.landing_bucket, stranger, s3.get(aws.s3, settings.landing_bucket, drops[1].key))
    # WHEN the hour is scored by a deployment serving the simulator's three
    served = frozenset({"acme", "globex", "initech"})
    artifact = model_store.load(aws.s3, settings.archive_bucket)
    result = score_messages.run_hour(
        spark,
        aws.s3,
        settings.landing_bucket,
        settings.scored_bucket,
        artifact,
        hour,
        SCORED_AT,
        served=served,
    )
    # THEN the claiming record is set aside on acme's channel, with the stream path's reason,
    # and not scored; so is the one breaking a rule, with the scorer's reason word for word
    with pytest.raises(tenants.EnterpriseMismatchError) as python_says:
        tenants.check_claim("globex", "acme", served)
    with pytest.raises(record_rules.RecordRuleError) as rule_says:
        record_rules.check(records[4], hour + timedelta(hours=1))
    total = sum(d.records for d in drops)
    assert result.records_in == total and result.records_out == total - 2
    assert result.rejected == [
        {
            "key": drops[0].key,
            "enterprise_id": "acme",
            "reason": f"EnterpriseMismatchError: {python_says.value}",
            "records": 1,
        },
        {"key": drops[0].key, "enterprise_id": "acme", "reason": rule_says.value.rule.reason, "records": 1},
    ]
    manifest = json.loads(s3.get(aws.s3, settings.scored_bucket, scored_hour_prefix(hour) + MANIFEST))
    keys = [f["key"] for f in manifest["files"] if f["kind"] == "scored_messages"]
    scored = read_all(aws, settings.scored_bucket, keys)
    assert not {records[2]["message_id"], records[4]["message_id"]} & {r["message_id"] for r in scored}
    assert {r["enterprise_id"] for r in scored} == {"acme"}
    aside = s3.get(aws.s3, settings.landing_bucket, layout.set_aside_records_key(hour, 0)).decode()
    lines = {line["message_id"]: line for line in map(json.loads, aside.splitlines())}
    line = lines[records[2]["message_id"]]
    assert line["claimed_enterprise_id"] == "globex"
    assert line["key"] == drops[0].key and line["enterprise_id"] == "acme"
    assert lines[records[4]["message_id"]]["reason"] == rule_says.value.rule.reason
    assert {s["enterprise_id"]: s["set_aside"] for s in result.stats}["acme"] == 2
    # AND the stranger's file is set aside whole, unscored, with its reason
    assert [(s["key"], s["reason"].split(":")[0]) for s in result.set_aside] == [
        (stranger, "UnknownEnterpriseError")
    ]
    # AND the hour's verification accounts for every record
    summary = checks.verify_manifest(manifest, [d.key for d in drops] + [stranger])
    assert summary["records_set_aside"] == 2 and summary["records"] == total - 2


def test_one_message_id_at_two_enterprises_is_two_rows_and_an_action_at_each_on_the_batch_path(
    promoted: ModelArtifact, spark: Any, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN one campaign's Message-ID in an hour of acme's landing and of globex's: a message the
    # model (the Python engine, held to Spark's by the parity test) acts on at both
    hour = HOUR + timedelta(hours=3)
    landed = run_batch(aws, hour, seed=11, enterprise_ids=["acme", "globex"], scale=0.1)
    drops = {d.enterprise_id: d for d in landed}
    campaign = _acted_on_at_both(aws, settings, drops["acme"].key, ("acme", "globex"))
    reader = fastavro.reader(io.BytesIO(s3.get(aws.s3, settings.landing_bucket, drops["globex"].key)))
    copy = to_version({**campaign, "enterprise_id": "globex"}, drops["globex"].schema_version)
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(reader.writer_schema), [*reader, copy])
    s3.put(aws.s3, settings.landing_bucket, drops["globex"].key, out.getvalue())
    # WHEN the hour is scored, its scored objects imported, and the forwarded verdicts alerted on
    runner.score(aws, hour, spark, scored_at=SCORED_AT)
    upgrade(settings)
    forwarded: list[dict[str, Any]] = []
    manifest = json.loads(s3.get(aws.s3, settings.scored_bucket, scored_hour_prefix(hour) + MANIFEST))
    for f in manifest["files"]:
        head = aws.s3.head_object(Bucket=settings.scored_bucket, Key=f["key"])
        etag, size = head["ETag"].strip('"'), head["ContentLength"]
        event = ObjectCreated(settings.scored_bucket, f["key"], etag, size)
        import_object(lambda: psycopg.connect(settings.database_url or ""), aws.s3, event, forwarded.extend)
    ours = [r for r in forwarded if r["message_id"] == campaign["message_id"]]
    build_worker(aws).process([_forwarded_record(aws, n, r) for n, r in enumerate(ours)])
    # THEN two rows, one per enterprise, and one action on each enterprise's own queue
    with psycopg.connect(settings.database_url or "") as conn:
        rows = conn.execute(
            "SELECT enterprise_id FROM scored_messages WHERE message_id = %s ORDER BY 1",
            (campaign["message_id"],),
        ).fetchall()
    assert [r[0] for r in rows] == ["acme", "globex"]
    assert sorted(r["enterprise_id"] for r in ours) == ["acme", "globex"]
    acted = {
        e: [a["action_id"] for a in actions if a["message_id"] == campaign["message_id"]]
        for e, actions in drain_action_queues(aws).items()
    }
    assert {e: len(ids) for e, ids in acted.items() if ids} == {"acme": 1, "globex": 1}
    assert all(acted[e][0].startswith(f"{e}/{campaign['message_id']}/") for e in ("acme", "globex"))


def _acted_on_at_both(aws: AwsClients, settings: Settings, key: str, enterprises: tuple[str, ...]) -> Any:
    """The first (v4) record of ``key`` the current model acts on at each of ``enterprises``."""
    model = TrustModel(model_store.load(aws.s3, settings.archive_bucket))
    _, records = landing.read_records(s3.get(aws.s3, settings.landing_bucket, key))

    def acted_on(record: dict[str, Any], enterprise: str) -> bool:
        return model.score({**record, "enterprise_id": enterprise}).verdict in contracts.ACTIONABLE_VERDICTS

    return next(r for r in records if all(acted_on(r, e) for e in enterprises))


def _forwarded_record(aws: AwsClients, n: int, row: dict[str, Any]) -> StreamRecord:
    """A stored verdict as the batch importer forwards it to the alerters: framed, keyed by its pair."""
    schema = contracts.load(contracts.SCORED_MESSAGE)
    encoder = FramedEncoder(aws.registry().register(contracts.SCORED_MESSAGE_SUBJECT, schema), schema)
    key = tenants.partition_key(row["enterprise_id"], row["message_id"])
    return StreamRecord(encoder.encode(row), key, str(n), 0, 0)


def test_a_file_landing_after_its_hour_was_scored_is_found_and_the_hour_scored_again(
    promoted: ModelArtifact, spark: Any, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN acme's hour scored, and the next hour landed but not scored yet
    hour = HOUR + timedelta(hours=16)  # 2026-11-25T20: an hour no other module lands
    drops = run_batch(aws, hour, seed=12, enterprise_ids=["acme"], scale=0.05)
    first = runner.score(aws, hour, spark, scored_at=SCORED_AT)
    run_batch(aws, hour + timedelta(hours=1), seed=13, enterprise_ids=["acme"], scale=0.02)
    now = hour + timedelta(hours=2)
    assert late.find_late(aws.s3, settings, now, 3) == []
    # WHEN a sensor's upload lands in the scored hour after it was scored (records of its own)
    reader = fastavro.reader(io.BytesIO(s3.get(aws.s3, settings.landing_bucket, drops[0].key)))
    records = [{**r, "message_id": r["message_id"].replace("@", ".late@")} for r in reader]
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(reader.writer_schema), records)
    late_key = drops[0].key.replace(".avro", "-late.avro")
    s3.put(aws.s3, settings.landing_bucket, late_key, out.getvalue())
    # THEN it is found in its hour, how late it came measured, and the unscored hour is not late
    (found,) = late.find_late(aws.s3, settings, now, 3)
    assert (found.hour, found.keys) == (hour, (late_key,))
    assert found.minutes_after_close > 60 * 24  # it landed days after its (simulated) hour
    assert late.lateness_metrics("d", [found]) == [
        metrics.datum(metrics.LATE_OBJECTS, 1, Dag="d"),
        metrics.datum(metrics.LATE_MINUTES, found.minutes_after_close, Dag="d"),
    ]
    assert late.lateness_metrics("d", []) == [metrics.datum(metrics.LATE_OBJECTS, 0, Dag="d")]
    # and an hour whose own run is still active is left to it
    assert late.find_late(aws.s3, settings, now, 3, active=lambda h: h == hour) == []
    # AND scored again, the hour accounts for every object, the late records among its output
    again = runner.score(aws, hour, spark, scored_at=SCORED_AT)
    assert again.records_in == again.records_out == first.records_out + len(records)
    assert checks.verify_hour(aws.s3, settings, hour)["records"] == again.records_out
    assert late.find_late(aws.s3, settings, now, 3) == []


def test_cli_errors_are_one_line(local_stack: LocalStack) -> None:
    state = ["--state-dir", str(local_stack.state_dir)]
    no_history = run_cli("build-model", "--until", "2020-01-01T00", "--hours", "2", *state)
    assert no_history.returncode == 2
    assert no_history.stderr.strip().startswith(
        "error: no labelled history in the 2 hours before 2020-01-01T00"
    )
    bad_version = run_cli("score-hour", "--hour", "2020-01-01T00", "--model-version", "nope", *state)
    assert bad_version.returncode == 2
    assert (
        bad_version.stderr.strip()
        == f"error: no model nope in s3://{local_stack.settings().archive_bucket}/models/"
    )


def test_score_hour_json_on_stdout_and_progress_on_stderr(
    promoted: ModelArtifact, local_stack: LocalStack
) -> None:
    # GIVEN a current model and an hour nothing landed in (no JVM starts for it)
    state = ["--state-dir", str(local_stack.state_dir)]
    # WHEN a script asks for the hour's summary as JSON
    done = run_cli("score-hour", "--hour", "2020-01-02T00", "--json", *state)
    # THEN stdout is only the JSON, and the steps were shown on stderr
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary.pop("model_promotion") >= 1  # the current model's, carried by each verdict
    assert summary == {
        "hour": "2020-01-02T00",
        "model_version": promoted.version,
        "records_in": 0,
        "records_out": 0,
        "verdicts": {},
        "set_aside": 0,
        "records_set_aside": 0,
    }
    assert "2020-01-02T00: stage, score, publish" in done.stderr and "3/3" in done.stderr


def test_spark_submit_entry_point_scores_the_hour_and_prints_only_its_summary(
    promoted: ModelArtifact, local_stack: LocalStack, tmp_path: Path
) -> None:
    # The command a spark-submit step (EMR) or an Airflow task runs, in its own process: the part
    # of `make demo` that scores the hour, with the JVM's console as the demo's.
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spark_jobs.runner",
            "--hour",
            "2026-11-25T04",
            "--settings",
            str(local_stack.settings_path),
            "--master",
            "local[2]",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where a session with no state dir logs
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["hour"] == "2026-11-25T04" and summary["records_in"] == summary["records_out"] > 1000
    assert_calm(result.stdout + result.stderr, "the scoring job on a local session")
    assert (tmp_path / "trustpipe-spark" / "score_messages.log").is_file()  # Spark's warnings went there
