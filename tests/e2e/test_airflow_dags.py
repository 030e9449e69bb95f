"""The hourly DAG run by Airflow (`dag.test()`) against the local stack: moto server, PostgreSQL,
Spark in-process, an importer process; and its failure paths on the same real parts."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import fastavro
import psycopg
import pytest

from tests.harness.airflow_home import AIRFLOW_HOME
from tests.harness.browser import chromium
from tests.harness.cli import CLI
from tests.harness.paths import ROOT
from tests.harness.pictures import assert_a_real_picture
from trustpipe import landing, layout, metrics, s3
from trustpipe.aws import AwsClients
from trustpipe.model import artifact as model_store
from trustpipe.settings import Settings
from trustpipe_emulation.alarms import cloudwatch_fetch, describe, evaluate
from trustpipe_importer.app import upgrade
from trustpipe_orchestration import hour_report, model_report
from trustpipe_sensors.app import run_batch
from trustpipe_sensors.handmade_model import artifact as fixture_artifact
from trustpipe_stack.airflow import PASSWORDS_FILE, admin_password, airflow_env, stop_tree
from trustpipe_stack.procs import free_port, wait_for_port
from trustpipe_stack.stack import LocalStack

HOURLY = "message_scoring_hourly"
# Hours no other test module lands or scores (and not before the DAG's start_date: Airflow
# creates no task instances for a run before it).
LOCAL_HOUR = layout.parse_hour("2026-11-26T03")
EMR_HOUR = layout.parse_hour("2026-11-26T05")
GATE_HOUR = layout.parse_hour("2025-06-10T12")
NEXT_HOUR = LOCAL_HOUR + timedelta(hours=1)
IMAGES_JS = "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
SCREENSHOTS = ROOT / "build" / "test-artifacts"
"""What the browser saw, kept after the run."""
NIGHT_HOUR = layout.parse_hour("2026-11-27T06")
PIPELINE = {"mode": "local", "quiet_minutes": 1}


@pytest.fixture(scope="module")
def airflow(settings: Settings) -> Iterator[Any]:
    """Airflow's SQLite database, connections and Variables from the stack's settings; the DagBag."""
    from airflow.utils import db

    db.resetdb()
    mp = pytest.MonkeyPatch()
    for key, value in airflow_env(settings, AIRFLOW_HOME, ROOT / "dags", PIPELINE).items():
        mp.setenv(key, value)
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(str(ROOT / "dags"))
        assert bag.import_errors == {}
        yield bag
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def model(aws: AwsClients, settings: Settings) -> Iterator[str]:
    """A known model as `current` for this module; the previous pointer restored afterwards."""
    bucket = settings.archive_bucket
    try:
        previous = s3.get(aws.s3, bucket, layout.CURRENT_MODEL_KEY)
    except aws.s3.exceptions.NoSuchKey:
        previous = None
    model_store.save(aws.s3, bucket, fixture_artifact(), make_current=True)
    yield fixture_artifact().version
    if previous is None:
        aws.s3.delete_object(Bucket=bucket, Key=layout.CURRENT_MODEL_KEY)
    else:
        s3.put(aws.s3, bucket, layout.CURRENT_MODEL_KEY, previous)


@pytest.fixture(scope="module")
def importer(local_stack: LocalStack, settings: Settings) -> Iterator[subprocess.Popen[str]]:
    """An importer worker, as `make airflow` runs one beside Airflow; stopped by its pid."""
    upgrade(settings)
    proc = subprocess.Popen(
        [*CLI, "importer", "run", "--state-dir", str(local_stack.state_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=60)


@pytest.fixture
def oncall(aws: AwsClients, settings: Settings) -> Iterator[Any]:
    """A queue subscribed to the on-call topic: what the engineer's pager would receive."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"oncall-inbox-{time.monotonic_ns()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = aws.client("sns").subscribe(TopicArn=settings.oncall_topic_arn, Protocol="sqs", Endpoint=arn)

    def received() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages"
        ):
            out += [json.loads(m["Body"]) for m in msgs]
            for m in msgs:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return out

    yield received
    aws.client("sns").unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    sqs.delete_queue(QueueUrl=url)


