"""`trustpipe airflow` (`make airflow`): Airflow standalone on the local stack, up and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from typing import Any

import psutil

from tests.harness.cli import CLI
from tests.harness.paths import ROOT
from trustpipe_stack.procs import free_port
from trustpipe_stack.stack import LocalStack


def _api(port: int, path: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body else None,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback URL built here)
        return json.loads(response.read())


def test_airflow_serves_the_dags_and_ctrl_c_stops_every_process(local_stack: LocalStack) -> None:
    # GIVEN `trustpipe airflow` started on the test stack
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "airflow", "--port", str(port), "--no-backfill", "--state-dir", str(local_stack.state_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        start_new_session=True,
    )
    tree: list[psutil.Process] = []
    try:
        lines = []
        deadline = time.monotonic() + 300
        while not any(line.startswith("Ctrl-C stops") for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline() if proc.stdout else "")
        # THEN it printed the URL and the login, and the login opens the API
        (login,) = [line for line in lines if line.startswith("Airflow: http://127.0.0.1:")]
        password = login.rsplit(" / ", 1)[1].strip()
        token = _api(port, "/auth/token", body={"username": "admin", "password": password})["access_token"]
        # and the scheduler's DAG processor has both DAGs, with no import errors
        deadline = time.monotonic() + 120
        while True:
            dags = {d["dag_id"] for d in _api(port, "/api/v2/dags", token)["dags"]}
            if dags or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert dags == {"message_scoring_hourly", "model_build_nightly"}
        assert _api(port, "/api/v2/importErrors", token)["total_entries"] == 0
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        assert len(tree) > 5  # the command, the importer, standalone and its components
        # and --no-backfill asked the scheduler for no backfill
        assert not [line for line in lines if "backfill" in line or "landed hours" in line], lines
    finally:
        # WHEN Ctrl-C reaches the command
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=120)[0]
    # THEN it stopped everything it started, and said so
    assert proc.returncode == 0, rest
    assert "stopped" in rest
    alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
