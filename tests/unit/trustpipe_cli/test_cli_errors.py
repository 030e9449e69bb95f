"""The CLI's edges: one line and the right exit code for each kind of mistake, read as a user
would see them (a separate process, nothing of the local stack running)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.harness.cli import run_cli
from tests.harness.paths import ROOT
from trustpipe_stack.procs import free_port

FIXTURE = ROOT / "tests/unit/fixtures/settings.json"


def settings_file(tmp_path: Path, **changes: object) -> Path:
    data = {**json.loads(FIXTURE.read_text()), **changes}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("trustpipe 0.")


def test_a_settings_path_that_does_not_exist_says_so(tmp_path: Path) -> None:
    result = run_cli("landing", "inspect", "--settings", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert f"settings file {tmp_path / 'nope.json'} does not exist" in line
    assert "local up" not in line


def test_an_unreachable_aws_endpoint_is_one_line_naming_it(tmp_path: Path) -> None:
    # GIVEN settings pointing at a port nothing listens on
    endpoint = f"http://127.0.0.1:{free_port()}"
    path = settings_file(tmp_path, aws_endpoint=endpoint)
    # WHEN a command needs AWS
    result = run_cli("landing", "inspect", "--hour", "2026-11-26T13", "--settings", str(path), timeout=300)
    # THEN it fails as a run (exit 1) with one line naming the endpoint, no botocore frames
    assert result.returncode == 1
    assert f"cannot reach the AWS endpoint {endpoint}" in one_line(result.stderr)


def test_db_upgrade_reads_database_url_in_sqlalchemys_psycopg2_form(tmp_path: Path) -> None:
    # GIVEN settings without a database and DATABASE_URL as Airflow writes connections
    path = settings_file(tmp_path, database_url=None)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env_url = f"postgresql+psycopg2://nobody@127.0.0.1:{port}/trustpipe"
    # WHEN db upgrade runs
    result = run_cli("db", "upgrade", "--settings", str(path), env={**os.environ, "DATABASE_URL": env_url})
    # THEN it used that URL (the scheme accepted) and says the database cannot be reached
    assert result.returncode == 1
    assert f"cannot reach the database at 127.0.0.1:{port}" in one_line(result.stderr)


def test_db_upgrade_without_any_database_names_the_variable(tmp_path: Path) -> None:
    path = settings_file(tmp_path, database_url=None)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = run_cli("db", "upgrade", "--settings", str(path), env=env)
    assert result.returncode == 2
    assert "set DATABASE_URL" in one_line(result.stderr)


def test_a_database_url_of_another_kind_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = settings_file(tmp_path, database_url="mysql://root:hunter2@db/x")
    result = run_cli("db", "upgrade", "--settings", str(path))
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "database URL must start with one of postgresql://" in line and "hunter2" not in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["registry", "serve", "--store", "redis"], "--store must be one of memory, dynamodb, auto"),
        (["score-hour", "--hour", "26-11-2026"], "is not of the form YYYY-MM-DDTHH"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert message in one_line(result.stderr)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--duration", "10"], "--duration"),
        (["--seed", "many"], "--seed"),
        (["--batch-hours", "0"], "--batch-hours"),
    ],
)
def test_chaos_refuses_bad_sizes_before_touching_the_stack(
    tmp_path: Path, args: list[str], option: str
) -> None:
    result = run_cli("chaos", *args, "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert not (tmp_path / "chaos").exists()