def hourly(airflow: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The hourly DAG for `dag.test()`. Airflow 3.3's dag.test() cannot finish a run of a DAG with
    a Deadline Alert (it looks the in-memory alert up as if it were its database id), so the test
    runs go without it; the deadline is checked by the structure test and the callback test."""
    dag = airflow.dags[HOURLY]
    monkeypatch.setattr(dag, "deadline", None)
    return dag


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def rows_of_hour(settings: Settings, table: str, column: str, hour: datetime) -> int:
    with psycopg.connect(settings.database_url or "") as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE {column} = %s",  # noqa: S608 (names are literals here)
            (layout.format_hour(hour),),
        ).fetchone()
    return int(row[0]) if row else 0


def signed_object(link: str) -> tuple[str, str]:
    """(endpoint, /bucket/key) of a signed S3 link; its signature must be there."""
    parts = urlsplit(link)
    assert "Signature=" in parts.query or "X-Amz-Signature=" in parts.query, link
    return f"{parts.scheme}://{parts.netloc}", unquote(parts.path)


def hour_figures(aws: AwsClients, dag_id: str, since: datetime) -> dict[tuple[str, ...], float]:
    """Each pipeline metric of ``dag_id`` put since ``since``, summed, keyed by name and the
    values of its further dimensions."""
    cloudwatch = aws.client("cloudwatch")
    out = {}
    for metric in cloudwatch.list_metrics(Namespace=metrics.PIPELINE)["Metrics"]:
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        if dims.pop("Dag", None) != dag_id:
            continue
        points = cloudwatch.get_metric_statistics(
            Namespace=metrics.PIPELINE,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=since,
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        if points:
            out[(metric["MetricName"], *dims.values())] = sum(p["Sum"] for p in points)
    return out


def test_hourly_dag_runs_green_end_to_end_on_the_local_stack(
    tmp_path: Path,
    airflow: Any,
    settings: Settings,
    aws: AwsClients,
    model: str,
    importer: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an hour landed by all three sensors, a current model and an importer running
    drops = run_batch(aws, LOCAL_HOUR, seed=21, enterprise_ids=None, scale=0.1)
    landed = sum(d.records for d in drops)
    since = datetime.now(UTC).replace(microsecond=0)
    # WHEN Airflow runs the hourly DAG for that hour (data interval [10:00, 11:00))
    run = hourly(airflow, monkeypatch).test(logical_date=LOCAL_HOUR + timedelta(hours=1))
    # THEN every step ran green, on the local runner
    got = states(run)
    assert run.state == "success", got
    assert {t for t, s in got.items() if s == "skipped"} == {
        "emr_cluster_spec",
        "emr_score_steps",
        "emr_create_cluster",
        "emr_add_steps",
        "emr_watch_step",
        "emr_terminate_cluster",
    }
    assert {s for t, s in got.items() if not t.startswith("emr_")} == {"success"}
    # and the hour's messages and stats are in PostgreSQL, every landed record once
    assert rows_of_hour(settings, "scored_messages", "source_ref", LOCAL_HOUR) == landed
    assert rows_of_hour(settings, "scoring_stats", "hour", LOCAL_HOUR) == 3
    # and the hour's figures reached CloudWatch: the delay the deadline alarm watches, the records
    # in and out, and the verdicts per enterprise adding up to the records out
    figures = hour_figures(aws, HOURLY, since)
    assert figures[("HourlyOutputDelaySeconds",)] > 0
    assert figures[("RecordsIn",)] == figures[("RecordsOut",)] == landed
    assert figures[("ObjectsSetAside",)] == 0
    verdicts = {k[1:]: v for k, v in figures.items() if k[0] == "Verdicts"}
    assert {e for e, _ in verdicts} == {"acme", "globex", "initech"}
    assert {v for _, v in verdicts} == {"QUARANTINE", "LABEL", "PASS_THROUGH"}
    assert sum(verdicts.values()) == landed
    # and the hour's report is beside its scored output, every picture real, linked from its task
    prefix = layout.report_prefix(LOCAL_HOUR)
    keys = {o["Key"].removeprefix(prefix) for o in s3.list_objects(aws.s3, settings.scored_bucket, prefix)}
    assert keys == {*hour_report.PICTURES, "index.html"}
    for name in hour_report.PICTURES:
        picture = tmp_path / name
        picture.write_bytes(s3.get(aws.s3, settings.scored_bucket, prefix + name))
        assert_a_real_picture(picture)
    page = s3.get(aws.s3, settings.scored_bucket, prefix + "index.html").decode()
    assert f"landed {landed:,} &rarr; scored {landed:,} &rarr; imported {landed:,}" in page
    link = run.get_task_instance("write_report").xcom_pull(
        task_ids="write_report", key="_link_HourReportLink"
    )
    assert signed_object(link) == (settings.aws_endpoint, f"/{settings.scored_bucket}/{prefix}index.html")
    with urllib.request.urlopen(link, timeout=10) as signed:  # noqa: S310 (the moto server's URL)
        assert signed.read().decode() == page


@pytest.fixture
def api_server(airflow: Any) -> Iterator[tuple[str, str]]:
    """Airflow's API server (the UI) on this module's database, which the runs above wrote; its
    URL and the admin's password. Stopped by its pid."""
    port = free_port()
    home = Path(os.environ["AIRFLOW_HOME"])
    (home / PASSWORDS_FILE).unlink(missing_ok=True)
    log = (home / "api-server.log").open("ab")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("airflow")), "api-server", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=120, pid=proc.pid)
        yield f"http://127.0.0.1:{port}", admin_password(home)
    finally:
        stop_tree(proc.pid)
        proc.wait(timeout=60)
        log.close()


