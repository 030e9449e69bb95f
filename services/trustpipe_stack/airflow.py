"""`trustpipe airflow` (`make airflow`): Airflow standalone against the local stack.

Connections and Variables come from the stack's settings (Terraform's outputs) as environment
variables, so nothing is written into Airflow's database by hand and a restart picks up a
re-applied stack. Everything started here is stopped here, by pid: standalone's children first
(the scheduler, API server, triggerer and DAG processor outlive it when only its pid is killed).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from trustpipe.aws import LOCAL_CREDENTIALS
from trustpipe.settings import Settings
from trustpipe_orchestration.config import (
    AWS_CONN_ID,
    DB_CONN_ID,
    HOURLY_DAG,
    HOURLY_START,
    PIPELINE_VARIABLE,
    SETTINGS_VARIABLE,
    START_OPTION,
)
from trustpipe_stack.launcher import Launcher
from trustpipe_stack.procs import free_port, shipped_command, stop_pid, wait_for_port

Say = Callable[[str], None]
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
ADMIN = "admin"


QUIET_WARNINGS = "ignore:Could not import graphviz:UserWarning"
"""Every `airflow dags ...` call warns that graphviz (for `dags show` pictures, unused here) is
missing; the other warnings stay."""


def airflow_env(
    settings: Settings,
    home: Path,
    dags: Path,
    pipeline: dict[str, Any] | None = None,
    hourly_start: datetime | None = None,
) -> dict[str, str]:
    """Airflow's configuration for a deployment: home, DAGs, connections and Variables, and the
    hourly DAG's start when given (the first landed hour: catchup starts there)."""
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}": json.dumps(aws_connection(settings)),
        f"AIRFLOW_VAR_{SETTINGS_VARIABLE.upper()}": json.dumps(asdict(settings)),
        f"AIRFLOW_VAR_{PIPELINE_VARIABLE.upper()}": json.dumps(pipeline or {"mode": "local"}),
        "PYTHONWARNINGS": ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), QUIET_WARNINGS))),
    }
    if hourly_start is not None:
        env["AIRFLOW__{}__{}".format(*(part.upper() for part in START_OPTION))] = hourly_start.isoformat()
    if settings.database_url:
        env[f"AIRFLOW_CONN_{DB_CONN_ID.upper()}"] = json.dumps(postgres_connection(settings.database_url))
    return env


def aws_connection(settings: Settings) -> dict[str, Any]:
    extra: dict[str, Any] = {"region_name": settings.region}
    conn: dict[str, Any] = {"conn_type": "aws", "extra": extra}
    if settings.aws_endpoint:
        # The moto server: any credentials, its own endpoint for every service.
        extra["endpoint_url"] = settings.aws_endpoint
        conn.update(
            login=LOCAL_CREDENTIALS["aws_access_key_id"], password=LOCAL_CREDENTIALS["aws_secret_access_key"]
        )
    return conn


def postgres_connection(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "login": parts.username,
        "password": parts.password,
        "schema": parts.path.lstrip("/"),
    }


def run_airflow(
    settings: Settings,
    settings_path: Path,
    root: Path,
    home: Path,
    port: int,
    say: Say,
    backfill: bool = True,
) -> None:
    """Start the importer (as its unit would: the launcher) and Airflow standalone; block until
    Ctrl-C; stop both by pid."""
    home.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    hours = landed_hours(settings)
    env = {
        **os.environ,
        # standalone starts its components as `airflow ...` from PATH
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **airflow_env(settings, home, root / "dags", hourly_start=hours[0] if hours else None),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # the scheduler's and triggerer's log servers (8793/8794 by default) must not take the UI's port
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    }
    log = (home / "standalone.log").open("ab")
    say("migrating Airflow's database (SQLite)...")
    subprocess.run([bin_dir / "airflow", "db", "migrate"], env=env, check=True, stdout=log, stderr=log)
    importer = Launcher(home, env=env)
    importer.start("importer", shipped_command("importer", "run", "--settings", str(settings_path)))
    standalone = subprocess.Popen(
        [bin_dir / "airflow", "standalone"], env=env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=180, pid=standalone.pid)
        say(f"Airflow: http://127.0.0.1:{port}  login {ADMIN} / {admin_password(home)}")
        if backfill:
            backfill_landed(settings, env, bin_dir, say)
        pids = f"importer pid {importer.procs['importer'].pid}, standalone pid {standalone.pid}"
        say(f"logs: {home / 'standalone.log'}, {home / 'importer.out'}; {pids}")
        say("Ctrl-C stops Airflow and the importer")
        while standalone.poll() is None and not importer.exited():
            time.sleep(1)
        say("a process exited on its own: stopping the rest (see the log)")
    except KeyboardInterrupt:
        say("stopping...")
    finally:
        stopped = stop_tree(standalone.pid) + len(importer.stop(timeout=30))
        log.close()
        say(f"stopped {stopped} processes")


