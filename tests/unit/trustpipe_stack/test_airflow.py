"""`trustpipe airflow` and `trustpipe backfill`: the parts that need no running Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.harness.orchestration import SETTINGS
from trustpipe import layout
from trustpipe.settings import Settings
from trustpipe_orchestration.config import PipelineConfig
from trustpipe_orchestration.hour import MAX_HOURS, BackfillRangeError, hours_between
from trustpipe_stack.airflow import airflow_env, postgres_connection, stop_tree


def test_airflow_env_carries_connections_and_variables(tmp_path: Path) -> None:
    settings = Settings.from_dict(
        {
            **SETTINGS,
            "aws_endpoint": "http://127.0.0.1:5555",
            "database_url": "postgresql://pg@127.0.0.1:6543/tp",
        }
    )
    env = airflow_env(settings, tmp_path / "home", tmp_path / "dags")
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert aws["extra"] == {"region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:5555"}
    db = json.loads(env["AIRFLOW_CONN_TRUSTPIPE_DB"])
    assert (db["conn_type"], db["host"], db["port"], db["login"], db["schema"]) == (
        "postgres",
        "127.0.0.1",
        6543,
        "pg",
        "tp",
    )
    # the Variables round-trip into the config the tasks build
    config = PipelineConfig.from_dicts(
        json.loads(env["AIRFLOW_VAR_TRUSTPIPE_SETTINGS"]), json.loads(env["AIRFLOW_VAR_TRUSTPIPE_PIPELINE"])
    )
    assert config.settings == settings and config.mode == "local"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert "AIRFLOW__TRUSTPIPE__HOURLY_START" not in env  # no landed hour given: the DAG's own start


def test_airflow_env_starts_the_hourly_dag_at_the_first_landed_hour(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    first = datetime(2026, 12, 1, 14, tzinfo=UTC)
    env = airflow_env(Settings.from_dict(SETTINGS), tmp_path, tmp_path, hourly_start=first)
    assert env["AIRFLOW__TRUSTPIPE__HOURLY_START"] == "2026-12-01T14:00:00+00:00"


def test_aws_connection_on_real_aws_uses_the_default_credential_chain(tmp_path: Path) -> None:
    env = airflow_env(Settings.from_dict(SETTINGS), tmp_path, tmp_path)
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"]) == {
        "conn_type": "aws",
        "extra": {"region_name": "us-east-1"},
    }
    assert "AIRFLOW_CONN_TRUSTPIPE_DB" not in env


def test_postgres_connection_keeps_the_password() -> None:
    assert postgres_connection("postgresql://u:s3cret@db.internal:5432/trustpipe")["password"] == "s3cret"


def test_stop_tree_stops_children_and_grandchildren_by_pid() -> None:
    # GIVEN a parent that starts a child that starts a grandchild (like standalone's components)
    script = "sleep 60 & bash -c 'sleep 60 & wait' & wait"
    parent = subprocess.Popen(["bash", "-c", script], start_new_session=True)
    deadline = time.monotonic() + 20
    while len(psutil.Process(parent.pid).children(recursive=True)) < 3:
        assert time.monotonic() < deadline, "the tree did not start"
        time.sleep(0.05)
    tree = [parent.pid, *(p.pid for p in psutil.Process(parent.pid).children(recursive=True))]
    # WHEN it is stopped
    stopped = stop_tree(parent.pid, timeout=5)
    parent.wait(timeout=5)
    # THEN every process of the tree is gone
    assert stopped == 4
    assert not [
        pid for pid in tree[1:] if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ]


def test_backfill_hours_are_inclusive_and_bounded() -> None:
    first = layout.parse_hour("2026-11-20T22")
    assert [layout.format_hour(h) for h in hours_between(first, layout.parse_hour("2026-11-21T01"))] == [
        "2026-11-20T22",
        "2026-11-20T23",
        "2026-11-21T00",
        "2026-11-21T01",
    ]
    with pytest.raises(BackfillRangeError, match="is before --from"):
        hours_between(first, layout.parse_hour("2026-11-20T21"))
    with pytest.raises(BackfillRangeError, match=f"at most {MAX_HOURS}"):
        hours_between(layout.parse_hour("2025-01-01T00"), first)


def test_airflow_commands_do_not_warn_about_graphviz_but_still_report(tmp_path: Path) -> None:
    # a real `airflow dags list` on a home with no database: graphviz's warning gone, the error kept
    env = {**os.environ, **airflow_env(Settings.from_dict(SETTINGS), tmp_path / "home", tmp_path / "dags")}
    airflow = Path(sys.executable).parent / "airflow"
    done = subprocess.run(
        [str(airflow), "dags", "list"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert "graphviz" not in output
    assert "airflow db migrate" in output
