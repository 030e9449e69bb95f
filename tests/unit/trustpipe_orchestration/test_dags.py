"""The DAG files: they import cleanly, touch nothing while parsed, and declare the intended graph."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest

from tests.harness.paths import ROOT

DAGS = ROOT / "dags"
HOURLY = "message_scoring_hourly"
NIGHTLY = "model_build_nightly"


class ParseTimeIO(AssertionError):
    pass


@pytest.fixture(scope="module")
def bag() -> Any:
    """Every DAG file parsed with the network, AWS clients and databases out of reach."""
    import boto3
    import psycopg

    mp = pytest.MonkeyPatch()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ParseTimeIO(f"I/O while parsing a DAG file: {args[:2]}")

    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(boto3, "client", refuse)
    mp.setattr(boto3.session.Session, "client", refuse)
    mp.setattr(psycopg, "connect", refuse)
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(str(DAGS))
    finally:
        mp.undo()


def test_every_dag_file_imports_without_errors_or_io(bag: Any) -> None:
    # GIVEN every file in dags/ parsed with I/O refused (by the fixture)
    # THEN none failed, and both DAGs are there
    assert bag.import_errors == {}
    assert set(bag.dags) == {HOURLY, NIGHTLY}
    assert sorted(p.name for p in DAGS.glob("*.py")) == sorted([f"{NIGHTLY}.py", f"{HOURLY}.py"])


def test_dag_files_read_no_environment_at_parse_time() -> None:
    # GIVEN the DAG sources
    # THEN configuration is read by tasks (Variables), never from the environment at import
    for path in DAGS.glob("*.py"):
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text and "Variable.get" not in text, path


def _upstream(dag: Any, task_id: str) -> set[str]:
    return set(dag.get_task(task_id).upstream_task_ids)


def test_hourly_graph_waits_scores_verifies_and_gates(bag: Any) -> None:
    dag = bag.dags[HOURLY]
    # THEN the hour is waited for, earlier hours that landed more are found, then one runner is
    # chosen, and it scores those hours again beside this one
    assert _upstream(dag, "wait_for_model") == {"wait_for_landing"}
    assert _upstream(dag, "find_late_hours") == {"wait_for_model"}
    assert _upstream(dag, "choose_runner") == {"find_late_hours"}
    assert _upstream(dag, "score_local") == {"choose_runner", "find_late_hours"}
    assert _upstream(dag, "emr_score_steps") == {"choose_runner", "find_late_hours"}
    # the EMR chain: create -> add steps -> watch the step -> terminate
    assert _upstream(dag, "emr_create_cluster") == {"emr_cluster_spec"}
    assert _upstream(dag, "emr_add_steps") == {"emr_create_cluster", "emr_score_steps"}
    assert "emr_add_steps" in _upstream(dag, "emr_watch_step")
    assert {"emr_create_cluster", "emr_watch_step"} <= _upstream(dag, "emr_terminate_cluster")
    # verification follows either runner, then the import checks, the gate and the delay metric
    assert _upstream(dag, "verify_output") == {"score_local", "emr_watch_step"}
    assert _upstream(dag, "verify_late") == {"score_local", "emr_watch_step", "find_late_hours"}
    assert _upstream(dag, "wait_for_import") == {"verify_output", "verify_late"}
    assert _upstream(dag, "reconcile_late") == {"wait_for_import", "verify_late"}
    assert _upstream(dag, "quality_gate") == {"check_rows_imported", "check_stats_imported"}
    assert _upstream(dag, "record_hour") == {"quality_gate", "verify_output"}


def test_hourly_teardown_and_join_trigger_rules(bag: Any) -> None:
    from airflow.sdk import TriggerRule

    dag = bag.dags[HOURLY]
    # THEN the cluster is terminated whatever happened upstream (no orphaned cluster)...
    assert dag.get_task("emr_terminate_cluster").trigger_rule == TriggerRule.ALL_DONE
    # ...and is a direct branch target, so a local run skips it instead of terminating nothing
    assert "choose_runner" in _upstream(dag, "emr_terminate_cluster")
    # verification runs after whichever runner ran, never after a failed one
    for verify in ("verify_output", "verify_late"):
        assert dag.get_task(verify).trigger_rule == TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    others = set(dag.task_ids) - {"emr_terminate_cluster", "verify_output", "verify_late"}
    assert {dag.get_task(t).trigger_rule for t in others} == {TriggerRule.ALL_SUCCESS}


def test_hourly_schedule_is_one_run_per_hour_with_catchup(bag: Any) -> None:
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = bag.dags[HOURLY]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.summary == "0 * * * *"
    assert dag.catchup is True


def test_hourly_waits_deferrably_and_watches_the_step_deferrably(bag: Any) -> None:
    dag = bag.dags[HOURLY]
    assert dag.get_task("wait_for_landing").deferrable is True
    assert dag.get_task("emr_watch_step").deferrable is True


def test_hourly_deadline_is_15_minutes_after_the_hour_closes(bag: Any) -> None:
    from airflow.sdk import DeadlineReference, SyncCallback

    dag = bag.dags[HOURLY]
    (alert,) = dag.deadline
    assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert alert.interval == timedelta(hours=1, minutes=15)
    assert isinstance(alert.callback, SyncCallback)
    assert alert.callback.path == "trustpipe_orchestration.alerts.deadline_missed"


@pytest.mark.parametrize("dag_id", [HOURLY, NIGHTLY])
def test_every_task_pages_on_call_when_it_fails(bag: Any, dag_id: str) -> None:
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    for task in bag.dags[dag_id].tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(isinstance(c, SnsNotifier) for c in callbacks), task.task_id


def test_nightly_builds_then_promotes(bag: Any) -> None:
    dag = bag.dags[NIGHTLY]
    assert _upstream(dag, "promote") == {"build_candidate"}
    assert dag.get_task("promote").retries == 0
    assert dag.catchup is False


def test_nightly_holds_the_store_to_its_window_whatever_the_build_does(bag: Any) -> None:
    # GIVEN the nightly DAG; THEN its retention task stands alone (a failed build does not stop
    # it) and its runbook has a section for it
    dag = bag.dags[NIGHTLY]
    assert _upstream(dag, "store_retention") == set()
    assert not dag.get_task("store_retention").downstream_task_ids
    runbook = (ROOT / "docs" / "runbooks" / "model-build-nightly.md").read_text()
    assert "\n## store_retention\n" in runbook


def test_failure_message_links_the_task_section_of_the_runbook() -> None:
    from trustpipe_orchestration.alerts import FAILURE_MESSAGE

    # GIVEN the message template; THEN the runbook anchor is derived from the task id
    assert "{{ dag.dag_id | replace('_', '-') }}.md#{{ ti.task_id }}" in FAILURE_MESSAGE
    runbook = (ROOT / "docs" / "runbooks" / "message-scoring-hourly.md").read_text()
    tasks = ("wait_for_landing", "score_local", "emr_watch_step", "verify_output", "quality_gate")
    for task_id in (*tasks, "record_hour", "write_report"):
        assert f"\n## {task_id}\n" in runbook, task_id


def test_the_hourly_start_follows_airflows_trustpipe_hourly_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from airflow.dag_processing.dagbag import DagBag

    from trustpipe_orchestration.config import HOURLY_START

    # GIVEN the local stack's first landed hour as [trustpipe] hourly_start
    monkeypatch.setenv("AIRFLOW__TRUSTPIPE__HOURLY_START", "2026-12-01T14:00:00+00:00")
    # THEN the hourly DAG starts there (catchup begins at the first hour with data)
    bag = DagBag(str(DAGS / f"{HOURLY}.py"))
    assert bag.dags[HOURLY].start_date == datetime(2026, 12, 1, 14, tzinfo=UTC)
    # and a malformed value is one clear import error, not a schedule from nowhere
    monkeypatch.setenv("AIRFLOW__TRUSTPIPE__HOURLY_START", "yesterday")
    broken = DagBag(str(DAGS / f"{HOURLY}.py"))
    errors = "\n".join(broken.import_errors.values())
    assert "[trustpipe] hourly_start must be an ISO date-time, not 'yesterday'" in errors
    # and without it, the default start
    monkeypatch.delenv("AIRFLOW__TRUSTPIPE__HOURLY_START")
    assert DagBag(str(DAGS / f"{HOURLY}.py")).dags[HOURLY].start_date == HOURLY_START