def backfill_landed(settings: Settings, env: dict[str, str], bin_dir: Path, say: Say) -> None:
    """Ask Airflow's scheduler to backfill every hour with landed data (two runs at a time) and
    unpause the DAG, so the UI shows real runs: grid, graph, Gantt, task durations."""
    from trustpipe import layout

    hours = landed_hours(settings)
    if not hours:
        say("no landed hours yet: run `make demo` (or `trustpipe sensors run`), then trigger the DAG")
        return
    command = [
        str(bin_dir / "airflow"),
        "backfill",
        "create",
        "--dag-id",
        HOURLY_DAG,
        "--from-date",
        hours[0].isoformat(),
        "--to-date",
        hours[-1].isoformat(),
        "--reprocess-behavior",
        "failed",
        "--max-active-runs",
        "2",  # each local run starts Spark: two at a time, like the DAG's own max_active_runs
    ]
    deadline = time.monotonic() + 120
    while True:  # the DAG processor needs a moment to parse the DAG into the database
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0 or "AlreadyRunningBackfill" in done.stderr or time.monotonic() > deadline:
            break
        time.sleep(5)
    # Queued runs start only on an unpaused DAG; catchup then also schedules the hours from the
    # first landed one (the DAG's start here) that have no data (they pass quickly).
    subprocess.run(
        [str(bin_dir / "airflow"), "dags", "unpause", HOURLY_DAG], env=env, capture_output=True, check=False
    )
    span = f"{layout.format_hour(hours[0])} to {layout.format_hour(hours[-1])}"
    if done.returncode == 0:
        say(f"backfill of {len(hours)} landed hours ({span}) queued: watch {HOURLY_DAG} in the UI")
    elif "AlreadyRunningBackfill" in done.stderr:
        say(f"a backfill of {HOURLY_DAG} is already running (landed hours: {span})")
    else:
        say(f"could not create the backfill: {done.stderr.strip().splitlines()[-1:]}")


def landed_hours(settings: Settings) -> list[datetime]:
    """The hours with landed data, oldest first (none before the DAG's default start)."""
    from trustpipe import landing
    from trustpipe.aws import AwsClients

    landed = landing.landed_hours(AwsClients(settings).s3, settings.landing_bucket)
    return [h for h in landed if h >= HOURLY_START]


def admin_password(home: Path) -> str:
    try:
        return str(json.loads((home / PASSWORDS_FILE).read_text())[ADMIN])
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return f"(see {home / PASSWORDS_FILE})"


def stop_tree(pid: int, timeout: float = 30.0) -> int:
    """Stop ``pid`` and every descendant, children first; how many processes were stopped.

    The parent is frozen first so that it cannot restart a component it sees exit; each level
    then gets SIGTERM (components stop their own workers), and what is left is killed."""
    import psutil

    try:
        parent = psutil.Process(pid)
        parent.suspend()
    except psutil.NoSuchProcess:
        return 0
    descendants = parent.children(recursive=True)
    for level in (parent.children(), descendants):
        for proc in level:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _wait_gone(level, timeout)
    for proc in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    with contextlib.suppress(psutil.NoSuchProcess):
        parent.terminate()
        parent.resume()
    stop_pid(pid, timeout=timeout)
    return len(descendants) + 1


def _wait_gone(procs: list[Any], timeout: float) -> None:
    """Until each process exited or is a zombie (its parent is frozen and cannot reap it yet)."""
    import psutil

    def gone(proc: Any) -> bool:
        try:
            return bool(proc.status() == psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + timeout
    while not all(gone(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