def test_a_person_sees_the_run_its_report_link_and_every_picture(
    api_server: tuple[str, str], settings: Settings
) -> None:
    from playwright.sync_api import sync_playwright

    # GIVEN the UI of the Airflow that ran the hour above (its run is in this module's database)
    url, password = api_server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            # WHEN a person logs in
            page.goto(f"{url}/", wait_until="networkidle")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(lambda u: "login" not in u, timeout=60_000)
            # and opens the hourly DAG's runs
            page.goto(f"{url}/dags/{HOURLY}/runs", wait_until="networkidle")
            page.get_by_text("success").first.wait_for(timeout=60_000)
            page.screenshot(path=SCREENSHOTS / "airflow-hourly-runs.png", full_page=True)
            # THEN the run's write_report task offers the hour's report as a link
            href = page.locator(f"a[href*='/dags/{HOURLY}/runs/manual__']").first.get_attribute("href")
            run_id = unquote(str(href).rsplit("/runs/", 1)[1].split("/")[0])
            page.goto(f"{url}/dags/{HOURLY}/runs/{quote(run_id, safe='')}/tasks/write_report")
            page.wait_for_load_state("networkidle")
            page.get_by_text("Details", exact=True).last.click()  # the task instance's details tab
            link = page.locator("a", has_text="Hour report")
            link.wait_for(timeout=60_000)
            page.screenshot(path=SCREENSHOTS / "airflow-write-report.png", full_page=True)
            href = link.get_attribute("href")
            prefix = layout.report_prefix(LOCAL_HOUR)
            # a signed link: the moto server refuses anonymous reads
            key = f"/{settings.scored_bucket}/{prefix}index.html"
            assert signed_object(str(href)) == (settings.aws_endpoint, key)
            # and the report it links loads with every picture (none broken)
            page.goto(str(href), wait_until="networkidle")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
            )
            page.screenshot(path=SCREENSHOTS / "hour-report.png", full_page=True)
            assert [alt for alt, _, _ in images] == [name[:-4] for name in hour_report.PICTURES]
            assert all(complete and width >= 500 for _, complete, width in images), images
        finally:
            browser.close()


def test_a_file_landing_after_its_hour_was_scored_is_scored_again_by_the_next_run(
    airflow: Any,
    settings: Settings,
    aws: AwsClients,
    model: str,
    importer: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the hour the first test ran, scored and imported; then one sensor's upload landing in
    # it late (records of its own), and the next hour landed by every sensor
    stored = rows_of_hour(settings, "scored_messages", "source_ref", LOCAL_HOUR)
    key = next(o["Key"] for o in landing.hour_keys(aws.s3, settings.landing_bucket, LOCAL_HOUR))
    reader = fastavro.reader(io.BytesIO(s3.get(aws.s3, settings.landing_bucket, key)))
    records = [{**r, "message_id": r["message_id"].replace("@", ".late@")} for r in reader]
    body = io.BytesIO()
    fastavro.writer(body, fastavro.parse_schema(reader.writer_schema), records)
    s3.put(aws.s3, settings.landing_bucket, key.replace(".avro", "-late.avro"), body.getvalue())
    run_batch(aws, NEXT_HOUR, seed=22, enterprise_ids=None, scale=0.1)
    since = datetime.now(UTC).replace(microsecond=0)
    # WHEN Airflow runs the next hour
    run = hourly(airflow, monkeypatch).test(logical_date=NEXT_HOUR + timedelta(hours=1))
    # THEN it ran green, found the late hour, scored it again beside its own, and stored its
    # late records; how many and how late reached CloudWatch for the late-landing alarm
    got = states(run)
    assert run.state == "success", got
    found = run.get_task_instance("find_late_hours").xcom_pull(task_ids="find_late_hours")
    assert found == [layout.format_hour(LOCAL_HOUR)]
    assert {got[t] for t in ("verify_late", "reconcile_late")} == {"success"}
    assert rows_of_hour(settings, "scored_messages", "source_ref", LOCAL_HOUR) == stored + len(records)
    figures = hour_figures(aws, HOURLY, since)
    assert figures[("LateLandingObjects",)] == 1 and figures[("LateLandingMinutes",)] > 60
    # and the late-landing alarm, evaluated on those figures with its own rule, pages with its
    # runbook (on the hour they were put in: the run may have crossed an hour's boundary)
    alarm = describe(aws.client("cloudwatch"), "trustpipe-local-late-landing")
    assert alarm["AlarmDescription"].endswith("/late-landing.md")
    fetch = cloudwatch_fetch(aws.client("cloudwatch"))
    hours = {since + timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)}
    evaluations = [evaluate(alarm, fetch, at) for at in sorted(hours)]
    assert "ALARM" in {e.state for e in evaluations}, evaluations


def test_nightly_build_puts_its_auc_and_draws_its_curves_beside_the_artifact(
    airflow: Any,
    settings: Settings,
    aws: AwsClients,
    model: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from trustpipe_orchestration import tasks

    # GIVEN three hours of labelled history and a current model
    for back in (3, 2, 1):
        run_batch(aws, NIGHT_HOUR - timedelta(hours=back), seed=23, enterprise_ids=None, scale=0.3)
    monkeypatch.setenv("AIRFLOW_VAR_TRUSTPIPE_PIPELINE", json.dumps({**PIPELINE, "model_history_hours": 3}))
    since = datetime.now(UTC).replace(microsecond=0)
    # WHEN the nightly DAG's build task runs
    built = tasks.build_model("model_build_nightly", NIGHT_HOUR)
    # THEN the holdout AUC of the candidate and of the current model reached CloudWatch
    figures = hour_figures(aws, "model_build_nightly", since)
    assert figures[("HoldoutAuc", "candidate")] == pytest.approx(built["metrics"]["auc"])
    assert 0 < figures[("HoldoutAuc", "current")] < 1
    # and the curves were drawn beside the artifact, every picture real
    prefix = layout.model_key(built["version"]).rsplit("/", 1)[0] + "/report/"
    key = f"/{settings.archive_bucket}/{prefix}index.html"
    assert signed_object(built["report_url"]) == (settings.aws_endpoint, key)
    for name in model_report.PICTURES:
        picture = tmp_path / name
        picture.write_bytes(s3.get(aws.s3, settings.archive_bucket, prefix + name))
        assert_a_real_picture(picture)


def test_failing_emr_step_still_terminates_the_cluster_and_pages_on_call(
    airflow: Any,
    settings: Settings,
    aws: AwsClients,
    model: str,
    oncall: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the EMR runner (the moto server's EMR, whose steps never finish) and a landed hour
    run_batch(aws, EMR_HOUR, seed=22, enterprise_ids=["acme"], scale=0.05)
    emr = {
        "code_uri": f"s3://{settings.archive_bucket}/code",
        "log_uri": f"s3://{settings.archive_bucket}/emr",
    }
    pipeline = {**PIPELINE, "mode": "emr", "enterprises": ["acme"], "emr": emr}
    monkeypatch.setenv("AIRFLOW_VAR_TRUSTPIPE_PIPELINE", json.dumps(pipeline))
    dag = hourly(airflow, monkeypatch)
    watch = dag.get_task("emr_watch_step")
    # a scoring step that does not finish in time is a failed step
    for attr, value in {"deferrable": False, "timeout": 3, "poke_interval": 1, "mode": "poke"}.items():
        monkeypatch.setattr(watch, attr, value)
    # WHEN the run goes
    run = dag.test(logical_date=EMR_HOUR + timedelta(hours=1))
    # THEN the step failed, the teardown ran anyway and nothing downstream pretended success
    got = states(run)
    assert run.state == "failed", got
    assert got["emr_create_cluster"] == "success" and got["emr_add_steps"] == "success"
    assert got["emr_watch_step"] == "failed"
    assert got["emr_terminate_cluster"] == "success"
    assert got["score_local"] == "skipped" and got["verify_output"] == "upstream_failed"
    # and the cluster is gone (no orphan)
    (cluster,) = [
        c
        for c in aws.client("emr").list_clusters()["Clusters"]
        if c["Name"] == f"trustpipe-{HOURLY}-{layout.format_hour(EMR_HOUR)}"
    ]
    assert cluster["Status"]["State"] in {"TERMINATING", "TERMINATED"}
    # and on-call was paged with the run, the task and the runbook section
    pages = [m for m in oncall() if "emr_watch_step" in m.get("Subject", "")]
    assert len(pages) == 1
    assert pages[0]["Subject"] == f"trustpipe: {HOURLY}.emr_watch_step failed"
    body = pages[0]["Message"]
    assert run.run_id in body
    assert "/message-scoring-hourly.md#emr_watch_step" in body
    assert "2026-11-26 05:00:00" in body


def test_without_a_current_model_the_hour_waits_and_says_why(
    airflow: Any, settings: Settings, aws: AwsClients, model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from trustpipe_orchestration import tasks

    # GIVEN a new deployment: no model promoted yet
    pointer = s3.get(aws.s3, settings.archive_bucket, layout.CURRENT_MODEL_KEY)
    aws.s3.delete_object(Bucket=settings.archive_bucket, Key=layout.CURRENT_MODEL_KEY)
    try:
        # WHEN the hourly DAG's model sensor pokes, THEN it holds the hour and its log says why
        assert tasks.model_ready() is False
        assert "Trigger model_build_nightly once labelled history has landed" in capsys.readouterr().out
    finally:
        s3.put(aws.s3, settings.archive_bucket, layout.CURRENT_MODEL_KEY, pointer)
    # and once a model is current, the hour proceeds
    assert tasks.model_ready() is True
    assert f"current model: {model}" in capsys.readouterr().out
    sensor = airflow.dags[HOURLY].get_task("wait_for_model")
    assert sensor.mode == "reschedule"  # a waiting hour holds no worker slot


def _insert_stats(settings: Settings, rows: list[tuple[str, str, int, int]]) -> None:
    with psycopg.connect(settings.database_url or "") as conn:
        for enterprise, hour, messages, quarantined in rows:
            conn.execute(
                "INSERT INTO scoring_stats (enterprise_id, hour, model_version, messages, quarantined, "
                "labelled, passed, set_aside, mean_score, computed_at) "
                "VALUES (%s, %s, 'gate-test', %s, %s, 0, %s, 0, 0.1, now()) "
                "ON CONFLICT (enterprise_id, hour) DO UPDATE SET messages = excluded.messages, "
                "quarantined = excluded.quarantined",
                (enterprise, hour, messages, quarantined, messages - quarantined),
            )


def test_skewed_hour_fails_the_quality_gate_with_a_clear_message(airflow: Any, settings: Settings) -> None:
    from trustpipe_orchestration import tasks
    from trustpipe_orchestration.checks import QualityGateError

    # GIVEN a week of ordinary hours in PostgreSQL for one enterprise (1,000-1,200 messages, 4%)
    upgrade(settings)
    week = [
        ("gatecorp", layout.format_hour(GATE_HOUR - timedelta(hours=h)), 1000 + (h % 3) * 100, 40)
        for h in range(1, 169)
    ]
    _insert_stats(settings, [*week, ("gatecorp", layout.format_hour(GATE_HOUR), 1100, 45)])
    # WHEN the gate judges an ordinary hour, THEN it passes
    assert tasks.quality_gate(GATE_HOUR)["enterprises"] == ["gatecorp"]
    # WHEN the hour's volume collapses and its quarantine rate jumps
    _insert_stats(settings, [("gatecorp", layout.format_hour(GATE_HOUR), 120, 60)])
    # THEN the gate fails, naming the enterprise, the value and the band
    with pytest.raises(QualityGateError) as err:
        tasks.quality_gate(GATE_HOUR)
    assert str(err.value) == (
        "data-quality gate failed for 2025-06-10T12: "
        "gatecorp: 120 messages, outside [500, 2,400] (trailing 168 hours: 1,000 to 1,200); "
        "gatecorp: quarantine rate 50.0%, outside [0.0%, 9.0%] (trailing 168 hours: 3.3% to 4.0%)"
    )


def test_deadline_callback_pages_and_puts_the_delay_metric(
    airflow: Any, settings: Settings, aws: AwsClients, oncall: Any
) -> None:
    from trustpipe_orchestration.alerts import deadline_missed

    # GIVEN a run whose hour closed 40 minutes ago, as the scheduler sends it (the run's API model
    # dumped to JSON)
    hour_end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    run = {"dag_run_id": "scheduled__late", "data_interval_end": hour_end.isoformat().replace("+00:00", "Z")}
    context = {"dag_run": run, "deadline": {"id": "d1", "deadline_time": hour_end.isoformat()}}
    # WHEN Airflow calls the Deadline Alert's callback
    deadline_missed(context, dag_id="deadline_test_dag", due_minutes=15)
    # THEN on-call is paged with the runbook
    (page,) = [m for m in oncall() if "deadline_test_dag" in m.get("Subject", "")]
    assert page["Subject"] == "trustpipe: deadline_test_dag missed its 15-minute deadline"
    assert "scheduled__late" in page["Message"] and "hourly-deadline-missed.md" in page["Message"]
    # and the delay (about 40 minutes) reached CloudWatch
    stats = aws.client("cloudwatch").get_metric_statistics(
        Namespace=metrics.PIPELINE,
        MetricName=metrics.HOURLY_DELAY.name,
        Dimensions=[{"Name": "Dag", "Value": "deadline_test_dag"}],
        StartTime=hour_end - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    assert 2390 <= max(p["Maximum"] for p in stats["Datapoints"]) <= 2500
    # and the deadline alarm, evaluated on that hour with its own rule, pages (its dimension is
    # this test's DAG, so the real hourly DAG's figures stay untouched)
    alarm = describe(aws.client("cloudwatch"), "trustpipe-local-hourly-deadline")
    alarm["Dimensions"] = [{"Name": "Dag", "Value": "deadline_test_dag"}]
    evaluation = evaluate(
        alarm, cloudwatch_fetch(aws.client("cloudwatch")), datetime.now(UTC) + timedelta(hours=1)
    )
    assert evaluation.state == "ALARM" and evaluation.crossed[0] >= 2390 > alarm["Threshold"]


def test_landing_trigger_waits_in_the_triggerer_until_the_last_drop_lands(
    settings: Settings, aws: AwsClients
) -> None:
    from trustpipe_orchestration.landing_wait import LandingCompleteTrigger, expected_keys

    # GIVEN an hour with three of its four drops landed, and a quiet period far away
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    first, *rest = sorted(expected_keys(["trigcorp"], hour))
    for key in rest:
        s3.put(aws.s3, settings.landing_bucket, key, b"x")
    trigger = LandingCompleteTrigger(asdict(settings), ["trigcorp"], layout.format_hour(hour), 10**6, 0.3)
    # WHEN the last drop lands while the trigger polls
    timer = threading.Timer(1.5, lambda: s3.put(aws.s3, settings.landing_bucket, first, b"x"))
    timer.start()

    async def first_event() -> Any:
        started = time.monotonic()
        async for event in trigger.run():
            return event, time.monotonic() - started
        return None, 0

    event, waited = asyncio.run(asyncio.wait_for(first_event(), timeout=30))
    timer.join()
    # THEN it fired once the hour was complete, not before
    assert event.payload == {"reason": "all 4 expected drops landed", "present": 4, "missing": ()}
    assert waited >= 1.4
    # and it serialises to what the triggerer rebuilds it from
    path, kwargs = trigger.serialize()
    assert path == "trustpipe_orchestration.landing_wait.LandingCompleteTrigger"
    assert LandingCompleteTrigger(**kwargs).serialize() == (path, kwargs)


BACKFILL_HOUR = layout.parse_hour("2026-11-26T06")


def test_backfill_rescores_and_reimports_idempotently(
    settings: Settings, aws: AwsClients, model: str, spark: Any
) -> None:
    from trustpipe_orchestration.hour import backfill, in_process

    parts = in_process(aws, spark)

    # GIVEN a landed hour
    drops = run_batch(aws, BACKFILL_HOUR, seed=23, enterprise_ids=["globex"], scale=0.05)
    landed = sum(d.records for d in drops)
    # WHEN it is backfilled, and backfilled again
    first = backfill(aws, parts.db, [BACKFILL_HOUR], parts.score, parts.drain, say=lambda _m: None)
    second = backfill(aws, parts.db, [BACKFILL_HOUR], parts.score, parts.drain, say=lambda _m: None)
    # THEN both runs scored and imported every landed record, and PostgreSQL holds each once
    assert [d.records for d in first] == [d.records for d in second] == [landed]
    assert [d.rows_in_db for d in second] == [landed]
    assert rows_of_hour(settings, "scored_messages", "source_ref", BACKFILL_HOUR) == landed
